"""In-process counters, published as CloudWatch EMF at most once per interval.

One request per Lambda instance makes a flush per request too chatty (a log line each), and a
flush at shutdown never happens in Lambda, so counts accumulate and go out with the first count
after the interval has passed, and at :meth:`MetricSink.close`. Powertools' ``Metrics`` object is
made once per process, on the first flush, so importing this module costs nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import cache
from time import monotonic
from typing import Any

from switchyard.metrics.guardrails import GuardrailMetrics
from switchyard.metrics.requests import RequestMetrics

Publish = Callable[[dict[str, int]], None]


class MetricSink:
    def __init__(
        self,
        *,
        namespace: str = "Switchyard",
        service: str = "switchyard",
        interval_s: float = 60.0,
        publish: Publish | None = None,
        clock: Callable[[], float] = monotonic,
    ) -> None:
        self._totals: Counter[str] = Counter()
        self._pending: Counter[str] = Counter()
        self._interval_s = interval_s
        self._clock = clock
        self._last_flush = clock()
        self._publish = publish or (lambda counts: publish_emf(namespace, service, counts))
        # The dimensioned per-request metrics, on the same interval; closed with these counters.
        self.requests = RequestMetrics(
            namespace=namespace, service=service, interval_s=interval_s, clock=clock
        )
        # Per guardrail policy: checks, blocks, redactions (switchyard.metrics.guardrails).
        self.guardrails = GuardrailMetrics(
            namespace=namespace, service=service, interval_s=interval_s, clock=clock
        )

    def count(self, name: str, value: int = 1) -> None:
        self._totals[name] += value
        self._pending[name] += value
        if self._clock() - self._last_flush >= self._interval_s:
            self.flush()

    def totals(self) -> dict[str, int]:
        return dict(self._totals)

    def flush(self) -> None:
        self._last_flush = self._clock()
        if not self._pending:
            return  # an empty EMF flush only warns
        pending, self._pending = dict(self._pending), Counter()
        self._publish(pending)

    def close(self) -> None:
        self.flush()
        self.requests.close()
        self.guardrails.flush()


@cache
def _powertools_metrics(namespace: str, service: str) -> Any:
    from aws_lambda_powertools import Metrics

    return Metrics(namespace=namespace, service=service)


def publish_emf(namespace: str, service: str, counts: dict[str, int]) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    metrics = _powertools_metrics(namespace, service)
    for name, value in counts.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    metrics.flush_metrics()
