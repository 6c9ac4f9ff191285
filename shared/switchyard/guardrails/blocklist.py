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
    __slots__ = ("_patterns", "_terms", "window")

    def __init__(self, config: BlocklistConfig) -> None:
        flags = 0 if config.case_sensitive else re.IGNORECASE
        words = sorted({w.strip() for w in config.words}, key=len, reverse=True)
        phrases = sorted({" ".join(p.split()) for p in config.phrases}, key=len, reverse=True)
        alternatives = [f"(?P<w{i}>{re.escape(w)})" for i, w in enumerate(words)]
        alternatives += [
            f"(?P<p{i}>{_GAP.join(re.escape(part) for part in p.split(' '))})" for i, p in enumerate(phrases)
        ]
        self._terms = (
            re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)", flags) if alternatives else None
        )
        self._patterns = tuple(re.compile(p, flags) for p in config.patterns)
        longest_term = max(
            [len(w) for w in words] + [len(p) + p.count(" ") * (_GAP_MAX - 1) for p in phrases], default=0
        )
        self.window = max(longest_term, config.max_pattern_chars if self._patterns else 0)

    def find(self, text: str) -> list[Match]:
        found: list[Match] = []
        if self._terms is not None:
            for m in self._terms.finditer(text):
                kind = "word" if (m.lastgroup or "w").startswith("w") else "phrase"
                found.append(Match(f"blocklist.{kind}", m.start(), m.end()))
        for index, pattern in enumerate(self._patterns):
            found.extend(
                Match(f"blocklist.pattern.{index}", m.start(), m.end())
                for m in pattern.finditer(text)
                if m.end() > m.start()
            )
        return found
