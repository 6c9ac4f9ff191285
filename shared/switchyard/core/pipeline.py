"""The request pipeline: the two use cases every entry point runs.

- :meth:`Pipeline.answer` — a buffered answer, as an async context manager: the call is admitted
  (every stage entered), answered (by a stage, or by a provider through the attempt loop and then
  priced), passed back through the stages, and handed to the caller inside the scope; leaving the
  ``async with`` leaves every stage, which is when usage, limits and budgets settle ("charge").
  Whatever the caller does with the answer inside the block (the jobs worker stores it) happens
  before the charge; if it raises, the answer counts as not served.
- :meth:`Pipeline.stream` — a streamed answer: admitted and opened up to the upstream's first
  token (every failure until then is an ordinary error, after retries and failover), then handed
  over as a :class:`~switchyard.core.streamed.Streamed` whose closing settles everything.

Routes and the worker translate their dialect to the canonical request, call one of these, and
write what comes back; nothing else about a request lives in them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from time import perf_counter

from switchyard.accounting import Accounting, completion_usage, embedding_usage
from switchyard.api.chat import ChatRequest, Usage
from switchyard.api.embeddings import EmbeddingRequest
from switchyard.api.requests import kind_of
from switchyard.core.admission import Admission
from switchyard.core.call import Answer, Call, ServedBy
from switchyard.core.stage import Entry, Stage
from switchyard.core.streamed import Streamed, StreamParts
from switchyard.errors import InvalidRequestError, SwitchyardError
from switchyard.limits.limiter import Grant
from switchyard.metrics.requests import RequestMetrics
from switchyard.routing.attempt import Outcome, Router, buffered_call, embeddings_call
from switchyard.routing.breaker import Breakers
from switchyard.routing.stream import open_stream


@dataclass(frozen=True, slots=True)
class Pipeline:
    stages: Sequence[Stage]
    router: Router
    accounting: Accounting
    breakers: Breakers
    metrics: RequestMetrics
    timeout_s: float  # the whole attempt loop's deadline

    @asynccontextmanager
    async def answer(self, call: Call) -> AsyncIterator[Answer]:
        """Raises what a stage refuses with (RateLimitError, BudgetExceededError, …) and what the
        attempt loop raises when no provider could answer (GatewayError, ProviderError)."""
        async with Admission(self.stages, call) as scope:
            answer = call.answer
            if answer is None:
                try:
                    answer = await self._upstream(call, scope)
                except SwitchyardError as exc:
                    answer = await _rescued(call, scope, exc)
            for entry in reversed(scope.entries):
                answer = await entry.answered(call, answer)
            yield answer

    async def stream(self, call: Call) -> Streamed:
        """Admitted, and open past the upstream's first token. Raises as :meth:`answer` does while
        nothing has been sent; the caller must close what it gets (``Streamed.aclose``). Raises
        InvalidRequestError for a request that does not stream (embeddings), before admission."""
        if not isinstance(call.request, ChatRequest):
            raise InvalidRequestError(f"{kind_of(call.request).capitalize()} requests do not stream.")
        scope = Admission(self.stages, call)
        await scope.__aenter__()
        parts = StreamParts(call, scope, self.accounting, self.breakers, self.metrics)
        if call.answer is not None:
            return Streamed.replay(parts, call.answer)
        request = call.request  # as the stages left it (a persona's prompt, remembered turns)
        try:
            if not isinstance(request, ChatRequest):
                raise InvalidRequestError(f"{kind_of(request).capitalize()} requests do not stream.")
            outcome = await self.router.run(request, self.timeout_s, open_stream)
        except SwitchyardError as exc:
            try:
                return Streamed.replay(parts, await _rescued(call, scope, exc))
            except BaseException:
                await scope.leave(served=False)
                raise
        except BaseException:
            await scope.leave(served=False)
            raise
        scope.hold(_Deployment(outcome.grant))
        return Streamed.upstream(parts, outcome)

    async def _upstream(self, call: Call, scope: Admission) -> Answer:
        """A provider's answer through the attempt loop, priced (a chat completion, or the
        embeddings of an embeddings call)."""
        request = call.request
        if isinstance(request, EmbeddingRequest):
            embedded = await self.router.run(request, self.timeout_s, embeddings_call)
            scope.hold(_Deployment(embedded.grant))
            self._price(call, embedded, *embedding_usage(request, embedded.result))
            return Answer(embedded.result.to_json(), served_by(embedded), call.record)
        outcome = await self.router.run(request, self.timeout_s, buffered_call)
        scope.hold(_Deployment(outcome.grant))
        completion = outcome.result
        self._price(call, outcome, *completion_usage(request, completion))
        # An OpenAI-dialect upstream's validated JSON goes out as it came (no re-serialization).
        return Answer(completion.to_json(), served_by(outcome), call.record, completion)

    def _price[T](self, call: Call, outcome: Outcome[T], usage: Usage, estimated: bool) -> None:
        call.record = self.accounting.record(
            outcome.candidate,
            usage,
            request_id=call.request_id,
            attempts=outcome.attempts,
            latency_s=perf_counter() - call.started,
            estimated=estimated,
        )


async def _rescued(call: Call, scope: Admission, error: SwitchyardError) -> Answer:
    """The first answer a stage gives for a call no provider answered; raises ``error`` when none
    does."""
    for entry in reversed(scope.entries):
        answer = await entry.rescue(call, error)
        if answer is not None:
            call.answer = answer
            return answer
    raise error


def served_by[T](outcome: Outcome[T]) -> ServedBy:
    cand = outcome.candidate
    return ServedBy(cand.provider_name, cand.deployment.model, cand.deployment_id, outcome.attempts)


class _Deployment(Entry):
    """The answering deployment's own limit grant: its tokens are the answer's, served or not
    (the provider spent them either way)."""

    __slots__ = ("_grant",)

    def __init__(self, grant: Grant) -> None:
        self._grant = grant

    async def leave(self, call: Call, served: bool) -> None:
        self._grant.settle(call.record.tokens if call.record is not None else 0)
