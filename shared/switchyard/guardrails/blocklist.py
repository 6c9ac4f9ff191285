"""Blocklists: words (whole words only), phrases (their words with any whitespace between) and
regular expressions, compiled once per policy.

Words and phrases go into one alternation (longest first), so a text is scanned once for all of
them; each configured pattern is its own expression, so a match can say which one it was
(``blocklist.pattern.2``) without quoting it.
"""

from __future__ import annotations

import re

from switchyard.config.guardrails import BlocklistConfig
from switchyard.guardrails.pii import Match

_GAP = r"\s{1,8}"  # between a phrase's words: bounded, so a stream's window can cover it
_GAP_MAX = 8


class Blocklist:
    __slots__ = ("_fold", "_patterns", "_terms", "_words", "window")

    def __init__(self, config: BlocklistConfig) -> None:
        self._fold = not config.case_sensitive
        flags = re.IGNORECASE if self._fold else 0
        words = sorted({w.strip() for w in config.words}, key=len, reverse=True)
        phrases = sorted({" ".join(p.split()) for p in config.phrases}, key=len, reverse=True)
        if self._fold:  # matched against the text lower-cased (see find)
            words, phrases = [w.lower() for w in words], [p.lower() for p in phrases]
        self._words = frozenset(words)
        alternatives = [re.escape(w) for w in words]
        alternatives += [_GAP.join(re.escape(part) for part in p.split(" ")) for p in phrases]
        # No lookarounds and no groups: the engine can then skip to a possible first character in
        # C; whole-word edges are checked after (a lookbehind or a capturing group per term makes
        # the scan several times to thirty times slower).
        self._terms = re.compile("|".join(alternatives)) if alternatives else None
        self._patterns = tuple(re.compile(p, flags) for p in config.patterns)
        longest_term = max(
            [len(w) for w in words] + [len(p) + p.count(" ") * (_GAP_MAX - 1) for p in phrases], default=0
        )
        self.window = max(longest_term, config.max_pattern_chars if self._patterns else 0)

    def find(self, text: str) -> list[Match]:
        found: list[Match] = []
        if self._terms is not None:
            found += self._find_terms(text)
        for index, pattern in enumerate(self._patterns):
            found.extend(
                Match(f"blocklist.pattern.{index}", m.start(), m.end())
                for m in pattern.finditer(text)
                if m.end() > m.start()
            )
        return found

    def _find_terms(self, text: str) -> list[Match]:
        assert self._terms is not None
        # Lower-casing keeps offsets for all but a few characters (e.g. "İ"); then case folding is
        # left to the engine.
        subject = text.lower() if self._fold else text
        terms = self._terms
        if len(subject) != len(text):
            subject, terms = text, re.compile(self._terms.pattern, re.IGNORECASE)
        found: list[Match] = []
        for m in terms.finditer(subject):
            start, end = m.span()
            if (start and _word(text[start - 1])) or (end < len(text) and _word(text[end])):
                continue  # part of a longer word
            matched = m.group().lower() if self._fold else m.group()
            kind = "word" if matched in self._words else "phrase"
            found.append(Match(f"blocklist.{kind}", start, end))
        return found


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"
