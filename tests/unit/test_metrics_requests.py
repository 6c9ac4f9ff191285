"""RequestMetrics: what one request costs (a few updates), what a flush publishes (groups with
their dimension sets), and the EMF that Powertools prints for them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import pytest

from statekit import Clock
from switchyard.accounting import UsageRecord
from switchyard.api.chat import Usage
from switchyard.config.routing import BreakerConfig
from switchyard.errors import GatewayError, Kind, ProviderError, RateLimitError
from switchyard.metrics.requests import SAMPLE_CAP, Group, RequestMetrics, error_kind, publish_emf
from switchyard.metrics.sink import MetricSink
from switchyard.routing.breaker import Breakers
from switchyard.state.memory import MemoryBreakerStore


class Published:
    def __init__(self) -> None:
        self.flushes: list[list[Group]] = []

    def __call__(self, groups: Sequence[Group]) -> None:
        self.flushes.append(list(groups))

    def metric(self, name: str, **dimensions: str) -> Any:
        """The value of ``name`` in the last flush's group whose dimension values are these."""
        for group in self.flushes[-1]:
            values = {k: v for dims in group.dimension_sets for k, v in dims.items()}
            for metric, _unit, value in group.metrics:
                if metric == name and values == dimensions:
                    return value
        raise KeyError((name, dimensions))


def record(
    *,
    provider: str = "openai",
    model: str = "gpt-4o-mini",
    cost: str = "0.25",
    cache_hit: bool = False,
    saved: str = "0",
) -> UsageRecord:
    return UsageRecord(
        request_id="r",
        public_model="m",
        provider=provider,
        deployment_id=f"{provider}/{model}",
        upstream_model=model,
        usage=Usage() if cache_hit else Usage(prompt_tokens=10, completion_tokens=4, total_tokens=14),
        cost_usd=Decimal(0) if cache_hit else Decimal(cost),
        attempts=0 if cache_hit else 1,
        latency_ms=5.0,
        cache_hit=cache_hit,
        saved_usd=Decimal(saved),
    )


@pytest.fixture
def published() -> Published:
    return Published()


def test_nothing_is_published_before_the_interval(published: Published) -> None:
    clock = Clock(0)
    metrics = RequestMetrics(publish=published, clock=clock, interval_s=60)
    metrics.request(12.0, 200)
    metrics.answered(record(), "acme")
    assert published.flushes == []
    clock.advance(60)
    metrics.request(8.0, 200)  # the first event after the interval flushes everything so far
    assert published.metric("Requests") == 2
    assert published.metric("Latency") == [12.0, 8.0]


def test_costs_and_tokens_go_out_per_provider_model_and_tenant(published: Published) -> None:
    metrics = RequestMetrics(publish=published)
    metrics.answered(record(cost="0.25"), "acme")
    metrics.answered(record(cost="0.5"), "acme")
    metrics.answered(record(provider="anthropic", model="claude-haiku-4-5", cost="1"), "globex")
    metrics.answered(record(cache_hit=True, saved="0.25"), "acme")
    metrics.flush()
    acme = {"Provider": "openai", "Model": "gpt-4o-mini", "Tenant": "acme"}
    assert published.metric("CostUSD", **acme) == 0.75
    assert published.metric("Answers", **acme) == 2  # the cache hit is no provider answer
    assert published.metric("InputTokens", **acme) == 20
    assert published.metric("OutputTokens", **acme) == 8
    assert published.metric("CostSavedUSD", **acme) == 0.25
    assert published.metric("CostUSD", Provider="anthropic", Model="claude-haiku-4-5", Tenant="globex") == 1
    assert metrics.cost_total_usd == 1.75
    for group in published.flushes[-1]:
        if any(name == "CostUSD" for name, _, _ in group.metrics):
            assert group.dimension_sets == (
                {"Provider": group.dimension_sets[0]["Provider"], "Model": group.dimension_sets[0]["Model"]},
                {"Tenant": group.dimension_sets[1]["Tenant"]},
            )


def test_errors_count_by_kind_and_status_class(published: Published) -> None:
    metrics = RequestMetrics(publish=published)
    limited = ProviderError(Kind.RATE_LIMITED, "slow down")
    metrics.request(3.0, 429, GatewayError("all limited", status=429, last=limited))
    metrics.request(1.0, 429, RateLimitError("your key"))
    metrics.request(1.0, 429, RateLimitError("your key"))
    metrics.request(2.0, 503, GatewayError("circuit open", status=503))
    metrics.request(2.0, 413)  # answered by the body-size check, no exception
    metrics.request(4.0, 500, RuntimeError("bug"))
    metrics.flush()
    assert published.metric("Errors", ErrorKind="rate_limited", StatusClass="4xx") == 1
    assert published.metric("Errors", ErrorKind="client_rate_limited", StatusClass="4xx") == 2
    assert published.metric("Errors", ErrorKind="no_deployment", StatusClass="5xx") == 1
    assert published.metric("Errors", ErrorKind="payload_too_large", StatusClass="4xx") == 1
    assert published.metric("Errors", ErrorKind="internal", StatusClass="5xx") == 1
    assert published.metric("Requests") == 6


