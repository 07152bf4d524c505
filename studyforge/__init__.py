"""studyforge: run a 16-week RL & LLM study plan for real."""

__version__ = "0.1.0"
