"""``switchyard keys``, ``tenants`` and ``budgets``: the admin API calls they make and what they
print (against an httpx.MockTransport standing in for the gateway)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from typing import Any

import httpx
import pytest

from switchyard.cli import admin_client, main

KEY = {
    "key_id": "k_abc",
    "tenant": "acme",
    "name": "ci",
    "status": "active",
    "created_at": 1800000000.0,
    "expires_at": None,
    "models": ["m"],
    "limits": {"rpm": 5},
    "budgets": {"daily": "0.00001"},
    "budget_action": "block",
    "metadata": {},
    "replaced_by": None,
    "guardrails": [],
    "require_signature": False,
    "signing_secrets": [],
}
BUDGETS = {
    "override": None,
    "data": [
        {
            "scope": "key",
            "id": "k_abc",
            "period": "daily",
            "period_key": "2027-01-15",
            "budget_usd": "0.00001",
            "spent_usd": "0.0000034",
            "percent": "34.0",
            "action": "block",
        }
    ],
}


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        path = request.url.path
        if request.headers["authorization"] == "Bearer wrong":
            return httpx.Response(
                401, json={"error": {"message": "Invalid API key.", "code": "invalid_api_key"}}
            )
        if request.method == "POST" and path in ("/admin/keys", "/admin/keys/k_abc/rotate"):
            return httpx.Response(201, json={**KEY, "key": "sk-sy-secret"})
        if path == "/admin/keys":
            return httpx.Response(200, json={"data": [KEY]})
        if path.endswith("/revoke") or (path.endswith("/signing-secret") and request.method == "DELETE"):
            return httpx.Response(204)
        if path.endswith("/signing-secret"):
            answer = {
                "key_id": "k_abc",
                "secret": "sysig_shown_once",
                "require_signature": json.loads(request.content)["require"],
                "signing_secrets": [{"created_at": 1800000000.0, "expires_at": None}],
                "header": "x-switchyard-signature",
                "window_s": 300,
            }
            return httpx.Response(201, json=answer)
        if path == "/admin/keys/k_missing":
            return httpx.Response(404, json={"error": {"message": "no key 'k_missing'", "code": "not_found"}})
        if path == "/admin/budgets":
            return httpx.Response(200, json=BUDGETS)
        if path.startswith("/admin/tenants/"):
            tenant = {
                "tenant": "beta",
                "name": "",
                "created_at": 0.0,
                "budget_action": "block",
                "metadata": {},
                "guardrails": ["pii"],
                "require_signature": True,
            }
            return httpx.Response(200, json={**tenant, "budgets": {"daily": "10"}})
        return httpx.Response(200, json=KEY)

    client = partial(httpx.Client, transport=httpx.MockTransport(handler))
    monkeypatch.setattr(admin_client.httpx, "Client", client)
    yield requests


def test_create_sends_the_spec_and_shows_the_key_once_with_a_warning(
    seen: list[httpx.Request], capsys: Any
) -> None:
    argv = ["keys", "create", "--tenant", "acme", "--model", "m", "--rpm", "5", "--budget", "daily=0.00001"]
    assert main([*argv, "--admin-key", "adm"]) == 0
    [request] = seen
    assert request.headers["authorization"] == "Bearer adm"
    assert json.loads(request.content) == {
        "tenant": "acme",
        "models": ["m"],
        "limits": {"rpm": 5},
        "budgets": {"daily": "0.00001"},
    }
    out = capsys.readouterr().out
    assert out.count("sk-sy-secret") == 1
    assert "shown only this once" in out
    assert "2027-01-15T08:00:00Z" in out and "daily=$0.00001" in out and "rpm=5" in out
    assert "1800000000" not in out


def test_json_is_for_scripts_with_iso_times_and_the_warning_on_stderr(
    seen: list[httpx.Request], capsys: Any
) -> None:
    assert main(["keys", "create", "--tenant", "acme", "--admin-key", "adm", "--json"]) == 0
    captured = capsys.readouterr()
    shown = json.loads(captured.out)
    assert shown["key"] == "sk-sy-secret" and shown["created_at"] == "2027-01-15T08:00:00Z"
    assert "shown only this once" in captured.err
    assert main(["keys", "list", "--tenant", "acme", "--admin-key", "adm", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"][0]["created_at"] == "2027-01-15T08:00:00Z"


def test_update_sends_only_what_is_given_and_clears_with_null(seen: list[httpx.Request], capsys: Any) -> None:
    assert main(["keys", "update", "k_abc", "--tpm", "20000", "--admin-key", "adm"]) == 0
    argv = [
        "keys",
        "update",
        "k_abc",
        "--clear-limit",
        "rpm",
        "--budget",
        "monthly=50",
        "--clear-budget",
        "daily",
    ]
    assert main([*argv, "--no-expiry", "--admin-key", "adm"]) == 0
    first, second = (json.loads(r.content) for r in seen)
    assert first == {"limits": {"tpm": 20000}}
    assert second == {
        "limits": {"rpm": None},
        "budgets": {"monthly": "50", "daily": None},
        "expires_at": None,
    }
    assert [r.method for r in seen] == ["PATCH", "PATCH"]
    assert "updated k_abc" in capsys.readouterr().out
    assert main(["keys", "update", "k_abc", "--admin-key", "adm"]) == 2  # nothing to change
    assert "nothing to update" in capsys.readouterr().err


def test_list_prints_a_table_and_revoke_confirms(seen: list[httpx.Request], capsys: Any) -> None:
    assert main(["keys", "list", "--tenant", "acme", "--admin-key", "adm"]) == 0
    assert main(["keys", "revoke", "k_abc", "--admin-key", "adm"]) == 0
    out = capsys.readouterr().out
    assert "KEY ID" in out and "k_abc" in out and "revoked k_abc" in out
    assert [r.url.path for r in seen] == ["/admin/keys", "/admin/keys/k_abc/revoke"]


def test_errors_are_one_line_on_stderr_with_a_failing_exit(seen: list[httpx.Request], capsys: Any) -> None:
    assert main(["keys", "show", "k_missing", "--admin-key", "adm"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "error: 404 not_found: no key 'k_missing'\n"
    assert main(["keys", "show", "k_abc", "--admin-key", "wrong"]) == 1
    err = capsys.readouterr().err
    assert "refused the key from --admin-key (Invalid API key.)" in err
    assert "wrong" not in err.replace("--admin-key", "")  # never the key itself


def test_rotate_shows_the_new_key_and_tenants_set_merges(seen: list[httpx.Request], capsys: Any) -> None:
    assert main(["keys", "rotate", "k_abc", "--grace", "60", "--admin-key", "adm"]) == 0
    assert "sk-sy-secret" in capsys.readouterr().out
    assert main(["tenants", "set", "beta", "--budget", "daily=10", "--admin-key", "adm"]) == 0
    assert json.loads(seen[0].content) == {"grace_s": 60.0}
    assert (seen[1].method, seen[1].url.path) == ("PUT", "/admin/tenants/beta")
    assert json.loads(seen[1].content) == {"budgets": {"daily": "10"}}  # no name: it stays
    assert main(["tenants", "set", "beta", "--budget", "daily=ten", "--admin-key", "adm"]) == 2
    assert "not an amount of USD" in capsys.readouterr().err


def test_budgets_print_a_tiny_cap_with_its_digits(seen: list[httpx.Request], capsys: Any) -> None:
    assert main(["budgets", "--admin-key", "adm"]) == 0
    out = capsys.readouterr().out
    assert "0.00001" in out and "0.0000034" in out and "34.0 %" in out and "[###.......]" in out
    assert "0.00 " not in out


def test_guardrails_and_signature_requirements_on_keys_and_tenants(seen: list[httpx.Request]) -> None:
    argv = ["--guardrail", "pii", "--guardrail", "words", "--admin-key", "adm"]
    assert main(["keys", "create", "--tenant", "acme", *argv]) == 0
    assert main(["keys", "update", "k_abc", "--require-signature", "--admin-key", "adm"]) == 0
    assert main(["keys", "update", "k_abc", "--no-require-signature", "--admin-key", "adm"]) == 0
    assert (
        main(["tenants", "set", "acme", "--guardrail", "pii", "--require-signature", "--admin-key", "adm"])
        == 0
    )
    bodies = [json.loads(r.content) for r in seen]
    assert bodies[0] == {"tenant": "acme", "guardrails": ["pii", "words"]}
    assert bodies[1] == {"require_signature": True} and bodies[2] == {"require_signature": False}
    assert bodies[3] == {"guardrails": ["pii"], "require_signature": True}


def test_signing_secret_is_set_rotated_with_a_grace_and_removed(
    seen: list[httpx.Request], capsys: Any
) -> None:
    assert main(["keys", "signing-secret", "k_abc", "--admin-key", "adm"]) == 0
    assert (
        main(["keys", "signing-secret", "k_abc", "--grace", "3600", "--optional", "--admin-key", "adm"]) == 0
    )
    assert main(["keys", "signing-secret", "k_abc", "--remove", "--admin-key", "adm"]) == 0
    assert [(r.method, r.url.path) for r in seen] == [
        ("POST", "/admin/keys/k_abc/signing-secret"),
        ("POST", "/admin/keys/k_abc/signing-secret"),
        ("DELETE", "/admin/keys/k_abc/signing-secret"),
    ]
    assert json.loads(seen[0].content) == {"require": True}
    assert json.loads(seen[1].content) == {"require": False, "grace_s": 3600.0}
    out = capsys.readouterr().out
    assert "sysig_shown_once" in out and "shown only this once" in out and "signing secrets removed" in out
    assert "signed requests required" in out and "signed requests optional" in out
