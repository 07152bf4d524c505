"""Test doubles that ship with the package, so the tests and the benchmarks share them (never used by `forge`).

    FakeClient          fakeclient.py  an LLM client with queued replies that records what it was sent
    FakeAnthropicAPI    fakeapi.py     the Messages API in process (or on 127.0.0.1), for the real AnthropicClient
"""

from studyforge.testing.fakeapi import FakeAnthropicAPI
from studyforge.testing.fakeclient import FakeClient

__all__ = ["FakeAnthropicAPI", "FakeClient"]
