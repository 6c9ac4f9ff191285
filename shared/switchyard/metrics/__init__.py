"""Metric names: one constant per meaningful event (CloudWatch EMF, namespace from settings).

Counted in process by :class:`switchyard.metrics.sink.MetricSink`, shown in ``/health/ready`` and
published as EMF at most once per interval.
"""

from __future__ import annotations

# A state operation served by the in-memory fallback because DynamoDB failed (or is resting
# after a failure), per component.
STATE_DEGRADED_BREAKERS = "StateDegradedBreakers"
STATE_DEGRADED_LIMITS = "StateDegradedLimits"
STATE_DEGRADED_CACHE = "StateDegradedCache"
# A budget or limit counter write DynamoDB refused for throughput (after botocore's retry): the
# item is hotter than its partition allows, and budgets or limits degrade while it lasts.
BUDGET_WRITES_THROTTLED = "BudgetWritesThrottled"
LIMIT_WRITES_THROTTLED = "LimitWritesThrottled"
STATE_DEGRADED_SIGNATURES = "StateDegradedSignatures"
# Response cache outcomes; an entry too large for one item is not stored.
CACHE_HIT = "CacheHit"
CACHE_MISS = "CacheMiss"
CACHE_ENTRY_TOO_LARGE = "CacheEntryTooLarge"
CACHE_PURGED = "CachePurged"  # an entry found stale after a purge (also counted as a miss)
# Conversation memory: the store could not be read (answered without the remembered turns) or
# written (this exchange is not remembered); older turns folded into a summary, or not (dropped).
MEMORY_UNAVAILABLE = "MemoryUnavailable"
MEMORY_SAVE_FAILED = "MemorySaveFailed"
MEMORY_SUMMARIES = "MemorySummaries"
MEMORY_SUMMARY_FAILED = "MemorySummaryFailed"
# Answers of last resort when every candidate failed: a stale cached answer, or the template.
LAST_RESORT_STALE_CACHE = "LastResortStaleCache"
LAST_RESORT_TEMPLATE = "LastResortTemplate"
# A client key over its limit (answered 429), a deployment over its own (skipped, failover).
KEY_RATE_LIMITED = "KeyRateLimited"
DEPLOYMENT_RATE_LIMITED = "DeploymentRateLimited"
# The rotation function's hourly check: provider key secrets due to rotate soon without a backup
# (switchyard.keys.backup_watch); template.yaml alarms when it is above 0.
PROVIDER_KEYS_WITHOUT_BACKUP = "ProviderKeysWithoutBackup"

# Per-request metrics with dimensions (:class:`switchyard.metrics.requests.RequestMetrics`);
# docs/observability.md lists each one's unit and dimension sets. Every set includes ``service``
# (Powertools adds it), and CloudWatch does not sum across sets, so an alarm must name one of the
# sets exactly as emitted (tests/unit/test_metrics_emf.py checks template.yaml against the output).
REQUESTS = "Requests"  # a request to a model route got a response (or failed before one)
ERRORS = "Errors"  # ... and that response was an error
LATENCY = "Latency"  # ms until the response started: a buffered answer, a stream's first token
UPSTREAM_LATENCY = "UpstreamLatency"  # ms of a provider call that answered
ANSWERS = "Answers"  # answers served by a provider (cache hits are CacheHit)
FALLBACKS = "Fallbacks"  # ... by a deployment other than the request's first candidate
INPUT_TOKENS = "InputTokens"
OUTPUT_TOKENS = "OutputTokens"
COST_USD = "CostUSD"
COST_SAVED_USD = "CostSavedUSD"  # what cache hits would have cost
BREAKER_OPENS = "BreakerOpens"

# Dimension names.
SERVICE = "service"
ERROR_KIND = "ErrorKind"  # a switchyard.errors.Kind value
STATUS_CLASS = "StatusClass"  # "4xx" or "5xx"
PROVIDER = "Provider"
MODEL = "Model"  # the upstream model that answered (what the provider bills)
TENANT = "Tenant"
DEPLOYMENT = "Deployment"
