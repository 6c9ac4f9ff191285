"""Blocklists: whole words, phrases with any whitespace, regular expressions named by index."""

from __future__ import annotations

from switchyard.config.guardrails import BlocklistConfig
from switchyard.guardrails.blocklist import Blocklist


def rules(blocklist: Blocklist, text: str) -> list[tuple[str, str]]:
    return [(m.rule, text[m.start : m.end]) for m in blocklist.find(text)]


def test_words_match_whole_words_in_any_case() -> None:
    blocklist = Blocklist(BlocklistConfig(words=("ass", "C++")))
    assert rules(blocklist, "a classic ASS joke") == [("blocklist.word", "ASS")]
    assert rules(blocklist, "I write c++ daily") == [("blocklist.word", "c++")]
    assert rules(blocklist, "assistant, class, passage") == []


def test_case_sensitive_words() -> None:
    blocklist = Blocklist(BlocklistConfig(words=("Acme",), case_sensitive=True))
    assert rules(blocklist, "acme and Acme") == [("blocklist.word", "Acme")]


def test_phrases_allow_any_whitespace_between_their_words() -> None:
    blocklist = Blocklist(BlocklistConfig(phrases=("internal  project   name",)))
    assert rules(blocklist, "the Internal\nproject \t name is") == [
        ("blocklist.phrase", "Internal\nproject \t name")
    ]
    assert rules(blocklist, "internal projects named") == []


def test_patterns_are_named_by_their_index_and_follow_the_case_setting() -> None:
    blocklist = Blocklist(BlocklistConfig(patterns=(r"ticket-\d+", r"confidential")))
    assert rules(blocklist, "see TICKET-1 and ticket-42, CONFIDENTIAL") == [
        ("blocklist.pattern.0", "TICKET-1"),
        ("blocklist.pattern.0", "ticket-42"),
        ("blocklist.pattern.1", "CONFIDENTIAL"),
    ]
    exact = Blocklist(BlocklistConfig(patterns=(r"ticket-\d+",), case_sensitive=True))
    assert rules(exact, "TICKET-1 ticket-2") == [("blocklist.pattern.0", "ticket-2")]


def test_the_window_is_the_longest_term_or_the_pattern_bound() -> None:
    assert Blocklist(BlocklistConfig(words=("a", "abcdef"))).window == 6
    assert Blocklist(BlocklistConfig(phrases=("ab cd",))).window == 5 + 7
    assert Blocklist(BlocklistConfig(patterns=("x",), max_pattern_chars=40)).window == 40
