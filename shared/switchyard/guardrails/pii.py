"""Personal data and secrets in text: emails, phone numbers, credit-card numbers (Luhn-checked),
IBANs (ISO 13616 checksum), US social security numbers, IP addresses, and strings that look like
API keys or private keys.

Each kind is a regular expression that finds candidates and, where a number can be checked, a
validator that drops the ones that fail (a 16-digit order number is not a card unless its Luhn
digit says so). Where kinds overlap, the more specific wins (a card number is not also a phone
number). :attr:`PiiDetector.window` is how much text a stream must hold back so that a match
never goes out in two pieces: the longest text that is not yet a match but may become one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from switchyard.config.guardrails import PiiEntity


@dataclass(frozen=True, slots=True)
class Match:
    rule: str  # "pii.email", "blocklist.word", ...
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def iban_valid(compact: str) -> bool:
    """ISO 13616: the first four characters moved to the end, letters as 10..35, mod 97 is 1."""
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def _card(text: str) -> bool:
    digits = _digits(text)
    return 13 <= len(digits) <= 19 and luhn_valid(digits)


def _iban(text: str) -> bool:
    return iban_valid(text.replace(" ", ""))


def _ssn(text: str) -> bool:
    area, group, serial = text[:3], text[4:6], text[7:]
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


_SSN_SHAPE = re.compile(r"\d{3}([\- ])\d{2}\1\d{4}")


def _phone(text: str) -> bool:
    digits = _digits(text)
    if not 9 <= len(digits) <= 15 or _SSN_SHAPE.fullmatch(text):
        return False  # an SSN-shaped number the SSN rules refused is not a phone number either
    # A bare run of digits is a phone number only with a country code or at NANP length.
    return text.startswith("+") or not text.isdigit() or len(digits) == 10


def _ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class _Kind:
    entity: PiiEntity
    pattern: re.Pattern[str]
    valid: Callable[[str], bool] | None
    hint: Callable[[str], bool]  # a cheap test that the text may hold one at all
    window: int


def _always(text: str) -> bool:
    return True


_SECRET = (
    r"sk-(?:proj-|ant-(?:api\d\d-)?|sy-)?[A-Za-z0-9_\-]{20,}"  # noqa: S105 (a pattern, not a secret)
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|AIza[0-9A-Za-z_\-]{35}"
    r"|glpat-[A-Za-z0-9_\-]{20,}"
    r"|(?:xai|pplx)-[A-Za-z0-9]{20,}|gsk_[A-Za-z0-9]{20,}"
    r"|eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"
    r"|-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----(?:[\s\S]{0,8192}?-----END [A-Z ]{0,20}PRIVATE KEY-----)?"
)

# In order of precedence: where two kinds match overlapping text, the earlier one wins.
_KINDS: tuple[_Kind, ...] = (
    _Kind("secret", re.compile(rf"(?<![A-Za-z0-9_\-])(?:{_SECRET})"), None, _always, 256),
    _Kind(
        "email",
        re.compile(
            r"(?<![\w.+\-])[A-Za-z0-9._%+\-]{1,64}@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}"
            r"\.[A-Za-z]{2,24}(?![\w\-])"
        ),
        None,
        lambda text: "@" in text,
        72,
    ),
    _Kind(
        "iban",
        re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])"),
        _iban,
        _always,
        48,
    ),
    _Kind("credit_card", re.compile(r"(?<![\d\-+])\d(?:[ \-]?\d){12,18}(?![\d\-])"), _card, _always, 24),
    _Kind(
        "ssn",
        re.compile(r"(?<![\d\-])\d{3}([\- ])\d{2}\1\d{4}(?![\d\-])"),
        _ssn,
        lambda text: "-" in text or " " in text,
        12,
    ),
    _Kind(
        "ip_address",
        re.compile(
            r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\d)"
            r"|(?<![\w:])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f]*:)[0-9A-Fa-f:]{2,39}(?![\w:])"
        ),
        _ip,
        lambda text: "." in text or ":" in text,
        40,
    ),
    _Kind(
        "phone",
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{2,4}(?:[ .\-]?\d{2,4}){1,4}(?!\w)"
        ),
        _phone,
        _always,
        24,
    ),
)


class PiiDetector:
    """Finds the configured kinds in text; matches do not overlap and come sorted by start."""

    __slots__ = ("_kinds", "window")

    def __init__(self, entities: Iterable[PiiEntity]) -> None:
        wanted = set(entities)
        self._kinds = tuple(k for k in _KINDS if k.entity in wanted)
        self.window = max((k.window for k in self._kinds), default=0)

    def find(self, text: str) -> list[Match]:
        found: list[Match] = []
        for kind in self._kinds:
            if not kind.hint(text):
                continue
            rule = "pii." + kind.entity
            for m in kind.pattern.finditer(text):
                start, end = m.span()
                if kind.valid is not None and not kind.valid(m.group()):
                    continue
                if any(start < f.end and f.start < end for f in found):
                    continue  # a kind of higher precedence has this text
                found.append(Match(rule, start, end))
        found.sort(key=lambda f: f.start)
        return found
