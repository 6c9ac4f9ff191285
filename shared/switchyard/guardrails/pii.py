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
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
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


_NOT_DIGITS = re.compile(r"\D+")


def _digits(text: str) -> str:
    return _NOT_DIGITS.sub("", text)


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


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _digit(char: str) -> bool:
    return "0" <= char <= "9"


# Where a match may not be: the character before and after it (checked on the whole text, so
# that a region scanned on its own sees its neighbours).
type Edge = Callable[[str], bool]


def _never(char: str) -> bool:
    return False


def _token(char: str) -> bool:
    return _word(char) or char == "-"


def _card_edge(char: str) -> bool:
    return _digit(char) or char in "-+"


def _ssn_edge(char: str) -> bool:
    return _digit(char) or char == "-"


def _ip_before(char: str) -> bool:
    return _digit(char) or char == "."


def _phone_before(char: str) -> bool:
    return _word(char) or char == "+"


@dataclass(frozen=True, slots=True)
class _Kind:
    entity: PiiEntity
    pattern: re.Pattern[str]
    valid: Callable[[str], bool] | None
    window: int
    before: Edge = _never
    after: Edge = _never
    in_digits: bool = False  # looked for only inside runs of digits (found once for all such kinds)
    # Inside a run: the fewest digits it must hold, and a character it must hold (cheap tests
    # that spare most runs a scan per kind).
    min_digits: int = 0
    needs: str = ""


