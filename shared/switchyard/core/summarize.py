"""A call the gateway makes on a caller's behalf: a conversation's summary.

It goes through the same attempt loop as every call (candidates, breakers, retries, failover,
the deployment's own limits), within the budgets of the caller's key and tenant (a spent budget
refuses it: the memory then drops turns instead), and its usage and cost are filed under the
caller's key and the summary model, like any answer.
"""

from __future__ import annotations

from time import perf_counter

from switchyard.accounting import ZERO, Accounting, completion_usage
from switchyard.api.chat import ChatRequest
from switchyard.budgets.service import Budgets
from switchyard.core.call import Call
from switchyard.memory.summary import summary_text
from switchyard.routing.attempt import Router, buffered_call
from switchyard.usage.recorder import UsageRecorder


class Summarizer:
    def __init__(
        self,
        router: Router,
        accounting: Accounting,
        usage: UsageRecorder,
        budgets: Budgets,
        *,
        timeout_s: float,
    ) -> None:
        self._router = router
        self._accounting = accounting
        self._usage = usage
        self._budgets = budgets
        self._timeout_s = timeout_s

    async def summarize(self, request: ChatRequest, call: Call) -> str:
        """The summary's text. Raises what the attempt loop and the budgets raise."""
        started = perf_counter()
        ticket = await self._budgets.admit(request, call.identity)
        cost = ZERO
        try:
            outcome = await self._router.run(request, self._timeout_s, buffered_call)
            usage, estimated = completion_usage(request, outcome.result)
            record = self._accounting.record(
                outcome.candidate,
                usage,
                request_id=call.request_id,
                attempts=outcome.attempts,
                latency_s=perf_counter() - started,
                estimated=estimated,
            )
            outcome.grant.settle(record.tokens)
            self._usage.answered(record, call.key_id, call.tenant)
            cost = record.cost_usd
        finally:
            ticket.settle(cost)
        return summary_text(outcome.result)
