"""The composition root: the one place that builds every function's parts from its settings and
chooses every adapter (DynamoDB or memory state, EventBridge or memory events, SQS or an in-process
queue, keys given or read from Secrets Manager).

- :func:`open_gateway` — the router's and the worker's gateway (the request pipeline and all it
  runs on), :mod:`switchyard.compose.gateway`;
- :func:`open_budget_function`, :func:`open_rotator`, :func:`open_backup_watch` — the budget and
  rotation functions, :mod:`switchyard.compose.functions`.

Nothing is built at import; handlers call these once per cold start.
"""

from switchyard.compose.functions import open_backup_watch, open_budget_function, open_rotator
from switchyard.compose.gateway import Gateway, open_gateway

__all__ = ["Gateway", "open_backup_watch", "open_budget_function", "open_gateway", "open_rotator"]
