"""Typed placeholders for redacted values, and putting the values back.

One call's :class:`Redactions` numbers each kind on its own (``[EMAIL_1]``, ``[EMAIL_2]``,
``[PHONE_1]``); the same value gets the same placeholder wherever it appears, so a model that
reasons about "[EMAIL_1]" reasons about one address. Values whose policy restores them are put
back into the answer the caller receives (the provider only ever saw the placeholder). Values
found in an answer (output checks) get an unnumbered ``[EMAIL_REDACTED]``, which nothing restores.
"""

from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"\[([A-Z_]{2,16})_(\d{1,6})\]")
# The longest placeholder: a stream holds back a trailing "[..." of up to this many characters,
# which may be the start of one.
PLACEHOLDER_MAX = 25


def label(rule: str) -> str:
    """``pii.credit_card`` → ``CREDIT_CARD``."""
    return rule.rpartition(".")[2].upper()


def output_placeholder(rule: str) -> str:
    return f"[{label(rule)}_REDACTED]"


class Redactions:
    __slots__ = ("_by_value", "_counts", "_restorable")

    def __init__(self) -> None:
        self._by_value: dict[tuple[str, str], str] = {}  # (label, value) -> placeholder
        self._counts: dict[str, int] = {}
        self._restorable: dict[str, str] = {}  # placeholder -> value

    def placeholder(self, rule: str, value: str, *, restore: bool) -> str:
        kind = label(rule)
        key = (kind, value)
        placeholder = self._by_value.get(key)
        if placeholder is None:
            number = self._counts.get(kind, 0) + 1
            self._counts[kind] = number
            placeholder = self._by_value[key] = f"[{kind}_{number}]"
        if restore:
            self._restorable[placeholder] = value
        return placeholder

    @property
    def restores(self) -> bool:
        return bool(self._restorable)

    def restore(self, text: str) -> str:
        """``text`` with every restorable placeholder replaced by its value."""
        if "[" not in text:
            return text
        return PLACEHOLDER.sub(lambda m: self._restorable.get(m.group(), m.group()), text)


class Restorer:
    """Restores placeholders in a stream's text: a trailing ``[`` that may begin a placeholder
    is held back until the next piece (or the end) shows what it is."""

    __slots__ = ("_redactions",)
    window = PLACEHOLDER_MAX

    def __init__(self, redactions: Redactions) -> None:
        self._redactions = redactions

    def step(self, text: str, context: str, final: bool) -> tuple[int, str]:
        release = len(text)
        if not final:
            opening = text.rfind("[", max(0, len(text) - PLACEHOLDER_MAX))
            if opening >= 0 and "]" not in text[opening:]:
                release = opening
        return release, self._redactions.restore(text[:release])
