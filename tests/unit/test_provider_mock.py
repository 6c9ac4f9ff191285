"""The deterministic mock provider: answers, usage, limits, tool calls, latency and faults."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest

from switchyard.api.chat import ChatRequest
from switchyard.config.routing import MockSettings
from switchyard.errors import PROVIDER_KINDS, Kind, ProviderError
from switchyard.providers import mock
from switchyard.providers.base import Target
from switchyard.providers.classify import classify_status
from switchyard.providers.mock import FAULTS, MockProvider


def _target(provider: str = "mock", timeout_s: float = 5.0) -> Target:
    return Target(
        provider=provider,
        deployment_id=f"{provider}/mock-1",
        upstream_model="mock-1",
        base_url=None,
        api_key=None,
        timeout_s=timeout_s,
    )


def _req(text: str = "Hello there", metadata: dict[str, str] | None = None, **kw: Any) -> ChatRequest:
    body: dict[str, Any] = {
        "model": "mock-1",
        "messages": [{"role": "system", "content": "Be kind."}, {"role": "user", "content": text}],
        "metadata": metadata,
    }
    body.update(kw)
    return ChatRequest.model_validate(body)


async def _fail(provider: MockProvider, request: ChatRequest, target: Target | None = None) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await provider.chat(request, target or _target())
    return info.value


async def test_same_request_same_answer_and_echo() -> None:
    provider = MockProvider()
    first = await provider.chat(_req(), _target())
    second = await MockProvider().chat(_req(), _target())
    assert first.choices[0].message.content == second.choices[0].message.content
    assert first.id == second.id
    content = first.choices[0].message.content
    assert content is not None and content.endswith(": Hello there")
    assert first.model == "mock-1"
    assert first.choices[0].finish_reason == "stop"


async def test_different_conversation_different_answer() -> None:
    base = await MockProvider().chat(_req(), _target())
    other_system = _req().model_copy(
        update={
            "messages": [_req().messages[0].model_copy(update={"content": "Be rude."}), _req().messages[1]]
        }
    )
    changed = await MockProvider().chat(other_system, _target())
    assert base.choices[0].message.content != changed.choices[0].message.content
    assert base.id != changed.id


async def test_echo_is_of_the_last_user_message() -> None:
    request = ChatRequest.model_validate(
        {
            "model": "m",
            "messages": [
                {"role": "user", "content": "first"},
                {"role": "assistant", "content": "answer"},
                {
                    "role": "user",
                    "content": [{"type": "text", "text": "sec"}, {"type": "text", "text": "ond"}],
                },
            ],
        }
    )
    content = (await MockProvider().chat(request, _target())).choices[0].message.content
    assert content is not None and content.endswith(": second")


async def test_usage_is_ceil_of_characters_over_four() -> None:
    answer = await MockProvider(MockSettings(content="abcde")).chat(_req("Hello"), _target())
    assert answer.usage is not None
    # "Be kind." (8) + "Hello" (5) = 13 characters → 4 tokens; "abcde" → 2 tokens.
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (
        4,
        2,
        6,
    )


async def test_content_from_settings_and_request() -> None:
    provider = MockProvider(MockSettings(content="from config"))
    assert (await provider.chat(_req(), _target())).choices[0].message.content == "from config"
    request = _req(metadata={"mock_content": "from request"})
    assert (await provider.chat(request, _target())).choices[0].message.content == "from request"


async def test_max_tokens_truncates_with_length() -> None:
    provider = MockProvider(MockSettings(content="x" * 100))
    answer = await provider.chat(_req(max_tokens=5), _target())
    assert answer.choices[0].message.content == "x" * 20
    assert answer.choices[0].finish_reason == "length"
    assert answer.usage is not None and answer.usage.completion_tokens == 5
    roomy = await provider.chat(_req(max_completion_tokens=25), _target())
    assert roomy.choices[0].finish_reason == "stop"
    assert roomy.usage is not None and roomy.usage.completion_tokens == 25


TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


async def test_tool_call_when_asked_for_a_known_tool() -> None:
    answer = await MockProvider().chat(_req(metadata={"mock_tool_call": "lookup"}, tools=TOOLS), _target())
    choice = answer.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    assert choice.message.tool_calls[0].function.name == "lookup"
    assert choice.message.tool_calls[0].function.arguments == "{}"
    again = await MockProvider().chat(_req(metadata={"mock_tool_call": "lookup"}, tools=TOOLS), _target())
    assert again.choices[0].message.tool_calls == choice.message.tool_calls


@pytest.mark.parametrize(
    ("meta", "tools"), [({"mock_tool_call": "other"}, TOOLS), ({"mock_tool_call": "lookup"}, None)]
)
async def test_no_tool_call_without_a_matching_tool(meta: dict[str, str], tools: Any) -> None:
    answer = await MockProvider().chat(_req(metadata=meta, tools=tools), _target())
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.tool_calls is None


EXPECTED_FAULTS = {
    "rate_limited": (Kind.RATE_LIMITED, 429),
    "quota_exceeded": (Kind.QUOTA_EXCEEDED, 429),
    "overloaded": (Kind.OVERLOADED, 529),
    "server_error": (Kind.SERVER_ERROR, 500),
    "bad_response": (Kind.BAD_RESPONSE, None),
    "auth": (Kind.AUTH, 401),
    "context_length": (Kind.CONTEXT_LENGTH, 400),
    "content_filter": (Kind.CONTENT_FILTER, 400),
    "invalid_request": (Kind.INVALID_REQUEST, 400),
    "model_not_found": (Kind.MODEL_NOT_FOUND, 404),
    "429": (Kind.RATE_LIMITED, 429),
    "500": (Kind.SERVER_ERROR, 500),
    "502": (Kind.SERVER_ERROR, 502),
    "503": (Kind.OVERLOADED, 503),
    "529": (Kind.OVERLOADED, 529),
}


def test_fault_names_cover_every_provider_kind() -> None:
    assert set(EXPECTED_FAULTS) | {"timeout"} == FAULTS
    assert {k.value for k in PROVIDER_KINDS} <= FAULTS


@pytest.mark.parametrize("name", sorted(EXPECTED_FAULTS))
async def test_request_fault(name: str) -> None:
    exc = await _fail(MockProvider(), _req(metadata={"mock_fault": name}))
    kind, status = EXPECTED_FAULTS[name]
    assert type(exc) is ProviderError
    assert exc.kind is kind
    assert exc.upstream_status == status


@pytest.mark.parametrize("name", ["overloaded", "context_length"])
async def test_fault_is_what_classification_of_a_real_answer_gives(name: str) -> None:
    exc = await _fail(MockProvider(), _req(metadata={"mock_fault": name}))
    status, body = mock._ANSWERS[name]
    real = classify_status(status, body, {})
    assert (exc.kind, exc.message, exc.code) == (real.kind, real.message, real.code)


async def test_config_fault() -> None:
    exc = await _fail(MockProvider(MockSettings(fault="overloaded")), _req())
    assert exc.kind is Kind.OVERLOADED


async def test_fault_scoped_to_a_provider() -> None:
    request = _req(metadata={"mock_fault": "server_error@primary"})
    exc = await _fail(MockProvider(), request, _target("primary"))
    assert exc.kind is Kind.SERVER_ERROR
    answer = await MockProvider().chat(request, _target("secondary"))
    assert answer.choices[0].message.content


async def test_retry_after_for_rate_limits() -> None:
    exc = await _fail(
        MockProvider(), _req(metadata={"mock_fault": "rate_limited", "mock_retry_after": "2.5"})
    )
    assert exc.retry_after == 2.5
    assert (await _fail(MockProvider(), _req(metadata={"mock_fault": "429"}))).retry_after is None


async def test_fault_rate_uses_the_injected_rng() -> None:
    settings = MockSettings(fault="503", fault_rate=0.3)

    async def outcomes(seed: int) -> list[bool]:
        provider = MockProvider(settings, rng=random.Random(seed))
        result = []
        for _ in range(200):
            try:
                await provider.chat(_req(), _target())
                result.append(True)
            except ProviderError:
                result.append(False)
        return result

    first = await outcomes(7)
    assert first == await outcomes(7)
    assert 30 <= first.count(False) <= 90


async def test_fault_rate_zero_never_fails() -> None:
    provider = MockProvider(MockSettings(fault="500", fault_rate=0), rng=random.Random(1))
    for _ in range(20):
        await provider.chat(_req(), _target())


async def test_unknown_faults_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown mock fault"):
        MockProvider(MockSettings(fault="explode"))
    exc = await _fail(MockProvider(), _req(metadata={"mock_fault": "explode"}))
    assert exc.kind is Kind.INVALID_REQUEST
    exc = await _fail(MockProvider(), _req(metadata={"mock_latency_ms": "soon"}))
    assert exc.kind is Kind.INVALID_REQUEST


async def test_latency_from_request_and_config() -> None:
    start = time.perf_counter()
    await MockProvider().chat(_req(metadata={"mock_latency_ms": "40"}), _target())
    assert time.perf_counter() - start >= 0.035
    start = time.perf_counter()
    await MockProvider(MockSettings(latency_ms=40)).chat(_req(), _target())
    assert time.perf_counter() - start >= 0.035


async def test_no_sleep_without_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    async def forbidden(delay: float) -> None:
        raise AssertionError(f"slept {delay}")

    monkeypatch.setattr("switchyard.providers.mock.asyncio.sleep", forbidden)
    await MockProvider().chat(_req(), _target())


async def test_timeout_fault_waits_for_the_call_budget() -> None:
    start = time.perf_counter()
    exc = await _fail(MockProvider(), _req(metadata={"mock_fault": "timeout"}), _target(timeout_s=0.05))
    assert time.perf_counter() - start >= 0.045
    assert exc.kind is Kind.TIMEOUT


async def test_latency_beyond_the_budget_times_out() -> None:
    start = time.perf_counter()
    exc = await _fail(MockProvider(MockSettings(latency_ms=10_000)), _req(), _target(timeout_s=0.05))
    assert exc.kind is Kind.TIMEOUT
    assert time.perf_counter() - start < 1


async def test_n_choices() -> None:
    answer = await MockProvider(MockSettings(content="abcd")).chat(_req(n=3), _target())
    assert [c.index for c in answer.choices] == [0, 1, 2]
    assert answer.usage is not None and answer.usage.completion_tokens == 3
