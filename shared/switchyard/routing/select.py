"""Route resolution and candidate ordering: pure functions over the validated routing config.

A public model name resolves (alias → model route, ``provider/upstream-model``, or a wildcard
pattern) to its deployments followed by its fallback models' deployments; the strategy orders
each model's deployments per request. The table is built once per cold start.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from switchyard.config.routing import DeploymentConfig, ProviderConfig, RoutingConfig, Strategy
from switchyard.errors import InvalidRequestError, NotFoundError


@dataclass(frozen=True, slots=True)
class Candidate:
    public_model: str
    provider_name: str
    provider: ProviderConfig
    deployment: DeploymentConfig

    @property
    def deployment_id(self) -> str:
        return self.deployment.deployment_id

    @property
    def context_window(self) -> int | None:
        return self.deployment.context_window


@dataclass(frozen=True, slots=True)
class _Group:
    strategy: Strategy
    candidates: tuple[Candidate, ...]


class RouteTable:
    def __init__(self, config: RoutingConfig) -> None:
        self._config = config
        self._routes: dict[str, tuple[_Group, ...]] = {}
        for name in config.models:
            self._routes[name] = tuple(self._group(m) for m in self._chain(name))
        for alias, target in config.aliases.items():
            self._routes.setdefault(alias, self._routes[target])

    @property
    def public_models(self) -> list[str]:
        return sorted(self._routes)

    def candidates(self, public_model: str, rng: random.Random) -> list[Candidate]:
        """Ordered candidates for one request. Raises NotFoundError for an unknown model."""
        groups = self._routes.get(public_model)
        if groups is None:
            groups = (self._direct(public_model),)
        ordered: list[Candidate] = []
        for group in groups:
            ordered.extend(order(group.candidates, group.strategy, rng))
        return ordered

    def _chain(self, name: str) -> list[str]:
        """The model followed by its fallbacks (and theirs), each once, in order."""
        chain: list[str] = []
        pending = [name]
        while pending:
            current = pending.pop(0)
            current = self._config.aliases.get(current, current)
            if current in self._config.models and current not in chain:
                chain.append(current)
                pending.extend(self._config.models[current].fallbacks)
        return chain

    def _group(self, name: str) -> _Group:
        route = self._config.models[name]
        cands = tuple(
            Candidate(name, d.provider, self._config.providers[d.provider], d) for d in route.deployments
        )
        return _Group(route.strategy or self._config.strategy, cands)

    def _direct(self, public_model: str) -> _Group:
        provider, _, upstream = public_model.partition("/")
        if not (upstream and provider in self._config.providers):
            provider = self._config.wildcard_provider(public_model) or ""
            upstream = public_model
        if not provider:
            raise NotFoundError(
                f"The model `{public_model}` does not exist or is not configured.", param="model"
            )
        dep = DeploymentConfig(provider=provider, model=upstream)
        return _Group("priority", (Candidate(public_model, provider, self._config.providers[provider], dep),))


def within_output_limit(cands: list[Candidate], requested: int | None, param: str) -> list[Candidate]:
    """The candidates whose deployment allows ``requested`` output tokens (``max_output_tokens``;
    a deployment without one allows any). Those that cannot are skipped, as an open breaker is;
    when none can, the request cannot be served as sent: InvalidRequestError naming the largest
    limit on the route, so the caller knows what to ask for."""
    if requested is None:
        return cands
    fitting = [
        c
        for c in cands
        if c.deployment.max_output_tokens is None or requested <= c.deployment.max_output_tokens
    ]
    if fitting or not cands:
        return fitting
    largest = max(c.deployment.max_output_tokens or 0 for c in cands)
    raise InvalidRequestError(
        f"`{param}` is {requested}, above the output limit of every deployment of `{cands[0].public_model}`"
        f" (the largest allows {largest} tokens): ask for at most {largest}.",
        param=param,
        code="max_tokens_exceeded",
    )


def order(cands: tuple[Candidate, ...], strategy: Strategy, rng: random.Random) -> list[Candidate]:
    """``priority`` keeps the configured order; ``weighted`` draws a weighted random permutation
    (each position picked in proportion to weight among those left), so the first choice follows
    the weights and the rest remain as failover."""
    if strategy == "priority" or len(cands) < 2:
        return list(cands)
    pool = list(cands)
    result: list[Candidate] = []
    while pool:
        total = sum(c.deployment.weight for c in pool)
        pick = rng.random() * total
        for i, cand in enumerate(pool):
            pick -= cand.deployment.weight
            if pick <= 0 or i == len(pool) - 1:
                result.append(pool.pop(i))
                break
    return result
