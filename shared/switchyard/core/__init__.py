"""The core: the request pipeline every entry point runs.

- :mod:`~switchyard.core.call` — a request on its way through (:class:`Call`) and its answers.
- :mod:`~switchyard.core.stage` — the one interface of a step of the path (:class:`Stage`).
- :mod:`~switchyard.core.admission` — the scope that gives back what a request took, on every exit.
- :mod:`~switchyard.core.pipeline` — the use cases: a buffered answer, a streamed answer.
- :mod:`~switchyard.core.streamed` — a streamed answer's events and its one close.
- :mod:`~switchyard.core.stages` — the built-in stages: access, guardrails (input), cache, usage,
  limits, budgets, guardrails (output).
"""

from switchyard.core.admission import Admission
from switchyard.core.call import Answer, Call, ServedBy
from switchyard.core.pipeline import Pipeline
from switchyard.core.stage import Entry, Stage
from switchyard.core.streamed import Streamed, StreamEnd, StreamEvent, StreamFailed

__all__ = [
    "Admission",
    "Answer",
    "Call",
    "Entry",
    "Pipeline",
    "ServedBy",
    "Stage",
    "StreamEnd",
    "StreamEvent",
    "StreamFailed",
    "Streamed",
]
