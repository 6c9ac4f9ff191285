"""The exact response cache as a stage: a hit answers the call (no provider is called, one request
and no tokens against the key's limits), buffered or replayed as a stream; a fresh answer is
stored on its way out, and a streamed one once it is complete.

An answer is stored only for the request the key was made from: when a later stage routed the call
elsewhere (a budget's downgrade), the answer is not the asked model's and is not kept; nor is an
answer no provider gave (a stage's rescue). A stream is stored when the call leaves, once the
caller has every chunk and before its end event, only if every choice finished: a stream cut
short, failed or abandoned is never stored. Every provider answer to a call that missed is filed
in the usage aggregates with whether it was stored (the cache statistics of ``/admin/cache``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from switchyard.accounting import Accounting, UsageRecord
from switchyard.api.assembly import StreamAssembly
from switchyard.api.requests import CanonicalRequest
from switchyard.api.stream import ChatCompletionChunk
from switchyard.cache.policy import CachePlan
from switchyard.cache.service import CachedAnswer, CacheService
from switchyard.core.call import Answer, Call, ServedBy
from switchyard.core.stage import Entry
from switchyard.observability import logger
from switchyard.usage.recorder import UsageRecorder

HEADER = "x-switchyard-cache"


class CacheStage:
    name = "cache"

    def __init__(self, cache: CacheService, usage: UsageRecorder) -> None:
        self._cache = cache
        self._usage = usage

    async def enter(self, call: Call) -> Entry | None:
        """Raises InvalidRequestError for a malformed cache header."""
        plan = self._cache.plan(
            call.request, key_id=call.key_id, tenant=call.tenant, headers=call.request_headers
        )
        cached = await self._cache.lookup(plan)
        if cached is not None:
            call.headers[HEADER] = "hit"
            served = ServedBy(cached.provider, cached.model, cached.deployment_id, 0)
            call.record = Accounting.record_hit(
                call.asked_model,
                cached.provider,
                cached.deployment_id,
                cached.model,
                cached.cost_usd,
                request_id=call.request_id,
            )
            call.answer = Answer(cached.body, served, call.record)
            return None
        call.headers[HEADER] = "miss" if plan.lookup else "skip"
        if not (plan.lookup or plan.store):
            return None
        return _Miss(self._cache, self._usage, plan, call.request)


class _Miss(Entry):
    __slots__ = ("_assembly", "_cache", "_plan", "_request", "_stored", "_usage")

    def __init__(
        self, cache: CacheService, usage: UsageRecorder, plan: CachePlan, request: CanonicalRequest
    ) -> None:
        self._cache = cache
        self._usage = usage
        self._plan = plan
        self._request = request
        self._stored = False
        self._assembly: StreamAssembly | None = None

    def _keeps(self, call: Call) -> bool:
        """A provider's answer to the request the plan was made for."""
        return self._plan.store and call.request is self._request and call.answer is None

    async def answered(self, call: Call, answer: Answer) -> Answer:
        if self._keeps(call) and answer.record is not None:
            self._stored = await self._cache.save(
                self._plan, _cached(answer.served_by, answer.body, answer.record)
            )
        return answer

    def chunks(
        self, call: Call, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        if not self._keeps(call):
            return chunks
        self._assembly = StreamAssembly()
        return self._assembled(chunks, self._assembly)

    @staticmethod
    async def _assembled(
        chunks: AsyncIterator[ChatCompletionChunk], assembly: StreamAssembly
    ) -> AsyncIterator[ChatCompletionChunk]:
        async for chunk in chunks:
            assembly.add(chunk)
            yield chunk

    async def leave(self, call: Call, served: bool) -> None:
        record = call.record
        if not served or record is None or call.answer is not None:
            return  # no answer, or not a provider's
        assembly = self._assembly
        if assembly is not None and assembly.complete and not record.partial and self._keeps(call):
            try:
                body = assembly.completion(record.usage).to_json()
                served_by = ServedBy(
                    record.provider, record.upstream_model, record.deployment_id, record.attempts
                )
                self._stored = await self._cache.save(self._plan, _cached(served_by, body, record))
            except Exception:  # a stream that cannot be stored is only not cached
                logger.exception("streamed answer not cached", extra={"request_id": call.request_id})
        if self._plan.lookup:
            self._usage.cached(record, call.key_id, call.tenant, stored=self._stored)


def _cached(served: ServedBy, body: bytes, record: UsageRecord) -> CachedAnswer:
    return CachedAnswer(body, served.provider, served.model, served.deployment_id, record.cost_usd)
