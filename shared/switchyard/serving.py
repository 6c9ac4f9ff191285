"""The buffered chat flow, outside HTTP: gate (cache, key limits, budgets) → router → accounting →
cache.

:func:`serve_chat` is what ``POST /v1/chat/completions`` runs for a buffered answer and what the
jobs worker runs for each job, so a job meets exactly the same limits, cache, retries, fallback,
cost and budgets as a request. ``before_charge`` lets the worker store the answer (and the job's
final status) after the provider call and before the usage is recorded (docs/jobs.md: the crash
windows).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import TYPE_CHECKING

from switchyard.accounting import UsageRecord
from switchyard.api.chat import ChatCompletion, ChatRequest
from switchyard.cost import format_usd
from switchyard.routing.attempt import Outcome

if TYPE_CHECKING:
    from switchyard.gateway import Gateway

# Called with the answer's JSON once the provider has answered, before anything is charged.
type BeforeCharge = Callable[[bytes, Outcome[ChatCompletion]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Served:
    """A buffered answer: its JSON body and the gateway's answer headers."""

    body: bytes
    headers: dict[str, str]
    record: UsageRecord | None = None  # None: answered from the cache, nothing charged


async def serve_chat(
    gateway: Gateway,
    body: ChatRequest,
    key_id: str,
    request_id: str,
    headers: Mapping[str, str],
    *,
    before_charge: BeforeCharge | None = None,
) -> Served:
    """Raises what the gate (RateLimitError, InvalidRequestError) and the router (GatewayError)
    raise; a request that fails before its answer settles its key's token estimate."""
    started = perf_counter()
    # Cache lookup and the key's limits; the entry is settled by the accounting of its answer.
    entry = await gateway.gate.enter(body, key_id, headers, request_id)
    if entry.cached is not None:
        return Served(entry.cached.body, entry.hit_headers())
    try:
        body = entry.request  # the caller's, or its downgrade when a budget is spent
        outcome = await gateway.router.chat(body, gateway.settings.request_timeout_s)
        # An OpenAI-dialect upstream's validated JSON goes out as it came (no re-serialization).
        payload = outcome.completion.to_json()
        if before_charge is not None:
            await before_charge(payload, outcome)
    except BaseException:
        entry.settle(None)  # nothing was served
        raise
    # The same accounting as streamed answers (usage, cost, sinks, the "request served" log).
    record = await gateway.accounting.record_completion(
        body, outcome, request_id=request_id, latency_s=perf_counter() - started
    )
    await entry.store(payload, outcome.candidate)
    return Served(payload, {**answer_headers(outcome, record), **entry.headers()}, record)


def routing_headers[T](outcome: Outcome[T]) -> dict[str, str]:
    """Who answered and how many upstream calls it took: the same on buffered and streamed answers."""
    cand = outcome.candidate
    return {
        "x-switchyard-provider": cand.provider_name,
        "x-switchyard-model": cand.deployment.model,
        "x-switchyard-deployment": cand.deployment_id,
        "x-switchyard-attempts": str(outcome.attempts),
    }


def answer_headers(outcome: Outcome[ChatCompletion], record: UsageRecord) -> dict[str, str]:
    return {**routing_headers(outcome), "x-switchyard-cost-usd": format_usd(record.cost_usd)}
