"""Per-request metrics with dimensions, summed in process and published as CloudWatch EMF.

Recording is a few attribute and dict updates (one process serves ~1,300 requests/s on two
cores); publishing happens at most once per interval and at :meth:`RequestMetrics.close`, as
:class:`~switchyard.metrics.sink.MetricSink` does for its counters, with one EMF document (one log
line) per group of dimension values. Every document carries the bare ``service`` dimension set
too: CloudWatch never sums across dimension sets, so the totals that alarms watch must be emitted
as such (docs/observability.md lists every metric, unit and set).

Latencies go out as value lists: every value up to :data:`SAMPLE_CAP` per series and interval,
a uniform sample beyond (reservoir sampling). A Lambda instance serves one request at a time, so
in AWS the lists are complete and CloudWatch's percentiles exact; only a busy local process is
sampled.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from random import random
from time import monotonic
from typing import Protocol

from switchyard.api.chat import Usage
from switchyard.errors import GatewayError, SwitchyardError
from switchyard.metrics import (
    ANSWERS,
    BREAKER_OPENS,
    COST_SAVED_USD,
    COST_USD,
    DEPLOYMENT,
    ERROR_KIND,
    ERRORS,
    FALLBACKS,
    INPUT_TOKENS,
    LATENCY,
    MODEL,
    OUTPUT_TOKENS,
    PROVIDER,
    REQUESTS,
    SERVICE,
    STATUS_CLASS,
    TENANT,
    UPSTREAM_LATENCY,
)


class Answered(Protocol):
    """What an accounted answer tells the metrics (``switchyard.accounting.UsageRecord`` is one)."""

    @property
    def provider(self) -> str: ...
    @property
    def upstream_model(self) -> str: ...
    @property
    def usage(self) -> Usage: ...
    @property
    def cost_usd(self) -> Decimal: ...
    @property
    def cache_hit(self) -> bool: ...
    @property
    def saved_usd(self) -> Decimal: ...


# EMF takes at most 100 values per metric in one document.
SAMPLE_CAP = 100
COUNT, MILLISECONDS, NO_UNIT = "Count", "Milliseconds", "None"

# The kind of an error response nothing classified (a 413 from the body-size middleware, a 404
# from the router), by status.
_STATUS_KINDS = {
    400: "invalid_request",
    401: "authentication",
    403: "permission_denied",
    404: "not_found",
    413: "payload_too_large",
    429: "client_rate_limited",
}


@dataclass(frozen=True, slots=True)
class Group:
    """One EMF document: metrics that share dimension values. ``dimension_sets`` are the sets
    beyond the bare ``service`` one (each is published with ``service`` added)."""

    dimension_sets: tuple[dict[str, str], ...]
    metrics: tuple[tuple[str, str, float | list[float]], ...]  # name, unit, value or values


type Publish = Callable[[Sequence[Group]], None]


def error_kind(error: BaseException | None, status: int) -> str:
    """The taxonomy kind an error response is counted under: for "no deployment could answer",
    the last provider failure's kind (rate_limited, overloaded, timeout…), which says why."""
    if isinstance(error, GatewayError) and error.last is not None:
        return error.last.kind.value
    if isinstance(error, SwitchyardError):
        return error.kind.value
    if status >= 500:
        return "internal"
    return _STATUS_KINDS.get(status, "invalid_request")


class _Samples:
    __slots__ = ("seen", "values")

    def __init__(self) -> None:
        self.values: list[float] = []
        self.seen = 0

    def add(self, value: float) -> None:
        self.seen += 1
        if len(self.values) < SAMPLE_CAP:
            self.values.append(value)
            return
        slot = int(random() * self.seen)
        if slot < SAMPLE_CAP:
            self.values[slot] = value


class _Usage:
    __slots__ = ("answers", "cost_usd", "input_tokens", "output_tokens", "saved_usd")

    def __init__(self) -> None:
        self.answers = self.input_tokens = self.output_tokens = 0
        self.cost_usd = self.saved_usd = 0.0


