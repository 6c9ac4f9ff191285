"""Public ids for client keys: derived from the key's sha256, so logs, limits and usage can name a
key without ever holding it."""

from __future__ import annotations

import hashlib


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_id(key: str) -> str:
    """``k_`` and the first 24 hex digits (96 bits) of the key's sha256."""
    return "k_" + key_hash(key)[:24]
