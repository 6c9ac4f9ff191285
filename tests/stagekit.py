"""A pipeline stage for tests, added through the routing config like any configured stage
(``pipeline.stages: [{use: "stagekit:Recording"}]``): it keeps the priced usage of every answer the
caller got, which is what the gateway charges (a job that failed after its provider call is not);
and :class:`Fault`, a stage that fails on purpose where a test arms it."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from switchyard.accounting import UsageRecord
from switchyard.api.chat import AssistantMessage, ChatCompletion, ChatRequest, Choice, Message
from switchyard.api.stream import ChatCompletionChunk
from switchyard.core import Answer, Call, Entry, ServedBy
from switchyard.errors import SwitchyardError

RECORDING_STAGE = {"use": "stagekit:Recording"}


def with_recording(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a routing config) with the recording stage last in its pipeline."""
    pipeline = dict(config.get("pipeline") or {})
    pipeline["stages"] = [*pipeline.get("stages", []), RECORDING_STAGE]
    return {**config, "pipeline": pipeline}


class Recording:
    name = "recording"

    def __init__(self) -> None:
        self.records: list[UsageRecord] = []
        self._entry = _Keep(self.records)

    async def enter(self, call: Call) -> Entry:
        return self._entry

    def per_request(self) -> Counter[str]:
        return Counter(r.request_id for r in self.records)


class _Keep(Entry):
    __slots__ = ("_records",)

    def __init__(self, records: list[UsageRecord]) -> None:
        self._records = records

    async def leave(self, call: Call, served: bool) -> None:
        if served and call.record is not None:
            self._records.append(call.record)


def recording(gateway: Any) -> Recording:
    """The gateway's recording stage (its routing config must name it)."""
    [stage] = [s for s in gateway.pipeline.stages if isinstance(s, Recording)]
    return stage


class Fault:
    """A stage that fails on purpose where it is armed: on entering, on a buffered answer, or on
    the first streamed chunk; by raising a gateway error or by cancelling the request's task (what
    a client that goes away does). Configured after a built-in stage (``after``); disarmed after
    it fires once."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.hook: str | None = None
        self.mode = "raise"

    def arm(self, hook: str, mode: str) -> None:
        self.hook, self.mode = hook, mode

    async def fire(self, hook: str) -> None:
        if self.hook != hook:
            return
        self.hook = None
        if self.mode == "cancel":
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            await asyncio.sleep(0)  # the cancellation lands here, as it would at any await
        raise InternalFaultError(f"{self.name} failed on {hook}")

    async def enter(self, call: Call) -> Entry:
        await self.fire("enter")
        return _Faulty(self)


class InternalFaultError(SwitchyardError):
    """A failure injected by a test."""


class _Faulty(Entry):
    __slots__ = ("_fault",)

    def __init__(self, fault: Fault) -> None:
        self._fault = fault

    async def answered(self, call: Call, answer: Answer) -> Answer:
        await self._fault.fire("answered")
        return answer

    def chunks(
        self, call: Call, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        return self._passed(chunks)

    async def _passed(self, chunks: AsyncIterator[ChatCompletionChunk]) -> AsyncIterator[ChatCompletionChunk]:
        async for chunk in chunks:
            await self._fault.fire("chunks")
            yield chunk


class Uppercase:
    """The example of docs/architecture.md: a feature that is one class plus configuration. It
    shouts every answer, buffered or streamed, and says so in a header."""

    name = "uppercase"

    def __init__(self, header: str = "x-shouted") -> None:
        self._header = header

    async def enter(self, call: Call) -> Entry:
        call.headers[self._header] = "yes"
        return _Shout()


class _Shout(Entry):
    __slots__ = ()

    async def answered(self, call: Call, answer: Answer) -> Answer:
        completion = answer.parsed().model_copy(deep=True)
        for choice in completion.choices:
            choice.message.content = (choice.message.content or "").upper()
        return Answer(completion.to_json(), answer.served_by, answer.record, completion)

    def chunks(
        self, call: Call, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        return self._shouted(chunks)

    async def _shouted(
        self, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        async for chunk in chunks:
            for choice in chunk.choices:
                if choice.delta.content:
                    choice.delta.content = choice.delta.content.upper()
            yield chunk


class Apology:
    """Answers with a fixed text when no provider could (a template answer)."""

    name = "apology"

    def __init__(self, text: str = "Sorry, try again later.") -> None:
        self._entry = _Apologise(text)

    async def enter(self, call: Call) -> Entry:
        return self._entry


class _Apologise(Entry):
    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    async def rescue(self, call: Call, error: SwitchyardError) -> Answer | None:
        completion = ChatCompletion(
            id="apology", created=0, model=call.asked_model,
            choices=[Choice(message=AssistantMessage(content=self._text), finish_reason="stop")],
        )  # fmt: skip
        call.headers["x-switchyard-fallback"] = "template"
        return Answer(
            completion.to_json(), ServedBy("template", call.asked_model, "template", 0), None, completion
        )


class Policies:
    """Keeps the guardrail policy names every call carried when it reached this stage (what a
    guardrail stage placed here would apply)."""

    name = "policies"

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    async def enter(self, call: Call) -> None:
        self.seen.append(list(call.guardrails))


class SystemNote:
    """Rewrites the request on its way in: a system message first (what a persona does)."""

    name = "system-note"

    def __init__(self, note: str = "Be brief.") -> None:
        self._note = note

    async def enter(self, call: Call) -> None:
        request = call.request
        if isinstance(request, ChatRequest):
            note = Message(role="system", content=self._note)
            call.request = request.model_copy(update={"messages": [note, *request.messages]})


class Attach:
    """Names guardrail policies on every call, as a persona stage does with its persona's policy
    (``Call.guardrails``); configured ``after: "access"``, before the guardrail stage."""

    name = "attach"

    def __init__(self, guardrails: list[str]) -> None:
        self._names = list(guardrails)

    async def enter(self, call: Call) -> None:
        call.guardrails.extend(self._names)
