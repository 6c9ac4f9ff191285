"""``switchyard keys`` and ``switchyard tenants``: the admin API calls they make and what they print
(against an httpx.MockTransport standing in for the gateway)."""

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
    "created_at": 1.0,
    "expires_at": None,
    "models": ["m"],
    "limits": {"rpm": 5},
    "budgets": {},
    "budget_action": "block",
    "metadata": {},
    "replaced_by": None,
}


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        path = request.url.path
        if request.method == "POST" and path == "/admin/keys":
            return httpx.Response(201, json={**KEY, "key": "sk-sy-secret"})
        if path == "/admin/keys":
            return httpx.Response(200, json={"data": [KEY]})
        if path.endswith("/revoke") or (path.endswith("/signing-secret") and request.method == "DELETE"):
            return httpx.Response(204)
        if path.endswith("/signing-secret"):
            return httpx.Response(201, json={"key_id": "k_abc", "secret": "sysig_shown_once"})
        if path == "/admin/keys/k_missing":
            return httpx.Response(404, json={"error": {"message": "no key 'k_missing'"}})
        return httpx.Response(200, json=KEY)

    client = partial(httpx.Client, transport=httpx.MockTransport(handler))
    monkeypatch.setattr(admin_client.httpx, "Client", client)
    yield requests


def test_create_sends_the_spec_with_the_admin_key(seen: list[httpx.Request], capsys: Any) -> None:
    code = main(["keys", "create", "--tenant", "acme", "--model", "m", "--rpm", "5", "--admin-key", "adm"])
    assert code == 0
    [request] = seen
    assert request.headers["authorization"] == "Bearer adm"
    assert json.loads(request.content) == {"tenant": "acme", "models": ["m"], "limits": {"rpm": 5}}
    assert "sk-sy-secret" in capsys.readouterr().out  # shown once, at creation


def test_list_prints_a_table_and_revoke_confirms(seen: list[httpx.Request], capsys: Any) -> None:
    assert main(["keys", "list", "--tenant", "acme", "--admin-key", "adm"]) == 0
    assert main(["keys", "revoke", "k_abc", "--admin-key", "adm"]) == 0
    out = capsys.readouterr().out
    assert "k_abc" in out and "revoked k_abc" in out
    assert [r.url.path for r in seen] == ["/admin/keys", "/admin/keys/k_abc/revoke"]


def test_errors_are_printed_with_a_failing_exit(seen: list[httpx.Request], capsys: Any) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["keys", "show", "k_missing", "--admin-key", "adm"])
    assert exited.value.code == 1
    assert "404" in capsys.readouterr().out


def test_rotate_and_tenants(seen: list[httpx.Request]) -> None:
    assert main(["keys", "rotate", "k_abc", "--grace", "60", "--admin-key", "adm"]) == 0
    assert main(["tenants", "set", "beta", "--budget", "daily=10", "--admin-key", "adm"]) == 0
    assert json.loads(seen[0].content) == {"grace_s": 60.0}
    assert (seen[1].method, seen[1].url.path) == ("PUT", "/admin/tenants/beta")


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
    assert bodies[3] == {"name": "", "guardrails": ["pii"], "require_signature": True}


def test_signing_secret_is_set_rotated_with_a_grace_and_removed(
    seen: list[httpx.Request], capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = {
        "key_id": "k_abc",
        "secret": "sysig_shown_once",
        "require_signature": True,
        "signing_secrets": [],
    }
    monkeypatch.setattr(admin_client, "show", lambda value: print(json.dumps(issued)))
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
    assert "sysig_shown_once" in out and "signing secrets removed" in out
