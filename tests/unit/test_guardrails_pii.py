"""PII detection: each kind found where it is, validated numbers only (Luhn, IBAN checksum,
SSN rules, real IP addresses), no kind claiming another's text, and the stream window."""

from __future__ import annotations

import pytest

from switchyard.guardrails.pii import PiiDetector, iban_valid, luhn_valid

JWT = "eyJhbGciOiJI.eyJzdWIiOiIx.c2lnbmF0dXJl"
ALL = ("email", "phone", "credit_card", "iban", "ssn", "ip_address", "secret")


def found(text: str, *entities: str) -> list[tuple[str, str]]:
    detector = PiiDetector(entities or ALL)
    return [(m.rule.removeprefix("pii."), text[m.start : m.end]) for m in detector.find(text)]


def test_luhn_and_iban_checksums() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")
    assert iban_valid("DE89370400440532013000") and iban_valid("GB82WEST12345698765432")
    assert not iban_valid("DE00370400440532013000") and not iban_valid("DE89")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe+news@example.co.uk today", [("email", "jane.doe+news@example.co.uk")]),
        ("call +1 (415) 555-0132 now", [("phone", "+1 (415) 555-0132")]),
        ("or 415-555-0132, or +4915112345678", [("phone", "415-555-0132"), ("phone", "+4915112345678")]),
        ("card 4111 1111 1111 1111 ok", [("credit_card", "4111 1111 1111 1111")]),
        ("card 4111-1111-1111-1111", [("credit_card", "4111-1111-1111-1111")]),
        ("iban DE89 3704 0044 0532 0130 00.", [("iban", "DE89 3704 0044 0532 0130 00")]),
        ("iban GB82WEST12345698765432", [("iban", "GB82WEST12345698765432")]),
        ("ssn 123-45-6789", [("ssn", "123-45-6789")]),
        ("host 10.0.0.1. then", [("ip_address", "10.0.0.1")]),
        ("v6 2001:db8::1 up", [("ip_address", "2001:db8::1")]),
        (
            "key sk-proj-abcdefghijklmnopqrstuvwxyz123456",
            [("secret", "sk-proj-abcdefghijklmnopqrstuvwxyz123456")],
        ),
        ("aws AKIAIOSFODNN7EXAMPLE", [("secret", "AKIAIOSFODNN7EXAMPLE")]),
        ("gh ghp_" + "a1" * 18 + " ok", [("secret", "ghp_" + "a1" * 18)]),
        ("jwt " + JWT, [("secret", JWT)]),
        (
            "key -----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY----- end",
            [("secret", "-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK\n-----END RSA PRIVATE KEY-----")],
        ),
        ("mail me: x@y.io, z@w.org", [("email", "x@y.io"), ("email", "z@w.org")]),
    ],
)
def test_each_kind_is_found(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 4111 1111 1111 1112 (no Luhn)",  # not a card, and too long for a phone number
        "iban DE00 3704 0044 0532 0130 00 (bad checksum)",
        "ssn 000-12-3456 or 666-12-3456 or 912-34-5678 (never issued)",
        "version 999.1.1.1 and time 12:30:45",
        "date 2024-01-15 and pi 3.14159265358979",
        "not an address: user@localhost",
        "sk-short",
        "risk-management-framework-for-everyone-here",  # "sk-" inside a word
        "1.2.3.4.5 is a version, not an address",
    ],
)
def test_lookalikes_are_not_found(text: str) -> None:
    assert found(text) == []


def test_only_the_configured_kinds_and_the_more_specific_kind_wins() -> None:
    text = "pay 4111 1111 1111 1111 or mail a@b.io"
    assert found(text, "email") == [("email", "a@b.io")]
    assert found(text, "phone", "credit_card") == [("credit_card", "4111 1111 1111 1111")]
    assert PiiDetector(()).find(text) == []


def test_the_window_covers_what_is_not_a_match_yet() -> None:
    detector = PiiDetector(["credit_card", "email"])
    # A card number's first twelve digits are no card yet: a stream must hold at least that much.
    assert found("4111 1111 1111", "credit_card") == []
    assert detector.window >= len("4111 1111 1111 111")
    assert detector.window >= 65  # the longest local part of an address, before its "@"
    assert PiiDetector(["ssn"]).window < detector.window
