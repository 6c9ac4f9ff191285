"""Accounting: the one place usage and cost are recorded, for buffered and streamed answers."""

from __future__ import annotations

import random
from decimal import Decimal

from switchyard.accounting import Accounting, StreamUsage, completion_usage, estimate_usage
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


def test_record_prices_usage_for_the_deployment_that_served_it() -> None:
    usage = Usage(prompt_tokens=1_000, completion_tokens=500, total_tokens=1_500)

    record = Accounting().record(
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
    assert record.tokens == 1_500


def test_a_cache_hit_costs_nothing_and_keeps_what_it_saved() -> None:
    record = Accounting.record_hit("m", "p", "p/up", "up", Decimal("0.5"), request_id="r2")
    assert (record.cost_usd, record.saved_usd, record.tokens, record.cache_hit) == (
        0,
        Decimal("0.5"),
        0,
        True,
    )
