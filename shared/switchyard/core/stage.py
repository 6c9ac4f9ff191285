"""The one interface every step of the request path implements.

A :class:`Stage` is built once (by the composition root) and asked to :meth:`~Stage.enter` each
call, in the pipeline's order. Entering, it may

- rewrite the request (``call.request = …``: a downgrade, a persona's system prompt),
- answer it itself (``call.answer = …``: a cache hit; no provider is called then),
- refuse it (raise a :class:`~switchyard.errors.SwitchyardError`: a limit, a budget), or
- take something that must be given back (a limit grant, a budget reservation).

It returns an :class:`Entry` (its state for this one call), or None when it has nothing to do for
the call. The pipeline keeps the entries in a scope (:class:`~switchyard.core.admission.Admission`)
and, after the call,

- when no provider could answer (the attempt loop raised), asks each entry's :meth:`Entry.rescue`
  (innermost first) for an answer to give instead (a stale cached answer, a template); the first
  one wins, else the caller gets the error,
- hands a buffered answer to each entry's :meth:`Entry.answered` (innermost first), which may
  rewrite or refuse it,
- passes a streamed answer's chunks through each entry's :meth:`Entry.chunks` (innermost first),
  which sees them one by one and may hold some back or end the stream with an error,
- and on every exit (answer, error, cancellation, a client gone mid-stream) calls each entry's
  :meth:`Entry.leave` exactly once, in reverse order, with whether the answer was served and, if
  it was, its priced usage in ``call.record``.

A new feature is a new stage class and a line of configuration; routes and entry points never
change for it (docs/architecture.md shows one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

from switchyard.api.stream import ChatCompletionChunk
from switchyard.core.call import Answer, Call
from switchyard.errors import SwitchyardError


class Entry:
    """One stage's part in one call. Every hook has a default that does nothing."""

    __slots__ = ()

    async def rescue(self, call: Call, error: SwitchyardError) -> Answer | None:
        """No provider answered (``error``: what the caller would get). Return an answer to give
        instead, or None. Set what the answer should say about itself in ``call.headers``."""
        return None

    async def answered(self, call: Call, answer: Answer) -> Answer:
        """A buffered answer on its way out: return it (or another one), or raise to refuse it."""
        return answer

    def chunks(
        self, call: Call, chunks: AsyncIterator[ChatCompletionChunk]
    ) -> AsyncIterator[ChatCompletionChunk]:
        """A streamed answer's chunks on their way out: return an iterator over what the client
        may see. Raising from it ends the stream with an error event."""
        return chunks

    async def leave(self, call: Call, served: bool) -> None:
        """Give back what :meth:`Stage.enter` took. Called once, on every exit; ``served`` says
        whether the caller got the answer (``call.record``: what it used and cost). Must not
        raise: a failure here is logged and the other entries still leave."""


class Stage(Protocol):
    """A step of the request path; its ``name`` is how configuration and logs refer to it."""

    name: str

    async def enter(self, call: Call) -> Entry | None:
        """Admit, rewrite, answer or refuse ``call`` (raise a SwitchyardError to refuse)."""
        ...