class RequestMetrics:
    def __init__(
        self,
        *,
        namespace: str = "Switchyard",
        service: str = "switchyard",
        interval_s: float = 60.0,
        publish: Publish | None = None,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._interval_s = interval_s
        self._clock = clock
        self._last_flush = clock()
        self._publish = publish or (lambda groups: publish_emf(namespace, service, groups))
        # Spend since the process started: what the local runtime's cost alarms watch.
        self.cost_total_usd = 0.0
        self._reset()

    def _reset(self) -> None:
        self._requests = 0
        self._fallbacks = 0
        self._latency = _Samples()
        self._errors: dict[tuple[str, str], int] = {}
        self._upstream: dict[str, _Samples] = {}
        self._usage: dict[tuple[str, str, str], _Usage] = {}
        self._breaker_opens: dict[str, int] = {}

    def request(self, latency_ms: float, status: int, error: BaseException | None = None) -> None:
        """A model route's response started (``status``), ``latency_ms`` after the request came."""
        self._requests += 1
        self._latency.add(latency_ms)
        if status >= 400:
            key = (error_kind(error, status), "5xx" if status >= 500 else "4xx")
            self._errors[key] = self._errors.get(key, 0) + 1
        self._tick()

    def stream_failed(self, error: BaseException, status: int) -> None:
        """A stream that had started (counted as a request with its 200) failed after its first
        token: an error all the same, of the status the failure would have had before it."""
        key = (error_kind(error, status), "5xx" if status >= 500 else "4xx")
        self._errors[key] = self._errors.get(key, 0) + 1
        self._tick()

    def upstream(self, provider: str, seconds: float) -> None:
        """A provider call that answered (a stream: once its first event arrived)."""
        samples = self._upstream.get(provider)
        if samples is None:
            samples = self._upstream[provider] = _Samples()
        samples.add(seconds * 1000.0)

    def fallback(self) -> None:
        """An answer came from a deployment other than the request's first candidate: it failed,
        its breaker was open, or it was at its own limits."""
        self._fallbacks += 1

    def breaker_opened(self, deployment_id: str) -> None:
        self._breaker_opens[deployment_id] = self._breaker_opens.get(deployment_id, 0) + 1

    def answered(self, record: Answered, tenant: str) -> None:
        """An accounted answer (buffered, streamed or from the cache) and who it was for."""
        key = (record.provider, record.upstream_model, tenant)
        slot = self._usage.get(key)
        if slot is None:
            slot = self._usage[key] = _Usage()
        if record.cache_hit:
            slot.saved_usd += float(record.saved_usd)
        else:
            cost = float(record.cost_usd)
            slot.answers += 1
            slot.input_tokens += record.usage.prompt_tokens
            slot.output_tokens += record.usage.completion_tokens
            slot.cost_usd += cost
            self.cost_total_usd += cost
        self._tick()

    def flush(self) -> None:
        self._last_flush = self._clock()
        groups = self._groups()
        self._reset()
        if groups:  # an empty EMF flush only warns
            self._publish(groups)

    def close(self) -> None:
        self.flush()

    def _tick(self) -> None:
        if self._clock() - self._last_flush >= self._interval_s:
            self.flush()

    def _groups(self) -> list[Group]:
        groups: list[Group] = []
        totals: list[tuple[str, str, float | list[float]]] = []
        if self._requests:
            totals += [(REQUESTS, COUNT, self._requests), (LATENCY, MILLISECONDS, self._latency.values)]
        if self._fallbacks:
            totals.append((FALLBACKS, COUNT, self._fallbacks))
        if totals:
            groups.append(Group((), tuple(totals)))
        for (kind, status_class), count in self._errors.items():
            sets = ({ERROR_KIND: kind}, {STATUS_CLASS: status_class})
            groups.append(Group(sets, ((ERRORS, COUNT, count),)))
        for provider, samples in self._upstream.items():
            groups.append(
                Group(({PROVIDER: _value(provider)},), ((UPSTREAM_LATENCY, MILLISECONDS, samples.values),))
            )
        groups += self._usage_groups()
        for deployment, count in self._breaker_opens.items():
            groups.append(Group(({DEPLOYMENT: _value(deployment)},), ((BREAKER_OPENS, COUNT, count),)))
        return groups

    def _usage_groups(self) -> list[Group]:
        """Answers, tokens, cost and savings by provider and model, and by tenant."""
        groups: list[Group] = []
        for (provider, model, tenant), slot in self._usage.items():
            sets = ({PROVIDER: _value(provider), MODEL: _value(model)}, {TENANT: _value(tenant)})
            metrics: list[tuple[str, str, float | list[float]]] = []
            if slot.answers:
                metrics += [
                    (ANSWERS, COUNT, slot.answers),
                    (INPUT_TOKENS, COUNT, slot.input_tokens),
                    (OUTPUT_TOKENS, COUNT, slot.output_tokens),
                    (COST_USD, NO_UNIT, slot.cost_usd),
                ]
            if slot.saved_usd:
                metrics.append((COST_SAVED_USD, NO_UNIT, slot.saved_usd))
            if metrics:
                groups.append(Group(sets, tuple(metrics)))
        return groups


def _value(text: str) -> str:
    # Powertools drops (with a warning) a dimension whose value is empty.
    return text or "unknown"


def publish_emf(namespace: str, service: str, groups: Sequence[Group]) -> None:
    """One EMF document per group on stdout (the Lambda log), through Powertools' EMF provider.
    A provider of its own, not the shared ``Metrics`` object: that one's class-level metric set is
    also what any ``@metrics.log_metrics`` handler would flush."""
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    emf = AmazonCloudWatchEMFProvider(namespace=namespace, service=service)
    for group in groups:
        for dimensions in group.dimension_sets:
            emf.add_dimensions(**{SERVICE: service, **dimensions})
        for name, unit, value in group.metrics:
            for one in value if isinstance(value, list) else (value,):
                emf.add_metric(name=name, unit=unit, value=one)
        # Powertools prints a metric on its own once it holds 100 values: nothing may be left.
        if emf.metric_set:
            emf.flush_metrics()
        else:
            emf.clear_metrics()
