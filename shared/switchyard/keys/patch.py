"""Updates of keys and tenants are merge patches (the rules of RFC 7396, JSON Merge Patch).

A field left out stays as it is; a field given replaces it; ``null`` resets it to its default. The
mappings (limits, budgets, metadata) merge entry by entry: ``{"limits": {"tpm": 20000}}`` changes
``tpm`` and keeps ``rpm``, ``{"limits": {"rpm": null}}`` removes ``rpm`` alone, and
``{"limits": null}`` removes every limit. Lists (a key's models) are replaced whole.
"""

from __future__ import annotations

from collections.abc import Mapping


def merge_entries[K, V](current: Mapping[K, V], patch: Mapping[K, V | None]) -> dict[K, V]:
    """``current`` with ``patch`` merged in, entry by entry; an entry patched to None is removed."""
    merged = dict(current)
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged
