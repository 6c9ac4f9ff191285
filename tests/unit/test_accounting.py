"""Accounting: the one place usage and cost are recorded, for buffered and streamed answers."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from switchyard.accounting import Accounting, StreamUsage, UsageRecord, completion_usage, estimate_usage
from switchyard.api.chat import AssistantMessage, ChatCompletion, ChatRequest, Choice, Usage
from switchyard.api.stream import ChatCompletionChunk, ChunkChoice, Delta
from switchyard.config.routing import RoutingConfig
from switchyard.routing.select import Candidate, RouteTable

REQUEST = ChatRequest.model_validate(
    {
        "model": "m",
        "messages": [
            {"role": "system", "content": "12345678"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "abcd"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
                ],
            },
        ],
    }
)


def _candidate() -> Candidate:
    config = RoutingConfig.model_validate(
        {
            "providers": {"p": {"kind": "mock"}},
            "models": {
                "m": {"deployments": [{"provider": "p", "model": "up", "price": {"input": 1, "output": 2}}]}
            },
        }
    )
    [cand] = RouteTable(config).candidates("m", random.Random(0))
    return cand


class Sink:
    def __init__(self, fail: bool = False) -> None:
        self.records: list[UsageRecord] = []
        self.fail = fail

    async def record(self, record: UsageRecord) -> None:
        if self.fail:
            raise RuntimeError("ledger down")
        self.records.append(record)


def test_estimate_counts_text_parts_at_four_characters_a_token() -> None:
    usage = estimate_usage(REQUEST, completion_chars=9)
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 3, 6)


def test_completion_usage_is_the_upstreams_or_an_estimate() -> None:
    answer = ChatCompletion(
        id="c", created=0, model="up", choices=[Choice(message=AssistantMessage(content="12345"))]
    )
    assert completion_usage(REQUEST, answer) == (estimate_usage(REQUEST, 5), True)
    answer.usage = Usage(prompt_tokens=1, completion_tokens=1, total_tokens=2)
    assert completion_usage(REQUEST, answer) == (answer.usage, False)


def test_stream_usage_prefers_the_upstreams_report() -> None:
    tracker = StreamUsage()
    tracker.observe(ChatCompletionChunk(choices=[ChunkChoice(delta=Delta(content="123456"))]))
    assert tracker.final(REQUEST) == (estimate_usage(REQUEST, 6), True)
    reported = Usage(prompt_tokens=40, completion_tokens=2, total_tokens=42)
    tracker.observe(ChatCompletionChunk(usage=reported))
    assert tracker.final(REQUEST) == (reported, False)


async def test_record_prices_usage_and_feeds_every_sink_even_after_one_fails() -> None:
    good = Sink()
    accounting = Accounting([Sink(fail=True), good])
    usage = Usage(prompt_tokens=1_000, completion_tokens=500, total_tokens=1_500)

    record = await accounting.record(
        _candidate(), usage, request_id="r1", attempts=2, latency_s=0.25, streamed=True, partial=True
    )

    assert record.cost_usd == Decimal("0.002")
    assert (record.deployment_id, record.provider, record.upstream_model, record.public_model) == (
        "p/up",
        "p",
        "up",
        "m",
    )
    assert (record.attempts, record.latency_ms, record.streamed, record.partial) == (2, 250.0, True, True)
    assert good.records == [record]


@pytest.mark.parametrize("sinks", [0, 3])
async def test_add_sink(sinks: int) -> None:
    accounting = Accounting()
    added = [Sink() for _ in range(sinks)]
    for sink in added:
        accounting.add_sink(sink)
    await accounting.record(_candidate(), Usage(), request_id="r", attempts=1, latency_s=0)
    assert [len(s.records) for s in added] == [1] * sinks