def test_a_stream_failing_after_its_first_token_is_an_error_of_its_kind(published: Published) -> None:
    metrics = RequestMetrics(publish=published)
    metrics.request(3.0, 200)  # the stream started
    dropped = ProviderError(Kind.BAD_RESPONSE, "dropped")
    metrics.stream_failed(dropped, dropped.status)
    metrics.flush()
    assert published.metric("Requests") == 1
    assert published.metric("Errors", ErrorKind="bad_response", StatusClass="5xx") == 1


def test_error_kind_of_what_the_taxonomy_does_not_name() -> None:
    assert error_kind(None, 404) == "not_found"
    assert error_kind(None, 418) == "invalid_request"
    assert error_kind(None, 502) == "internal"
    overloaded = ProviderError(Kind.OVERLOADED, "busy")
    assert error_kind(GatewayError("x", status=503, last=overloaded), 503) == "overloaded"


def test_latency_samples_stay_bounded_and_uniform(published: Published) -> None:
    metrics = RequestMetrics(publish=published)
    for i in range(20 * SAMPLE_CAP):
        metrics.request(float(i), 200)
    metrics.flush()
    samples = published.metric("Latency")
    assert len(samples) == SAMPLE_CAP and published.metric("Requests") == 20 * SAMPLE_CAP
    # A uniform sample of 0..1999: most values come from beyond the first hundred.
    assert sum(1 for v in samples if v >= SAMPLE_CAP) > SAMPLE_CAP // 2


def test_upstream_latency_fallbacks_and_breaker_openings(published: Published) -> None:
    metrics = RequestMetrics(publish=published)
    metrics.upstream("openai", 0.120)
    metrics.upstream("openai", 0.080)
    metrics.upstream("anthropic", 0.3)
    metrics.fallback()
    metrics.breaker_opened("openai/gpt-4o")
    metrics.breaker_opened("openai/gpt-4o")
    metrics.flush()
    assert published.metric("UpstreamLatency", Provider="openai") == [120.0, 80.0]
    assert published.metric("UpstreamLatency", Provider="anthropic") == [300.0]
    assert published.metric("Fallbacks") == 1
    assert published.metric("BreakerOpens", Deployment="openai/gpt-4o") == 2
    metrics.flush()
    assert len(published.flushes) == 1  # nothing new: no empty flush


async def test_a_breaker_opening_is_counted_once() -> None:
    opened: list[str] = []
    clock = Clock(1000)
    breakers = Breakers(
        MemoryBreakerStore(), BreakerConfig(failure_threshold=2), clock, on_open=opened.append
    )
    await breakers.failure("d")
    assert opened == []
    await breakers.failure("d")
    await breakers.failure("d")  # already open: no second opening
    assert opened == ["d"]
    clock.advance(31)
    await breakers.admit("d")  # the half-open probe ...
    await breakers.failure("d")  # ... fails: open again
    assert opened == ["d", "d"]


def test_the_sink_closes_its_request_metrics(published: Published) -> None:
    sink = MetricSink(publish=lambda counts: None)
    sink.requests = RequestMetrics(publish=published)
    sink.requests.request(1.0, 200)
    sink.close()
    assert published.metric("Requests") == 1


def emf_lines(text: str) -> list[dict[str, Any]]:
    docs = []
    for line in text.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            docs.append(json.loads(line))
    return docs


def test_powertools_prints_one_document_per_group_with_every_set(capsys: pytest.CaptureFixture[str]) -> None:
    groups = [
        Group((), (("Requests", "Count", 3), ("Latency", "Milliseconds", [1.0, 2.0, 3.0]))),
        Group(
            ({"Provider": "openai", "Model": "gpt-4o-mini"}, {"Tenant": "acme"}),
            (("CostUSD", "None", 0.75),),
        ),
    ]
    publish_emf("Switchyard", "switchyard", groups)
    first, second = emf_lines(capsys.readouterr().out)
    (directive,) = first["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Switchyard" and directive["Dimensions"] == [["service"]]
    assert first["Latency"] == [1.0, 2.0, 3.0] and first["Requests"] == [3.0]
    (directive,) = second["_aws"]["CloudWatchMetrics"]
    assert directive["Dimensions"] == [["service"], ["service", "Provider", "Model"], ["service", "Tenant"]]
    assert (second["service"], second["Provider"], second["Model"], second["Tenant"]) == (
        "switchyard",
        "openai",
        "gpt-4o-mini",
        "acme",
    )
    assert second["CostUSD"] == [0.75] and "Requests" not in second


def test_a_full_value_list_is_printed_whole(capsys: pytest.CaptureFixture[str]) -> None:
    values = [float(i) for i in range(SAMPLE_CAP)]
    publish_emf(
        "Switchyard",
        "switchyard",
        [Group(({"Provider": "p"},), (("UpstreamLatency", "Milliseconds", values),))],
    )
    docs = emf_lines(capsys.readouterr().out)
    assert [v for doc in docs for v in doc["UpstreamLatency"]] == values
    assert all(doc["Provider"] == "p" for doc in docs)
