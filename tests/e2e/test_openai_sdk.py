"""The official ``openai`` SDK against the local runtime (``python -m switchyard.local`` in a
subprocess), which calls the fake upstream on 127.0.0.1: only ``base_url`` and ``api_key`` change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import openai
import pytest

from fakes import DEFAULT_CONTENT, FAKE_KEY, MASTER_KEY, FakeUpstream, Reply, ToolCallSpec, fake_vector
from switchyard.config.routing import MOCK_STANDIN

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e

MESSAGES = [{"role": "user", "content": "Say hello."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture(scope="module")
def runtime(
    _fake_upstream_server: FakeUpstream,
    module_local_runtime: Callable[..., LocalRuntime],
    tmp_path_factory: pytest.TempPathFactory,
) -> LocalRuntime:
    """One runtime for the module; its providers are names on the (session) fake upstream, with
    the key the runtime reads from OPENAI_API_KEY."""
    config = _fake_upstream_server.config_yaml(
        tmp_path_factory.mktemp("e2e-config") / "routing.yaml",
        providers={"a": "openai", "b": "openai_compatible", "r": "openai"},
        models={
            "m": {"deployments": [{"provider": "a", "model": "up-a"}, {"provider": "b", "model": "up-b"}]},
            "limited": {"deployments": [{"provider": "r", "model": "up-r"}]},
            "e": {"deployments": [{"provider": "a", "model": "emb"}, {"provider": "b", "model": "emb"}]},
        },
        aliases={"fast": "m"},
        api_key_env="OPENAI_API_KEY",
    )
    return module_local_runtime(config, env={"OPENAI_API_KEY": FAKE_KEY})


@pytest.fixture
def client(runtime: LocalRuntime) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=runtime.base_url, api_key=MASTER_KEY, max_retries=0, timeout=30) as sdk:
        yield sdk


def test_chat_completion(fake_upstream: FakeUpstream, client: openai.OpenAI) -> None:
    fake_upstream.script("a", Reply.ok("Hello, SDK!", input_tokens=12, output_tokens=4))

    completion = client.chat.completions.create(model="m", messages=MESSAGES)

    assert completion.choices[0].message.content == "Hello, SDK!"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 4)
    [call] = fake_upstream.calls("a")
    assert call.model == "up-a"
    assert call.api_key == FAKE_KEY


async def test_async_client(fake_upstream: FakeUpstream, runtime: LocalRuntime) -> None:
    async with openai.AsyncOpenAI(base_url=runtime.base_url, api_key=MASTER_KEY, max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(model="fast", messages=MESSAGES)
    assert completion.choices[0].message.content == DEFAULT_CONTENT
    assert fake_upstream.count("a") == 1


def test_tools_round_trip(fake_upstream: FakeUpstream, client: openai.OpenAI) -> None:
    fake_upstream.script(
        "a",
        Reply.ok(None, tool_calls=[ToolCallSpec("get_weather", {"city": "Paris"}, id="call_7")]),
        Reply.ok("It is 18°C and sunny in Paris."),
    )

    first = client.chat.completions.create(
        model="m", messages=MESSAGES, tools=[WEATHER_TOOL], tool_choice="auto"
    )
    assert first.choices[0].finish_reason == "tool_calls"
    [tool_call] = first.choices[0].message.tool_calls
    assert tool_call.function.name == "get_weather"
    assert json.loads(tool_call.function.arguments) == {"city": "Paris"}

    history = [
        *MESSAGES,
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": tool_call.id, "content": "18°C, sunny"},
    ]
    second = client.chat.completions.create(model="m", messages=history, tools=[WEATHER_TOOL])

    assert second.choices[0].message.content == "It is 18°C and sunny in Paris."
    sent = fake_upstream.calls("a")[1].body
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["messages"][1]["tool_calls"][0]["id"] == "call_7"
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": "call_7", "content": "18°C, sunny"}


def test_failover_is_visible_in_the_raw_response_headers(
    fake_upstream: FakeUpstream, client: openai.OpenAI
) -> None:
    fake_upstream.script("a", Reply.overloaded())

    raw = client.chat.completions.with_raw_response.create(model="m", messages=MESSAGES)

    assert raw.status_code == 200
    assert raw.headers["x-switchyard-provider"] == "b"
    assert raw.headers["x-switchyard-deployment"] == "b/up-b"
    assert raw.headers["x-switchyard-attempts"] == "2"
    assert raw.headers["x-request-id"]
    assert raw.parse().choices[0].message.content == DEFAULT_CONTENT
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 1)


def test_exhausted_rate_limits_raise_rate_limit_error(
    fake_upstream: FakeUpstream, client: openai.OpenAI
) -> None:
    fake_upstream.set_default("r", Reply.rate_limited(retry_after=5))

    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="limited", messages=MESSAGES)

    assert caught.value.status_code == 429
    assert float(caught.value.response.headers["retry-after"]) >= 1
    assert FAKE_KEY not in caught.value.response.text
    assert fake_upstream.count("r") == 1


def test_every_deployment_failing_raises_api_status_error_503(
    fake_upstream: FakeUpstream, client: openai.OpenAI
) -> None:
    fake_upstream.set_default("a", Reply.server_error())
    fake_upstream.set_default("b", Reply.server_error(502))

    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="m", messages=MESSAGES)

    assert caught.value.status_code == 503
    assert caught.value.response.headers["retry-after"]
    assert f"127.0.0.1:{fake_upstream.port}" not in caught.value.response.text


def test_content_filter_raises_bad_request_with_its_code(
    fake_upstream: FakeUpstream, client: openai.OpenAI
) -> None:
    fake_upstream.script("a", Reply.content_filter())

    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="m", messages=MESSAGES)

    assert caught.value.code == "content_filter"
    assert fake_upstream.count("b") == 0


def test_wrong_key_raises_authentication_error(fake_upstream: FakeUpstream, runtime: LocalRuntime) -> None:
    with (
        openai.OpenAI(base_url=runtime.base_url, api_key="sk-sy-not-the-key", max_retries=0) as sdk,
        pytest.raises(openai.AuthenticationError) as caught,
    ):
        sdk.chat.completions.create(model="m", messages=MESSAGES)
    assert caught.value.status_code == 401
    assert fake_upstream.count() == 0


def test_unknown_model_raises_not_found(fake_upstream: FakeUpstream, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    assert caught.value.code == "model_not_found"


def test_models_list(client: openai.OpenAI) -> None:
    ids = sorted(model.id for model in client.models.list())
    assert ids == ["e", "fast", "limited", "m"]


def test_embeddings_in_the_sdks_default_base64_and_as_floats(
    fake_upstream: FakeUpstream, client: openai.OpenAI
) -> None:
    inputs = ["first text", "second text"]
    fake_upstream.script("a", Reply.ok(input_tokens=6), Reply.overloaded())

    default = client.embeddings.create(model="e", input=inputs)  # the SDK asks for base64
    floats = client.embeddings.with_raw_response.create(
        model="e", input="third", encoding_format="float", dimensions=4
    )

    assert [d.embedding for d in default.data] == [fake_vector(t) for t in inputs]
    assert (default.model, default.usage.prompt_tokens, default.usage.total_tokens) == ("emb", 6, 6)
    assert fake_upstream.calls("a")[0].body["encoding_format"] == "base64"
    assert floats.parse().data[0].embedding == fake_vector("third", 4)
    assert floats.headers["x-switchyard-provider"] == "b"  # a was overloaded: failover
    assert floats.headers["x-switchyard-attempts"] == "2"


def test_models_retrieve(client: openai.OpenAI) -> None:
    model = client.models.retrieve("m")
    assert (model.id, model.object, model.owned_by) == ("m", "model", "a")
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.retrieve("no-such-model")
    assert caught.value.code == "model_not_found"


async def test_twenty_concurrent_requests_all_succeed(
    fake_upstream: FakeUpstream, runtime: LocalRuntime
) -> None:
    fake_upstream.script("a", *(Reply.ok(f"answer {i}", latency_s=0.05) for i in range(20)))

    async with openai.AsyncOpenAI(base_url=runtime.base_url, api_key=MASTER_KEY, max_retries=0) as sdk:
        completions = await asyncio.gather(
            *(sdk.chat.completions.create(model="m", messages=MESSAGES) for _ in range(20))
        )

    contents = sorted(c.choices[0].message.content or "" for c in completions)
    assert contents == sorted(f"answer {i}" for i in range(20))
    assert fake_upstream.count("a") == 20


def test_default_config_without_keys_answers_with_the_mock(
    local_runtime: Callable[..., LocalRuntime],
) -> None:
    """``make run`` on a fresh machine: shipped config, no provider keys, the mock stands in."""
    runtime = local_runtime(None, env={"SWITCHYARD_MOCK_UNCONFIGURED": "1"})

    with openai.OpenAI(base_url=runtime.base_url, api_key=MASTER_KEY, max_retries=0) as sdk:
        standin = sdk.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
        mock = sdk.chat.completions.with_raw_response.create(model="mock-1", messages=MESSAGES)
        failover = sdk.chat.completions.with_raw_response.create(model="mock-failover", messages=MESSAGES)
        embedded = sdk.embeddings.with_raw_response.create(model="text-embedding-3-small", input="Hello")
        again = sdk.embeddings.with_raw_response.create(model="text-embedding-3-small", input="Hello")

    for raw in (standin, mock, failover):
        assert raw.status_code == 200
        assert raw.parse().choices[0].message.content
    assert standin.headers["x-switchyard-provider"] == MOCK_STANDIN  # no key leaked in from here
    assert standin.headers["x-switchyard-model"] == "gpt-4o-mini"
    # The caller is told whose stand-in answered; the banner lists every stand-in and its key.
    assert standin.headers["x-switchyard-stand-in"] == "openai"
    assert "stand-in" not in " ".join(mock.headers) and "stand-in" not in " ".join(failover.headers)
    assert "the mock answers for openai (OPENAI_API_KEY), anthropic (ANTHROPIC_API_KEY)" in runtime.output()
    assert mock.headers["x-switchyard-provider"] == "mock"
    assert failover.headers["x-switchyard-attempts"] == "2"
    assert failover.headers["x-switchyard-provider"] == "mock"
    vector = embedded.parse().data[0].embedding
    assert embedded.headers["x-switchyard-provider"] == MOCK_STANDIN and len(vector) == 1536
    assert again.headers["x-switchyard-cache"] == "hit" and again.parse().data[0].embedding == vector


def test_runtime_prints_how_to_call_it(runtime: LocalRuntime) -> None:
    output = runtime.output()
    assert f"http://127.0.0.1:{runtime.port}" in output
    assert "curl" in output
    assert MASTER_KEY in output
    assert FAKE_KEY not in output
