"""Guardrails as two stages: the input checks before the cache, the output checks right before
the provider (so that, after-hooks running innermost first, an answer is checked before the
cache stores it, and its redacted values are restored after).

- ``guardrails`` (input): works out the call's policies (``Call.guardrails`` then holds them
  all), refuses a request a policy blocks (400 ``content_blocked``), and replaces redacted values
  with placeholders before anything else sees the request (the cache key, the provider). When a
  policy restores them, the answer the caller receives gets the values back: buffered, or
  streamed with a trailing ``[...`` held until it is known whether it is a placeholder.
- ``guardrails-output``: checks the answer (a stream chunk by chunk, holding back only the
  window its rules need; a block mid-stream ends it with an error event) and, when a policy
  moderates output, has the whole answer moderated first.

Both say what they did in ``x-switchyard-guardrails`` (``redacted=2``; a stream's header
carries the input's counts) and name the policies in ``x-switchyard-guardrails-policies``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from switchyard.api.stream import ChatCompletionChunk
from switchyard.core.call import Answer, Call
from switchyard.core.stage import Entry
from switchyard.guardrails import (
    HEADER,
    POLICIES_HEADER,
    Filtered,
    Guardrails,
    OutputChecks,
    Redactions,
    Restorer,
    Tally,
    header_value,
)
from switchyard.guardrails.texts import answer_texts, rewrite_answer


class GuardrailStage:
    name = "guardrails"

    def __init__(self, guardrails: Guardrails) -> None:
        self._guardrails = guardrails

    async def enter(self, call: Call) -> Entry | None:
        """Raises ContentBlockedError, GatewayError 503 (moderation failing closed, the tenant
        unreadable), SwitchyardError 500 for a policy name that is not configured."""
        service = self._guardrails
        if not service.active and not call.guardrails:
            return None
        key = call.identity.guardrails if call.identity is not None else ()
        names = await service.names(call.request.model, call.tenant, key, call.guardrails)
        call.guardrails = list(names)
        if not names:
            return None
        call.headers[POLICIES_HEADER] = ", ".join(names)
        guarded = await service.check_input(call.request, names, call.request_id)
        call.request = guarded.request
        call.headers[HEADER] = header_value(None, guarded.tally)
        return _Restore(guarded.redactions) if guarded.redactions.restores else None


class _Restore(Entry):
    __slots__ = ("_redactions",)

    def __init__(self, redactions: Redactions) -> None:
        self._redactions = redactions

    async def answered(self, call: Call, answer: Answer) -> Answer:
        completion = answer.parsed()
        restored = rewrite_answer(completion, self._redactions.restore)
        if restored is completion:
            return answer
        return Answer(restored.to_json(), answer.served_by, answer.record, restored)

    def chunks(
        self, call: Call, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        restorer = Restorer(self._redactions)
        return Filtered(lambda: restorer).run(chunks)


class GuardrailOutputStage:
    name = "guardrails-output"

    def __init__(self, guardrails: Guardrails) -> None:
        self._guardrails = guardrails

    async def enter(self, call: Call) -> Entry | None:
        if not call.guardrails:
            return None
        checks = self._guardrails.output(call.guardrails)
        return _Check(checks) if checks is not None else None


class _Check(Entry):
    __slots__ = ("_checks",)

    def __init__(self, checks: OutputChecks) -> None:
        self._checks = checks

    async def answered(self, call: Call, answer: Answer) -> Answer:
        """Raises ContentBlockedError, GatewayError 503 (output moderation failing closed)."""
        tally = Tally()
        try:
            completion = answer.parsed()
            scan = self._checks.scan(tally)
            checked = rewrite_answer(completion, scan.text) if scan is not None else completion
            await self._checks.moderate(answer_texts(checked), tally, call.request_id)
        finally:
            self._checks.report(call.guardrails, tally, call.request_id)
        if tally.counts:
            call.headers[HEADER] = header_value(call.headers.get(HEADER), tally)
        if checked is completion:
            return answer
        return Answer(checked.to_json(), answer.served_by, answer.record, checked)

    def chunks(
        self, call: Call, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        return self._checked(call, chunks)

    async def _checked(
        self, call: Call, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        tally = Tally()
        scan = self._checks.scan(tally)
        passed = Filtered(lambda: scan).run(chunks) if scan is not None else chunks
        if self._checks.moderated:
            passed = self._checks.held_for_moderation(passed, tally, call.request_id)
        try:
            async for chunk in passed:
                yield chunk
        finally:
            self._checks.report(call.guardrails, tally, call.request_id)
