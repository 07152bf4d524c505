"""Drafting: context and facts, prompts, LLM clients, grounding checks, and the draft files themselves."""
