"""``switchyard personas``: the admin API calls it makes and what it prints (against an
httpx.MockTransport standing in for the gateway)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchyard.cli import admin_client, main

PERSONA = {
    "tenant": "acme",
    "name": "support",
    "model_name": "persona/support",
    "system_prompt": "You help [bold]{{ customer }}[/bold].",
    "description": "first line",
    "variables": {"customer": "a customer"},
    "model": "gpt-4o-mini",
    "parameters": {"temperature": 0.2},
    "guardrails": ["pii"],
    "memory": {"enabled": True, "max_tokens": 2000, "ttl_s": None, "overflow": None, "summary_model": None},
    "last_resort": {"stale_if_error_s": None, "template": "Busy, sorry."},
    "published": True,
    "replace_system": False,
    "created_at": 1_800_000_000.0,
    "updated_at": 1_800_000_060.0,
}


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/admin/personas":
            return httpx.Response(200, json={"data": [PERSONA]})
        if request.url.path.endswith("/missing"):
            return httpx.Response(
                404, json={"error": {"message": "The tenant 'acme' has no persona 'missing'."}}
            )
        if request.method == "DELETE":
            return httpx.Response(204)
        return httpx.Response(200, json=PERSONA)

    monkeypatch.setattr(
        admin_client.httpx, "Client", partial(httpx.Client, transport=httpx.MockTransport(handler))
    )
    yield requests


def test_set_sends_the_file_with_the_options_on_top(
    seen: list[httpx.Request], tmp_path: Path, capsys: Any
) -> None:
    spec = tmp_path / "support.yaml"
    spec.write_text("system_prompt: From the file.\nvariables: {customer: someone}\nguardrails: [pii]\n")
    code = main(
        [
            "personas", "set", "acme", "support", "--file", str(spec), "--model", "gpt-4o-mini",
            "--var", "plan=pro", "--param", "temperature=0.2", "--param", "stop=END", "--guardrail", "tone",
            "--publish", "--memory-max-tokens", "2000", "--template", "Busy, sorry.", "--admin-key", "adm",
        ]
    )  # fmt: skip
    assert code == 0
    [request] = seen
    assert (request.method, request.url.path) == ("PUT", "/admin/personas/acme/support")
    assert json.loads(request.content) == {
        "system_prompt": "From the file.",
        "model": "gpt-4o-mini",
        "variables": {"customer": "someone", "plan": "pro"},
        "parameters": {"temperature": 0.2, "stop": "END"},
        "guardrails": ["pii", "tone"],
        "published": True,
        "memory": {"max_tokens": 2000},
        "last_resort": {"template": "Busy, sorry."},
    }
    out = capsys.readouterr().out
    assert "persona/support" in out and "[bold]{{ customer }}[/bold]" in out  # printed as is, not markup


def test_set_without_a_prompt_says_what_is_missing(seen: list[httpx.Request], capsys: Any) -> None:
    assert main(["personas", "set", "acme", "support", "--model", "m", "--admin-key", "adm"]) == 2
    assert "give the prompt" in capsys.readouterr().err
    assert seen == []


def test_list_prints_a_table_or_json(seen: list[httpx.Request], capsys: Any) -> None:
    assert main(["personas", "list", "--tenant", "acme", "--admin-key", "adm"]) == 0
    table = capsys.readouterr().out
    assert "support" in table and "persona/support" in table and "max_tokens=2000" in table
    assert seen[0].url.params["tenant"] == "acme"
    assert main(["personas", "list", "--tenant", "acme", "--json", "--admin-key", "adm"]) == 0
    [listed] = json.loads(capsys.readouterr().out)["data"]
    assert listed == {**PERSONA, "created_at": "2027-01-15T08:00:00Z", "updated_at": "2027-01-15T08:01:00Z"}


def test_show_and_delete_and_a_missing_persona(seen: list[httpx.Request], capsys: Any) -> None:
    assert main(["personas", "show", "acme", "support", "--admin-key", "adm"]) == 0
    shown = capsys.readouterr().out
    assert "persona/support" in shown and "2027-01-15T08:01:00Z" in shown and "1800000060" not in shown
    assert main(["personas", "show", "acme", "support", "--json", "--admin-key", "adm"]) == 0
    assert json.loads(capsys.readouterr().out)["model_name"] == "persona/support"
    assert main(["personas", "delete", "acme", "support", "--admin-key", "adm"]) == 0
    assert "deleted persona support of acme" in capsys.readouterr().out
    assert seen[-1].method == "DELETE"
    assert main(["personas", "show", "acme", "missing", "--admin-key", "adm"]) == 1
    assert "no persona 'missing'" in capsys.readouterr().err
