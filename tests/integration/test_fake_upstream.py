"""Self-tests of the fake upstream (tests/fakes): the official SDKs accept what it serves, each
scripted failure looks like the real thing on the wire, and it records what it was sent."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest

from fakes import DEFAULT_CONTENT, FakeUpstream, Reply, ToolCallSpec, fake_vector
from switchyard.config.routing import load_routing_config

MESSAGES = [{"role": "user", "content": "Hi"}]
ANTHROPIC_BODY = {"model": "claude-x", "max_tokens": 64, "messages": MESSAGES}


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


def chat(
    client: httpx.Client, fake: FakeUpstream, name: str, body: dict | None = None, **kwargs
) -> httpx.Response:
    return client.post(
        f"{fake.base_url(name)}/chat/completions",
        json=body or {"model": "up-model", "messages": MESSAGES},
        headers={"Authorization": "Bearer sk-test-key"},
        **kwargs,
    )


def sse_data(lines: list[str]) -> list[str]:
    return [line[len("data: ") :] for line in lines if line.startswith("data: ")]


# -- the dialects, checked by the official SDKs ----------------------------------------------------


def test_openai_sdk_parses_a_completion_and_the_call_is_recorded(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("p", Reply.ok("Bonjour", input_tokens=5, output_tokens=3, cache_read_tokens=4))
    with openai.OpenAI(base_url=fake_upstream.base_url("p"), api_key="sk-test-key", max_retries=0) as client:
        completion = client.chat.completions.create(model="up-model", messages=MESSAGES, seed=7)

    assert completion.choices[0].message.content == "Bonjour"
    assert completion.model == "up-model"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 9  # OpenAI counts cached tokens inside prompt_tokens
    assert completion.usage.prompt_tokens_details.cached_tokens == 4
    assert completion.usage.total_tokens == 12
    [call] = fake_upstream.calls("p")
    assert (call.method, call.path, call.reply) == ("POST", "/v1/chat/completions", "ok")
    assert call.model == "up-model"
    assert call.body["seed"] == 7
    assert call.api_key == "sk-test-key"


def test_openai_sdk_parses_tool_calls(fake_upstream: FakeUpstream) -> None:
    tool = ToolCallSpec("get_weather", {"city": "Paris"}, id="call_42")
    fake_upstream.script("p", Reply.ok(None, tool_calls=[tool]))
    with openai.OpenAI(base_url=fake_upstream.base_url("p"), api_key="k", max_retries=0) as client:
        completion = client.chat.completions.create(model="m", messages=MESSAGES)

    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    [tc] = choice.message.tool_calls
    assert (tc.id, tc.function.name, json.loads(tc.function.arguments)) == (
        "call_42",
        "get_weather",
        {"city": "Paris"},
    )


def test_anthropic_sdk_parses_a_message_with_tool_use_and_cache_usage(fake_upstream: FakeUpstream) -> None:
    tool = ToolCallSpec("lookup", {"q": "x"}, id="toolu_1")
    fake_upstream.script(
        "c",
        Reply.ok(
            "Let me look.", tool_calls=[tool], input_tokens=10, cache_read_tokens=20, cache_write_tokens=30
        ),
    )
    with anthropic.Anthropic(base_url=fake_upstream.url("c"), api_key="sk-ant-test", max_retries=0) as client:
        message = client.messages.create(**ANTHROPIC_BODY)

    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"q": "x"}
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens) == (10, 20)
    assert message.usage.cache_creation_input_tokens == 30
    [call] = fake_upstream.calls("c")
    assert call.path == "/v1/messages"
    assert call.api_key == "sk-ant-test"


def test_openai_sdk_reads_the_sse_stream_with_usage(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("p", Reply.ok("one two three", output_tokens=3))
    with openai.OpenAI(base_url=fake_upstream.base_url("p"), api_key="k", max_retries=0) as client:
        stream = client.chat.completions.create(
            model="m", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        chunks = list(stream)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 3


def test_anthropic_sdk_reads_the_sse_event_stream(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("c", Reply.stream("alpha beta"))
    with (
        anthropic.Anthropic(base_url=fake_upstream.url("c"), api_key="k", max_retries=0) as client,
        client.messages.stream(**ANTHROPIC_BODY) as stream,
    ):
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "alpha beta"
    assert final.stop_reason == "end_turn"


def test_models_lists_the_configured_ids(fake_upstream: FakeUpstream) -> None:
    fake_upstream.set_models("p", ["m-1", "m-2"])
    with openai.OpenAI(base_url=fake_upstream.base_url("p"), api_key="k", max_retries=0) as client:
        ids = [m.id for m in client.models.list()]
    assert ids == ["m-1", "m-2"]
    assert fake_upstream.count("p") == 0  # count() is completion calls only
    assert [c.path for c in fake_upstream.calls("p")] == ["/v1/models"]


def test_embeddings_answer_one_fake_vector_per_input_in_either_format(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("p", Reply.ok(input_tokens=3))
    with openai.OpenAI(base_url=fake_upstream.base_url("p"), api_key="k", max_retries=0) as client:
        as_base64 = client.embeddings.create(model="e", input=["a", "b"])  # the SDK's default
        as_floats = client.embeddings.create(model="e", input=[[1, 2]], encoding_format="float", dimensions=3)
    assert [d.embedding for d in as_base64.data] == [fake_vector("a"), fake_vector("b")]
    assert as_base64.usage.prompt_tokens == 3
    assert as_floats.data[0].embedding == fake_vector("[1, 2]", 3)
    assert fake_upstream.count("p") == 2


# -- scripting ------------------------------------------------------------------------------------


def test_script_is_consumed_in_order_then_the_default_answers(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script("p", Reply.server_error(502), Reply.ok("second"))
    assert fake_upstream.pending("p") == 2

    statuses = [chat(http, fake_upstream, "p").status_code for _ in range(3)]
    bodies_after = chat(http, fake_upstream, "p").json()

    assert statuses == [502, 200, 200]
    assert bodies_after["choices"][0]["message"]["content"] == DEFAULT_CONTENT
    assert fake_upstream.pending("p") == 0
    assert fake_upstream.count("p") == 4


def test_set_default_applies_once_the_queue_is_empty(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.set_default("p", Reply.overloaded())
    fake_upstream.script("p", Reply.ok())
    assert [chat(http, fake_upstream, "p").status_code for _ in range(3)] == [200, 529, 529]
    fake_upstream.set_default("p", None)
    assert chat(http, fake_upstream, "p").status_code == 200


def test_names_are_independent_providers(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("a", Reply.server_error())
    assert chat(http, fake_upstream, "b").status_code == 200
    assert chat(http, fake_upstream, "a").status_code == 500
    assert (fake_upstream.count("a"), fake_upstream.count("b"), fake_upstream.count()) == (1, 1, 2)


def test_reset_forgets_scripts_and_calls(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("p", Reply.server_error())
    fake_upstream.set_default("p", Reply.server_error())
    chat(http, fake_upstream, "q")
    fake_upstream.reset()
    assert fake_upstream.calls() == []
    assert chat(http, fake_upstream, "p").status_code == 200


# -- failures as they look on the wire --------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        (Reply.rate_limited(), 429, "rate_limit_exceeded"),
        (Reply.insufficient_quota(), 429, "insufficient_quota"),
        (Reply.server_error(), 500, None),
        (Reply.server_error(502), 502, None),
        (Reply.overloaded(503), 503, None),
        (Reply.unauthorized(), 401, "invalid_api_key"),
        (Reply.context_length_exceeded(), 400, "context_length_exceeded"),
        (Reply.content_filter(), 400, "content_filter"),
        (Reply.bad_request(), 400, "invalid_value"),
    ],
)
def test_error_replies_have_the_openai_error_shape(
    http: httpx.Client, fake_upstream: FakeUpstream, reply: Reply, status: int, code: str | None
) -> None:
    fake_upstream.script("p", reply)
    response = chat(http, fake_upstream, "p")
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code


def test_overloaded_on_the_messages_endpoint_is_anthropics_529(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("c", Reply.overloaded())
    with httpx.Client() as client:
        response = client.post(f"{fake_upstream.url('c')}/v1/messages", json=ANTHROPIC_BODY)
    assert response.status_code == 529
    assert response.json() == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


def test_the_anthropic_sdk_sees_the_context_length_error(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("c", Reply.context_length_exceeded())
    with (
        anthropic.Anthropic(base_url=fake_upstream.url("c"), api_key="k", max_retries=0) as client,
        pytest.raises(anthropic.BadRequestError) as caught,
    ):
        client.messages.create(**ANTHROPIC_BODY)
    assert caught.value.status_code == 400
    assert "maximum context length" in str(caught.value)


def test_rate_limited_sends_retry_after(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("p", Reply.rate_limited(retry_after=7), Reply.rate_limited(retry_after=0.5))
    assert chat(http, fake_upstream, "p").headers["retry-after"] == "7"
    assert chat(http, fake_upstream, "p").headers["retry-after"] == "0.5"


def test_unauthorized_echoes_the_presented_key(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    # Real providers echo (a masked form of) the key: the gateway must never pass this on.
    fake_upstream.script("p", Reply.unauthorized())
    assert "sk-test-key" in chat(http, fake_upstream, "p").json()["error"]["message"]


def test_malformed_is_a_200_whose_json_does_not_parse(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script("p", Reply.malformed())
    response = chat(http, fake_upstream, "p")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        response.json()


@pytest.mark.parametrize("reply", [Reply.drop(), Reply.drop_mid_body()], ids=["drop", "drop_mid_body"])
def test_drops_close_the_connection_without_a_full_response(
    http: httpx.Client, fake_upstream: FakeUpstream, reply: Reply
) -> None:
    fake_upstream.script("p", reply)
    with pytest.raises(httpx.RemoteProtocolError):
        chat(http, fake_upstream, "p")
    assert chat(http, fake_upstream, "p").status_code == 200  # the server itself is fine
    assert [c.reply for c in fake_upstream.calls("p")] == [reply.kind, "ok"]


def test_stall_outlasts_the_client_timeout_and_reset_releases_it(
    http: httpx.Client, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script("p", Reply.stall(seconds=30))
    with pytest.raises(httpx.ReadTimeout):
        chat(http, fake_upstream, "p", timeout=0.2)
    assert fake_upstream.count("p") == 1
    fake_upstream.reset()  # the stalled handler is released (else stop() would wait for it)


# -- streams that fail mid-way ---------------------------------------------------------------------


def test_stream_drops_after_k_events(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("p", Reply.stream("a b c d e", drop_after=3))
    received: list[str] = []
    with (
        httpx.Client(timeout=5) as client,
        client.stream(
            "POST", f"{fake_upstream.base_url('p')}/chat/completions", json={"model": "m"}
        ) as response,
    ):
        assert response.headers["content-type"] == "text/event-stream"
        with pytest.raises(httpx.RemoteProtocolError):
            for line in response.iter_lines():
                received.append(line)
    data = sse_data(received)
    assert len(data) == 3
    assert "[DONE]" not in data
    assert json.loads(data[0])["choices"][0]["delta"]["role"] == "assistant"


def test_stream_stalls_after_k_events(fake_upstream: FakeUpstream) -> None:
    fake_upstream.script("c", Reply.stream("a b c", stall_after=2))
    received: list[str] = []
    with (
        httpx.Client(timeout=httpx.Timeout(5, read=0.3)) as client,
        client.stream("POST", f"{fake_upstream.url('c')}/v1/messages", json=ANTHROPIC_BODY) as response,
        pytest.raises(httpx.ReadTimeout),
    ):
        for line in response.iter_lines():
            received.append(line)
    events = [line for line in received if line.startswith("event: ")]
    assert events == ["event: message_start", "event: content_block_start"]


def test_ok_streams_only_when_asked(http: httpx.Client, fake_upstream: FakeUpstream) -> None:
    assert chat(http, fake_upstream, "p").headers["content-type"].startswith("application/json")
    streamed = chat(http, fake_upstream, "p", {"model": "m", "messages": MESSAGES, "stream": True})
    assert streamed.headers["content-type"] == "text/event-stream"
    assert sse_data(streamed.text.splitlines())[-1] == "[DONE]"


# -- server mechanics ------------------------------------------------------------------------------


def test_concurrent_calls_each_consume_one_scripted_reply() -> None:
    with FakeUpstream() as fake:
        fake.script("p", *(Reply.ok(f"answer {i}") for i in range(40)))
        answers: list[str] = []
        lock = threading.Lock()

        def worker() -> None:
            with httpx.Client(timeout=5.0) as client:
                for _ in range(5):
                    text = chat(client, fake, "p").json()["choices"][0]["message"]["content"]
                    with lock:
                        answers.append(text)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    assert sorted(answers) == sorted(f"answer {i}" for i in range(40))
    assert fake.count("p") == 40


def test_stop_closes_the_port_and_a_stopped_server_can_be_stopped_again() -> None:
    fake = FakeUpstream().start()
    port = fake.port
    assert port > 0
    with pytest.raises(RuntimeError):
        fake.start()
    fake.script("p", Reply.stall(seconds=60))
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            with httpx.Client(timeout=30) as client:
                chat(client, fake, "p")
        except httpx.HTTPError as exc:
            outcome.append(exc)

    stalled = threading.Thread(target=call)
    stalled.start()
    while fake.count("p") == 0:
        threading.Event().wait(0.01)
    fake.stop()  # releases the stalled handler instead of waiting 60 s for it
    stalled.join(timeout=10)
    assert not stalled.is_alive()
    assert isinstance(outcome[0], httpx.RemoteProtocolError)  # closed, no response
    fake.stop()
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))


def test_unknown_paths_are_404_and_recorded(fake_upstream: FakeUpstream) -> None:
    with httpx.Client() as client:
        response = client.post(f"{fake_upstream.url('p')}/v1/completions", json={"prompt": "x"})
    assert response.status_code == 404
    assert [c.reply for c in fake_upstream.calls("p")] == ["not_found"]


def test_config_yaml_is_a_valid_routing_config_pointing_at_the_fake(
    fake_upstream: FakeUpstream, tmp_path: Path
) -> None:
    path = fake_upstream.config_yaml(
        tmp_path / "routing.yaml",
        providers={"a": "openai", "b": {"kind": "openai_compatible", "timeout_s": 0.5}, "c": "anthropic"},
        models={
            "m": {"deployments": [{"provider": "a", "model": "up-a"}, {"provider": "c", "model": "up-c"}]}
        },
        retry={"max_attempts": 3},
    )
    config = load_routing_config(path, {"FAKE_KEY": "k"})

    assert config.providers["a"].base_url == f"http://127.0.0.1:{fake_upstream.port}/a/v1"
    assert config.providers["c"].base_url == f"http://127.0.0.1:{fake_upstream.port}/c"
    assert config.providers["b"].timeout_s == 0.5
    assert config.retry.max_attempts == 3
    assert config.retry.base_delay_s < 0.1
    assert [d.provider for d in config.models["m"].deployments] == ["a", "c"]
    # without the key variable every keyed provider (and so the model) is dropped
    assert load_routing_config(path, {}).models == {}
