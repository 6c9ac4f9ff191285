"""Test doubles that run as real servers on 127.0.0.1 (the fake upstream provider)."""

from fakes.constants import FAKE_KEY, FAKE_KEY_ENV, MASTER_KEY
from fakes.replies import DEFAULT_CONTENT, FAKE_DIMENSIONS, Reply, ToolCallSpec, fake_vector
from fakes.upstream import Call, FakeUpstream

__all__ = [
    "DEFAULT_CONTENT",
    "FAKE_DIMENSIONS",
    "FAKE_KEY",
    "FAKE_KEY_ENV",
    "MASTER_KEY",
    "Call",
    "FakeUpstream",
    "Reply",
    "ToolCallSpec",
    "fake_vector",
]
