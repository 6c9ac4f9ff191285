"""Budgets as a stage: the call's worst-case cost is reserved on every budget it falls under
before any provider is called; at 100 % a budget blocks (429 ``budget_exceeded``) or routes the
call to its cheaper model (``x-switchyard-budget: downgraded``). The reservation settles with the
real cost when the call leaves: what the provider billed, even for an answer a later stage refused
(nothing when no provider answered). Cache hits are free and pass."""

from __future__ import annotations

from switchyard.accounting import ZERO
from switchyard.budgets.service import Budgets, Ticket
from switchyard.core.call import Call
from switchyard.core.stage import Entry


class BudgetStage:
    name = "budgets"

    def __init__(self, budgets: Budgets) -> None:
        self._budgets = budgets

    async def enter(self, call: Call) -> Entry | None:
        """Raises BudgetExceededError when a blocking budget is spent."""
        if call.answer is not None:
            return None
        ticket = await self._budgets.admit(call.request, call.identity)
        if ticket.downgraded_to is not None:
            call.request = call.request.model_copy(update={"model": ticket.downgraded_to})
        call.headers.update(ticket.headers())
        return _Settle(ticket)


class _Settle(Entry):
    __slots__ = ("_ticket",)

    def __init__(self, ticket: Ticket) -> None:
        self._ticket = ticket

    async def leave(self, call: Call, served: bool) -> None:
        record = call.record
        # The record is the provider's bill: it stands whether or not the answer was served.
        self._ticket.settle(record.cost_usd if record is not None else ZERO)
