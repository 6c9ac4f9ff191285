"""Streaming with the official SDKs against the local runtime (``python -m switchyard.local`` in a
subprocess), across dialect pairs: the ``openai`` SDK (``stream=True``, sync and async) and the
``anthropic`` SDK (``messages.create`` and ``messages.stream``), each served by an OpenAI-kind
provider, an Anthropic-kind provider (both on the fake upstream) and the mock provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import anthropic
import openai
import pytest

from fakes import DEFAULT_CONTENT, FAKE_KEY, MASTER_KEY, FakeUpstream, Reply, ToolCallSpec

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e

MESSAGES = [{"role": "user", "content": "Say hello."}]
MOCK_TEXT = "Streamed by the mock provider."
# Public model → (provider on the fake, or None for the mock), and the text it answers.
MODELS = {"gpt": ("o", DEFAULT_CONTENT), "claude": ("c", DEFAULT_CONTENT), "mocked": (None, MOCK_TEXT)}
WEATHER_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
WEATHER_ANTHROPIC = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


@pytest.fixture(scope="module")
def runtime(
    _fake_upstream_server: FakeUpstream,
    module_local_runtime: Callable[..., LocalRuntime],
    tmp_path_factory: pytest.TempPathFactory,
) -> LocalRuntime:
    config = _fake_upstream_server.config_yaml(
        tmp_path_factory.mktemp("e2e-streaming") / "routing.yaml",
        providers={
            "o": {"kind": "openai", "stream_idle_timeout_s": 1},
            "c": {"kind": "anthropic", "stream_idle_timeout_s": 1},
            "x": {"kind": "mock", "mock": {"content": MOCK_TEXT}},
        },
        models={
            "gpt": {"deployments": [{"provider": "o", "model": "up-gpt"}]},
            "claude": {"deployments": [{"provider": "c", "model": "up-claude"}]},
            "mocked": {"deployments": [{"provider": "x", "model": "mock-1"}]},
        },
        api_key_env="OPENAI_API_KEY",
    )
    return module_local_runtime(config, env={"OPENAI_API_KEY": FAKE_KEY})


def _served_by(fake: FakeUpstream, model: str) -> None:
    name = MODELS[model][0]
    if name is not None:
        [call] = fake.calls(name)
        assert call.body["stream"] is True
        assert call.api_key == FAKE_KEY


# -- the openai SDK --------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_openai_sdk_stream(fake_upstream: FakeUpstream, oai: openai.OpenAI, model: str) -> None:
    stream = oai.chat.completions.create(
        model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == MODELS[model][1]
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens > 0 and usage.prompt_tokens > 0
    _served_by(fake_upstream, model)


@pytest.mark.parametrize("model", MODELS)
async def test_openai_async_sdk_stream(
    fake_upstream: FakeUpstream, runtime: LocalRuntime, model: str
) -> None:
    async with openai.AsyncOpenAI(base_url=runtime.base_url, api_key=MASTER_KEY, max_retries=0) as sdk:
        stream = await sdk.chat.completions.create(model=model, messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == MODELS[model][1]
    _served_by(fake_upstream, model)


@pytest.mark.parametrize("model", ["gpt", "claude"])
def test_openai_sdk_stream_with_tool_calls(
    fake_upstream: FakeUpstream, oai: openai.OpenAI, model: str
) -> None:
    name = MODELS[model][0]
    assert name is not None
    fake_upstream.script(
        name, Reply.ok(None, tool_calls=[ToolCallSpec("get_weather", {"city": "Oslo"}, id="call_3")])
    )

    with oai.chat.completions.stream(model=model, messages=MESSAGES, tools=[WEATHER_OPENAI]) as stream:
        final = stream.get_final_completion()

    [call] = final.choices[0].message.tool_calls or []
    assert call.id == "call_3" and call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Oslo"}
    assert final.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("model", ["gpt", "claude"])
def test_openai_sdk_raises_on_a_mid_stream_failure(
    fake_upstream: FakeUpstream, oai: openai.OpenAI, model: str
) -> None:
    name = MODELS[model][0]
    assert name is not None
    fake_upstream.script(name, Reply.stream(drop_after=3 if model == "gpt" else 5))
    received: list[str] = []

    with pytest.raises(openai.APIError) as caught:
        for chunk in oai.chat.completions.create(model=model, messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content or "" if chunk.choices else "")

    assert "".join(received) == "Hello from"
    assert "interrupted" in caught.value.message
    assert FAKE_KEY not in caught.value.message


def test_openai_sdk_failure_before_the_first_token_is_a_status_error(
    fake_upstream: FakeUpstream, oai: openai.OpenAI
) -> None:
    # "gpt" has one deployment: a stream that stalls after the role chunk ends in a 503 error
    # before any data went out, which the SDK raises as a status error (never a hang).
    fake_upstream.set_default("o", Reply.stream(stall_after=1))

    with pytest.raises(openai.APIStatusError) as caught:
        list(oai.chat.completions.create(model="gpt", messages=MESSAGES, stream=True))

    assert caught.value.status_code == 503


# -- the anthropic SDK -----------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_anthropic_sdk_messages_create(
    fake_upstream: FakeUpstream, claude: anthropic.Anthropic, model: str
) -> None:
    message = claude.messages.create(model=model, max_tokens=100, system="Be brief.", messages=MESSAGES)

    assert message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text == MODELS[model][1]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0


@pytest.mark.parametrize("model", MODELS)
def test_anthropic_sdk_messages_stream(
    fake_upstream: FakeUpstream, claude: anthropic.Anthropic, model: str
) -> None:
    with claude.messages.stream(
        model=model, max_tokens=100, messages=MESSAGES, stop_sequences=["END"]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert text == MODELS[model][1]
    assert final.content[0].type == "text" and final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0
    _served_by(fake_upstream, model)


@pytest.mark.parametrize("model", MODELS)
async def test_anthropic_async_sdk_messages_stream(
    fake_upstream: FakeUpstream, runtime: LocalRuntime, model: str
) -> None:
    async with (
        anthropic.AsyncAnthropic(base_url=runtime.url, api_key=MASTER_KEY, max_retries=0) as sdk,
        sdk.messages.stream(model=model, max_tokens=100, messages=MESSAGES) as stream,
    ):
        final = await stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == MODELS[model][1]


@pytest.mark.parametrize("model", ["gpt", "claude"])
def test_anthropic_sdk_stream_with_tool_use(
    fake_upstream: FakeUpstream, claude: anthropic.Anthropic, model: str
) -> None:
    name = MODELS[model][0]
    assert name is not None
    calls = [ToolCallSpec("get_weather", {"city": "Oslo"}, id="toolu_5")]
    fake_upstream.script(name, Reply.ok("Checking.", tool_calls=calls, input_tokens=20, output_tokens=9))

    with claude.messages.stream(
        model=model, max_tokens=100, messages=MESSAGES, tools=[WEATHER_ANTHROPIC]
    ) as stream:
        final = stream.get_final_message()

    assert [block.type for block in final.content] == ["text", "tool_use"]
    tool = final.content[1]
    assert tool.type == "tool_use" and tool.input == {"city": "Oslo"} and tool.name == "get_weather"
    assert final.stop_reason == "tool_use"
    assert (final.usage.input_tokens, final.usage.output_tokens) == (20, 9)


def test_anthropic_sdk_raw_event_stream(fake_upstream: FakeUpstream, claude: anthropic.Anthropic) -> None:
    events = list(claude.messages.create(model="gpt", max_tokens=100, messages=MESSAGES, stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert "content_block_delta" in kinds


def test_anthropic_sdk_raises_on_a_mid_stream_failure(
    fake_upstream: FakeUpstream, claude: anthropic.Anthropic
) -> None:
    fake_upstream.script("o", Reply.stream(stall_after=3))

    with (
        pytest.raises(anthropic.APIStatusError) as caught,
        claude.messages.stream(model="gpt", max_tokens=100, messages=MESSAGES) as stream,
    ):
        for _ in stream.text_stream:
            pass

    assert "interrupted" in str(caught.value)
    assert FAKE_KEY not in str(caught.value)


def test_anthropic_sdk_error_before_streaming_is_a_typed_error(claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="no-such-model", max_tokens=10, messages=MESSAGES, stream=True)


@pytest.mark.parametrize("model", ["gpt", "claude"])
def test_a_deterministic_stream_is_cached_and_replayed_to_both_sdks(
    fake_upstream: FakeUpstream, oai: openai.OpenAI, claude: anthropic.Anthropic, model: str
) -> None:
    """Stored once the first stream is over; the same request streamed again, through either SDK
    (its own dialect), is a hit: no upstream call, the same text."""
    prompt = [{"role": "user", "content": f"Say hello, {model}."}]  # an entry of this test's own
    first = oai.chat.completions.with_raw_response.create(
        model=model, messages=prompt, stream=True, temperature=0, max_tokens=64
    )
    text = "".join(c.choices[0].delta.content or "" for c in first.parse() if c.choices)
    again = oai.chat.completions.with_raw_response.create(
        model=model, messages=prompt, stream=True, temperature=0, max_tokens=64
    )
    replayed = "".join(c.choices[0].delta.content or "" for c in again.parse() if c.choices)
    # The Anthropic dialect of the same canonical request.
    with claude.messages.stream(
        model=model, max_tokens=64, messages=prompt, extra_body={"temperature": 0}
    ) as stream:
        anthropic_text = "".join(stream.text_stream)
        anthropic_cache = stream.response.headers["x-switchyard-cache"]

    assert text == replayed == anthropic_text == DEFAULT_CONTENT
    assert (first.headers["x-switchyard-cache"], again.headers["x-switchyard-cache"]) == ("miss", "hit")
    assert anthropic_cache == "hit"
    assert fake_upstream.count(MODELS[model][0]) == 1
