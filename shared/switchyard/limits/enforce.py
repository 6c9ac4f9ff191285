"""Limits as the request path applies them.

A client key over its limit gets a 429 with ``Retry-After`` and the ``x-ratelimit-*`` headers; a
deployment over its own limit is skipped like an open breaker, and the attempt loop fails over.
Scopes without limits cost nothing: no estimate, no lease, no store.
"""

from __future__ import annotations

import math

from switchyard.api.requests import CanonicalRequest
from switchyard.config.routing import DeploymentConfig, LimitsConfig, RateLimits
from switchyard.errors import RateLimitError
from switchyard.limits.lease import Denial
from switchyard.limits.limiter import NO_GRANT, Grant, Limiter
from switchyard.limits.windows import LimitSpec, estimate_tokens, merged, spec_of
from switchyard.metrics import DEPLOYMENT_RATE_LIMITED, KEY_RATE_LIMITED
from switchyard.metrics.sink import MetricSink
from switchyard.state.ports import deployment_scope, key_scope

__all__ = ["NO_GRANT", "DeploymentLimits", "Grant", "KeyLimits"]


class KeyLimits:
    def __init__(self, limiter: Limiter, config: LimitsConfig, metrics: MetricSink) -> None:
        self._limiter = limiter
        self._config = config
        self._metrics = metrics
        self._specs: dict[str, LimitSpec] = {}
        self._own: dict[str, RateLimits] = {}  # virtual keys' own limits, by key id

    def use(self, key_id: str, limits: RateLimits) -> None:
        """A virtual key's own limits, over the config's (a dict lookup when they are unchanged)."""
        if self._own.get(key_id) is not limits:
            self._own[key_id] = limits
            self._specs.pop(key_id, None)

    def spec(self, key_id: str) -> LimitSpec:
        spec = self._specs.get(key_id)
        if spec is None:
            configured = merged(self._config.default, self._config.keys.get(key_id))
            spec = spec_of(merged(configured, self._own.get(key_id)))
            self._specs[key_id] = spec
        return spec

    def estimate(self, key_id: str, request: CanonicalRequest) -> int:
        """The request's estimated tokens, or 0 when this key's tokens are not limited."""
        if not self.spec(key_id).counts_tokens:
            return 0
        return estimate_tokens(request, self._config.default_output_tokens)

    async def admit(self, key_id: str, tokens: int) -> Grant:
        """Raises RateLimitError (429, ``Retry-After``, ``x-ratelimit-*``) over the key's limit."""
        spec = self.spec(key_id)
        if spec.unlimited:
            return NO_GRANT
        scope = key_scope(key_id)
        admitted = await self._limiter.admit(scope, spec, tokens)
        if isinstance(admitted, Denial):
            self._metrics.count(KEY_RATE_LIMITED)
            wait = max(1, math.ceil(admitted.retry_after_s))
            raise RateLimitError(
                f"{admitted.describe()} for this API key. Retry after {wait} s.",
                retry_after=wait,
                headers=self._limiter.headers(scope, spec),
            )
        return admitted

    def headers(self, key_id: str) -> dict[str, str]:
        spec = self.spec(key_id)
        return self._limiter.headers(key_scope(key_id), spec) if not spec.unlimited else {}


class DeploymentLimits:
    def __init__(self, limiter: Limiter, config: LimitsConfig, metrics: MetricSink) -> None:
        self._limiter = limiter
        self._default_output = config.default_output_tokens
        self._metrics = metrics
        self._specs: dict[str, LimitSpec] = {}

    async def admit(self, deployment: DeploymentConfig, request: CanonicalRequest) -> Grant | Denial:
        """A grant, or the denial that keeps this deployment out of this request."""
        spec = self._specs.get(deployment.deployment_id)
        if spec is None:
            spec = self._specs[deployment.deployment_id] = spec_of(deployment)
        if spec.unlimited:
            return NO_GRANT
        tokens = estimate_tokens(request, self._default_output) if spec.counts_tokens else 0
        admitted = await self._limiter.admit(deployment_scope(deployment.deployment_id), spec, tokens)
        if isinstance(admitted, Denial):
            self._metrics.count(DEPLOYMENT_RATE_LIMITED)
        return admitted
