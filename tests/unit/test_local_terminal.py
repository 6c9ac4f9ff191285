"""What ``make run`` shows in its terminal: one line for a port in use, EMF lines sent to a file,
the stand-in header, and the banner's account of state and stand-ins."""

from __future__ import annotations

import io
import logging
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from switchyard.config.local import LocalSettings
from switchyard.config.routing import StandIn, mock_standins
from switchyard.config.settings import DEFAULT_CONFIG
from switchyard.local.banner import Facts, banner
from switchyard.local.terminal import MetricLines, PortInUseError, StandInHeader, bind, describe_standins

EMF = '{"_aws": {"Timestamp": 1, "CloudWatchMetrics": []}, "Requests": [1.0]}'


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_emf_lines_go_to_the_metrics_log_and_the_rest_to_the_terminal() -> None:
    terminal, recorded = io.StringIO(), Recorded()
    metrics = logging.getLogger("test.local.metrics")
    metrics.handlers, metrics.propagate = [recorded], False
    metrics.setLevel(logging.INFO)
    lines = MetricLines(terminal, metrics)
    print("Switchyard listening", file=lines)
    print(EMF, file=lines)  # print writes the text and the newline separately
    lines.write('{"level": "INFO", "message": "budget alarm applied", "_aws": "not a metric"}\n')
    lines.write(EMF[:10])
    assert recorded.lines == [EMF]
    lines.write(EMF[10:] + "\nafter\n")
    assert recorded.lines == [EMF, EMF]
    assert terminal.getvalue().splitlines() == [
        "Switchyard listening",
        '{"level": "INFO", "message": "budget alarm applied", "_aws": "not a metric"}',
        "after",
    ]


def test_a_port_in_use_is_one_line_naming_it_and_another() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError) as caught:
            bind("127.0.0.1", port)
    message = str(caught.value)
    assert "\n" not in message
    assert f"port {port} on 127.0.0.1 is already in use" in message
    assert f"SWITCHYARD_PORT={port + 1} make run" in message


def test_a_free_port_is_bound_for_the_server() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bound = bind("127.0.0.1", port)
    try:
        assert bound.getsockname() == ("127.0.0.1", port)
    finally:
        bound.close()


STANDINS = [
    StandIn("openai", ("gpt-4o", "gpt-4o-mini"), ("OPENAI_API_KEY",)),
    StandIn("groq", ("llama-*",), ()),
]


async def answered_by(provider: str, model: str) -> httpx.Response:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"x-switchyard-provider", provider.encode()), (b"x-switchyard-model", model.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    transport = httpx.ASGITransport(app=StandInHeader(app, STANDINS))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        return await client.get("/v1/models")


async def test_a_stand_in_answer_names_the_provider_it_stands_in_for() -> None:
    assert (await answered_by("mock-standin", "gpt-4o-mini")).headers["x-switchyard-stand-in"] == "openai"
    assert (await answered_by("mock-standin", "llama-3")).headers["x-switchyard-stand-in"] == "groq"
    assert "x-switchyard-stand-in" not in (await answered_by("mock", "mock-1")).headers
    assert "x-switchyard-stand-in" not in (await answered_by("openai", "gpt-4o-mini")).headers


def test_the_stand_ins_are_the_providers_without_a_key() -> None:
    found = {s.provider: s for s in mock_standins(DEFAULT_CONFIG, {"ANTHROPIC_API_KEY": "k"})}
    assert "anthropic" not in found and "mock" not in found
    assert found["openai"].needs == ("OPENAI_API_KEY",)
    assert {"gpt-4o", "gpt-4o-mini", "gpt-*"} <= set(found["openai"].models)  # wildcards too
    assert describe_standins(STANDINS) == "openai (OPENAI_API_KEY), groq (no key source)"


def test_the_banner_says_where_state_and_metrics_live() -> None:
    settings = LocalSettings(master_key=SecretStr("sk-sy-local-x"), state_table="switchyard-StateTable")
    text = banner(
        settings,
        Facts(
            standins="openai (OPENAI_API_KEY)",
            saved_to=Path(".switchyard/state/aws.pickle"),
            restored="restored 3 items and 0 queued messages saved 2026-12-01 10:00:00",
            metrics=Path(".switchyard/metrics.log"),
        ),
    )
    assert "stand-ins:      the mock answers for openai (OPENAI_API_KEY)" in text
    assert "saved in .switchyard/state every second and at exit: restored 3 items" in text
    assert "(`make reset` starts clean)" in text
    assert "EMF lines in .switchyard/metrics.log" in text
    memory = banner(LocalSettings(master_key=SecretStr("k")), Facts())
    assert "in memory (this process only: lost when it stops)" in memory
    assert "stand-ins" not in memory and "make reset" not in memory
