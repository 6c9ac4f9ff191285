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
# Response cache outcomes; an entry too large for one item is not stored.
CACHE_HIT = "CacheHit"
CACHE_MISS = "CacheMiss"
CACHE_ENTRY_TOO_LARGE = "CacheEntryTooLarge"
# A client key over its limit (answered 429), a deployment over its own (skipped, failover).
KEY_RATE_LIMITED = "KeyRateLimited"
DEPLOYMENT_RATE_LIMITED = "DeploymentRateLimited"
