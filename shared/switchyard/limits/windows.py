"""Pure pieces of rate limiting: limit specs, fixed windows, token estimates, header values.

Windows are fixed and aligned to the epoch (a minute window starts at a multiple of 60 s), so every
instance computes the same window from its clock and the shared counter of a window is one item
attribute. Tokens are estimated before the call (about four characters a token, plus the output
the request allows) and reconciled with the upstream's usage after it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from switchyard.api.chat import ChatRequest, TextPart
from switchyard.api.embeddings import EmbeddingRequest
from switchyard.api.requests import CanonicalRequest
from switchyard.config.routing import RateLimits
from switchyard.state.ports import DAY, HOUR, MINUTE

PERIOD_NAMES = {MINUTE: "minute", HOUR: "hour", DAY: "day"}
_MESSAGE_OVERHEAD_TOKENS = 4  # role and separators, as OpenAI counts them


@dataclass(frozen=True, slots=True)
class WindowLimit:
    period: int
    requests: int | None = None
    tokens: int | None = None


@dataclass(frozen=True, slots=True)
class LimitSpec:
    windows: tuple[WindowLimit, ...] = ()
    max_concurrent: int | None = None

    @property
    def unlimited(self) -> bool:
        return not self.windows and self.max_concurrent is None

    @property
    def counts_requests(self) -> bool:
        return any(w.requests is not None for w in self.windows)

    @property
    def counts_tokens(self) -> bool:
        return any(w.tokens is not None for w in self.windows)

    def lease_sizes(self, fraction: float) -> tuple[int, int]:
        """Requests and tokens one lease takes: ``fraction`` of the tightest limit, at least 1."""
        return _share([w.requests for w in self.windows], fraction), _share(
            [w.tokens for w in self.windows], fraction
        )


def _share(limits: list[int | None], fraction: float) -> int:
    present = [limit for limit in limits if limit is not None]
    return max(1, math.floor(min(present) * fraction)) if present else 0


UNLIMITED = LimitSpec()


def spec_of(limits: RateLimits) -> LimitSpec:
    windows = tuple(
        WindowLimit(period, requests, tokens)
        for period, requests, tokens in (
            (MINUTE, limits.rpm, limits.tpm),
            (HOUR, limits.rph, limits.tph),
            (DAY, limits.rpd, limits.tpd),
        )
        if requests is not None or tokens is not None
    )
    return LimitSpec(windows, limits.max_concurrent)


def merged(default: RateLimits, override: RateLimits | None) -> RateLimits:
    """``override``'s fields where it sets them, ``default``'s elsewhere."""
    if override is None:
        return default
    return default.model_copy(update={name: getattr(override, name) for name in override.model_fields_set})


def window_start(now: float, period: int) -> int:
    return int(now // period) * period


def estimate_tokens(request: CanonicalRequest, default_output: int) -> int:
    """The request's estimated prompt and the output it allows (:func:`token_estimate`)."""
    prompt, output = token_estimate(request, default_output)
    return prompt + output


def token_estimate(request: CanonicalRequest, default_output: int) -> tuple[int, int]:
    """Prompt tokens and the output tokens the request allows, before any call. A chat request:
    prompt characters / 4 (rounded up) plus per-message overhead, and ``max_completion_tokens`` /
    ``max_tokens`` (else ``default_output``) for each choice. An embeddings request: its inputs
    (token arrays counted, text at four characters a token), and no output."""
    if isinstance(request, EmbeddingRequest):
        return request.estimated_tokens(), 0
    return _chat_prompt_tokens(request), (request.output_limit or default_output) * (request.n or 1)


def _chat_prompt_tokens(request: ChatRequest) -> int:
    chars = 0
    for message in request.messages:
        content = message.content
        if isinstance(content, str):
            chars += len(content)
        elif content:
            chars += sum(len(part.text) for part in content if isinstance(part, TextPart))
        for call in message.tool_calls or ():
            chars += len(call.function.name) + len(call.function.arguments)
    for tool in request.tools or ():
        chars += len(tool.function.name) + len(tool.function.description or "")
        chars += len(json.dumps(tool.function.parameters)) if tool.function.parameters else 0
    return -(-chars // 4) + _MESSAGE_OVERHEAD_TOKENS * len(request.messages)


def duration(seconds: float) -> str:
    """A reset time the way OpenAI writes it: ``250ms``, ``12s``, ``1m30s``, ``2h0m5s``."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    total = math.ceil(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"
