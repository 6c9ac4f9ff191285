"""What every answer used and cost: usage records, prices, and estimates when an upstream sends
no usage.

:class:`Accounting` turns a served answer's usage into a priced :class:`UsageRecord`; the request
pipeline hands that record to whatever settles against it (limits, budgets, usage aggregates,
metrics) when the request leaves.
"""

from switchyard.accounting.cost import ZERO, candidate_price, cost_usd, format_usd, route_prices
from switchyard.accounting.estimate import StreamUsage, completion_usage, embedding_usage, estimate_usage
from switchyard.accounting.record import Accounting, UsageRecord

__all__ = [
    "ZERO",
    "Accounting",
    "StreamUsage",
    "UsageRecord",
    "candidate_price",
    "completion_usage",
    "cost_usd",
    "embedding_usage",
    "estimate_usage",
    "format_usd",
    "route_prices",
]
