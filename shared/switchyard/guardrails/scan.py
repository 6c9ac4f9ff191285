"""Rules over text as a stream (or a whole answer) passes: what each match does, and how much
text must be held back so that no match goes out before it is judged.

A :class:`Scan` combines the output rules of every policy of a call. For the pending text it
finds every match, then releases text up to

- everything, once the text is complete, else
- all but the longest window a rule needs (text that is not a match yet but may become one),
- and never into a match that touches the end of the text (it may still grow) or that would be
  cut by the release point.

Matches wholly released are acted on: ``block`` raises ContentBlockedError (the stream ends with
an error event), ``redact`` replaces the text with ``[KIND_REDACTED]``, ``log`` counts it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from switchyard.config.guardrails import PiiAction
from switchyard.errors import ContentBlockedError
from switchyard.guardrails.pii import Match
from switchyard.guardrails.redact import output_placeholder
from switchyard.guardrails.tally import BLOCKED, LOGGED, REDACTED, Tally


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy's detector, and what each of its rules does."""

    policy: str
    find: Callable[[str], list[Match]]
    action: Callable[[str], PiiAction]  # a match's rule name -> redact | block | log
    window: int


def block(rule: str) -> PiiAction:
    return "block"


class Scan:
    __slots__ = ("_rules", "_tally", "window")

    def __init__(self, rules: Sequence[Rule], tally: Tally) -> None:
        self._rules = tuple(rules)
        self._tally = tally
        self.window = max((r.window for r in self._rules), default=0)

    def text(self, text: str) -> str:
        """A complete text, judged and rewritten."""
        return self.step(text, "", True)[1]

    def step(self, text: str, context: str, final: bool) -> tuple[int, str]:
        if not final and len(text) <= self.window:
            return 0, ""  # all of it may still be the start of a match: nothing can go yet
        full, offset = context + text, len(context)
        found = [(rule, m) for rule in self._rules for m in rule.find(full) if m.start >= offset]
        end = len(full) if final else max(offset, len(full) - self.window)
        if not final:
            end = min([end, *(m.start for _, m in found if m.end == len(full))])
        end = _uncut(end, [m for _, m in found])
        acted = sorted(((r, m) for r, m in found if m.end <= end), key=lambda rm: rm[1].start)
        return end - offset, self._apply(full, offset, end, acted)

    def _apply(self, full: str, offset: int, end: int, acted: list[tuple[Rule, Match]]) -> str:
        for rule, m in acted:
            if rule.action(m.rule) == "block":
                self._tally.add(rule.policy, BLOCKED, m.rule)
                raise ContentBlockedError(rule.policy, m.rule, "output")
        pieces: list[str] = []
        cursor = offset
        for rule, m in acted:
            action = rule.action(m.rule)
            if action == "log":
                self._tally.add(rule.policy, LOGGED, m.rule)
                continue
            if m.start < cursor:
                continue  # inside text an earlier match already replaced
            pieces += [full[cursor : m.start], output_placeholder(m.rule)]
            cursor = m.end
            self._tally.add(rule.policy, REDACTED, m.rule)
        pieces.append(full[cursor:end])
        return "".join(pieces)


def _uncut(end: int, matches: list[Match]) -> int:
    """The release point moved back until no match straddles it."""
    moved = True
    while moved:
        moved = False
        for m in matches:
            if m.start < end < m.end:
                end, moved = m.start, True
    return end