# Secrets by the literal each kind starts with: a pattern is run only over text that holds its
# literal, and starting with one lets the engine find candidates by fast substring search.
_SECRETS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (prefix, re.compile(pattern))
    for prefix, pattern in (
        ("sk-", r"sk-(?:proj-|ant-(?:api\d\d-)?|sy-)?[A-Za-z0-9_\-]{20,}"),
        ("sk_", r"sk_(?:live|test)_[A-Za-z0-9]{16,}"),
        ("rk_", r"rk_(?:live|test)_[A-Za-z0-9]{16,}"),
        ("AKIA", r"AKIA[0-9A-Z]{16}"),
        ("ASIA", r"ASIA[0-9A-Z]{16}"),
        ("gh", r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"),
        ("xox", r"xox[abprs]-[A-Za-z0-9\-]{10,}"),
        ("AIza", r"AIza[0-9A-Za-z_\-]{35}"),
        ("glpat-", r"glpat-[A-Za-z0-9_\-]{20,}"),
        ("xai-", r"xai-[A-Za-z0-9]{20,}"),
        ("pplx-", r"pplx-[A-Za-z0-9]{20,}"),
        ("gsk_", r"gsk_[A-Za-z0-9]{20,}"),
        ("eyJ", r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
        (
            "-----BEGIN",
            r"-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----"
            r"(?:[\s\S]{0,8192}?-----END [A-Z ]{0,20}PRIVATE KEY-----)?",
        ),
    )
)
_SECRET_WINDOW = 256

# Patterns start with a character class or a literal and carry no lookarounds: the regular
# expression engine then skips ahead to a possible first character in C, instead of trying every
# position (what makes a lookbehind-first pattern several times slower); edges are checked after.
# In order of precedence: where two kinds match overlapping text, the earlier one wins.
_KINDS: tuple[_Kind, ...] = (
    _Kind(
        "iban",
        re.compile(r"[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?"),
        _iban,
        48,
        before=_word,
        after=_word,
    ),
    _Kind(
        "credit_card",
        re.compile(r"\d(?:[ \-]?\d){12,18}"),
        _card,
        24,
        before=_card_edge,
        after=_ssn_edge,
        in_digits=True,
        min_digits=13,
    ),
    _Kind(
        "ssn",
        re.compile(r"\d{3}([\- ])\d{2}\1\d{4}"),
        _ssn,
        12,
        before=_ssn_edge,
        after=_ssn_edge,
        in_digits=True,
        min_digits=9,
    ),
    _Kind(
        "ip_address",
        re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"),
        _ip,
        40,
        before=_ip_before,
        after=_digit,
        in_digits=True,
        min_digits=4,
        needs=".",
    ),
    _Kind(
        "phone",
        re.compile(r"(?:\+\d{1,3}[ .\-]?)?(?:\(\d{1,4}\)[ .\-]?)?\d{2,4}(?:[ .\-]?\d{2,4}){1,4}"),
        _phone,
        24,
        before=_phone_before,
        after=_word,
        in_digits=True,
        min_digits=9,
    ),
)
_SECRET_KIND = _Kind("secret", _SECRETS[0][1], None, _SECRET_WINDOW, before=_token)

# Runs of digits and what separates them in numbers (at least 8 characters): the only places a
# card, SSN, IPv4 address or phone number can be, found in one pass for all four.
_DIGIT_RUNS = re.compile(r"[+(\d][\d ().+\-]{6,}\d")
_DOMAIN = re.compile(r"@[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}")
_LOCAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_HEX_COLON = frozenset("0123456789abcdefABCDEF:")


def _emails(text: str) -> Iterator[tuple[int, int]]:
    """Addresses, found from each "@": the domain forward, the local part back."""
    at = text.find("@")
    while at >= 0:
        domain = _DOMAIN.match(text, at)
        start = at
        while start > 0 and at - start < 64 and text[start - 1] in _LOCAL:
            start -= 1
        if domain is not None and start < at and (start == 0 or text[start - 1] not in _LOCAL):
            end = domain.end()
            if end == len(text) or not _token(text[end]):
                yield start, end
        at = text.find("@", at + 1)


def _ipv6(text: str) -> Iterator[tuple[int, int]]:
    """IPv6 addresses, found from each run of hex digits and colons with at least two colons."""
    colon = text.find(":")
    while colon >= 0:
        start, end = colon, colon
        while start > 0 and colon - start < 39 and text[start - 1] in _HEX_COLON:
            start -= 1
        while end < len(text) and end - start < 39 and text[end] in _HEX_COLON:
            end += 1
        candidate = text[start:end]
        before_ok = start == 0 or not (_word(text[start - 1]) or text[start - 1] == ":")
        after_ok = end == len(text) or not (_word(text[end]) or text[end] == ":")
        if candidate.count(":") >= 2 and before_ok and after_ok and _ip(candidate):
            yield start, end
        colon = text.find(":", end + 1)


class PiiDetector:
    """Finds the configured kinds in text; matches do not overlap and come sorted by start."""

    __slots__ = ("_digit_kinds", "_emails", "_ipv6", "_kinds", "_secrets", "window")

    def __init__(self, entities: Iterable[PiiEntity]) -> None:
        wanted = set(entities)
        kinds = [k for k in _KINDS if k.entity in wanted]
        self._secrets = "secret" in wanted
        self._kinds = tuple(k for k in kinds if not k.in_digits)
        self._digit_kinds = tuple(k for k in kinds if k.in_digits)
        self._emails = "email" in wanted
        self._ipv6 = "ip_address" in wanted
        windows = [k.window for k in kinds] + [72] * self._emails + [_SECRET_WINDOW] * self._secrets
        self.window = max(windows, default=0)

    def find(self, text: str) -> list[Match]:
        """In order of precedence: secrets, emails, IBANs, then the kinds inside digit runs."""
        found: list[Match] = []
        if self._secrets:
            for prefix, pattern in _SECRETS:
                if prefix in text:
                    _add(found, _SECRET_KIND, pattern.finditer(text), text)
        if self._emails and "@" in text:
            for start, end in _emails(text):
                _keep(found, "pii.email", start, end)
        for kind in self._kinds:
            _add(found, kind, kind.pattern.finditer(text), text)
        if self._digit_kinds:
            self._in_digit_runs(found, text)
        if self._ipv6 and ":" in text:
            for start, end in _ipv6(text):
                _keep(found, "pii.ip_address", start, end)
        return found

    def _in_digit_runs(self, found: list[Match], text: str) -> None:
        runs = [(m.start(), m.end(), len(_digits(m.group())), m.group()) for m in _DIGIT_RUNS.finditer(text)]
        for kind in self._digit_kinds:
            for start, end, digits, run in runs:
                if digits >= kind.min_digits and kind.needs in run:
                    _add(found, kind, kind.pattern.finditer(text, start, end), text)


def _add(found: list[Match], kind: _Kind, matches: Iterator[re.Match[str]], text: str) -> None:
    rule = "pii." + kind.entity
    for m in matches:
        start, end = m.span()
        if start > 0 and kind.before(text[start - 1]):
            continue
        if end < len(text) and kind.after(text[end]):
            continue
        if kind.entity == "ip_address" and text.startswith(".", end) and _digit(text[end + 1 : end + 2]):
            continue  # 1.2.3.4.5 is not an address
        if kind.valid is not None and not kind.valid(m.group()):
            continue
        _keep(found, rule, start, end)


def _keep(found: list[Match], rule: str, start: int, end: int) -> None:
    """Add the match unless a kind of higher precedence already has its text. ``found`` stays
    sorted by start and free of overlaps, so only the neighbours can overlap a new match."""
    index = bisect_left(found, start, key=_start)
    if index and found[index - 1].end > start:
        return
    if index < len(found) and found[index].start < end:
        return
    found.insert(index, Match(rule, start, end))


def _start(match: Match) -> int:
    return match.start
