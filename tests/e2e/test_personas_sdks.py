"""Personas, conversation memory and the last resort through the unmodified ``openai`` and
``anthropic`` SDKs, buffered and streamed, against the local runtime (``python -m
switchyard.local`` in a subprocess, its state on the emulated DynamoDB), which calls the fake
upstream on 127.0.0.1."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anthropic
import httpx
import openai
import pytest

from fakes import FAKE_KEY, MASTER_KEY, FakeUpstream, Reply

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e

TEMPLATE = "Everyone is busy; please ask again in a minute."
SUPPORT = {
    "system_prompt": "You are Acme's support bot. The customer is {{ customer }}.",
    "variables": {"customer": "unknown"},
    "model": "gpt",
    "parameters": {"temperature": 0.3},
    "published": True,
}


@pytest.fixture(scope="module")
def runtime(
    _fake_upstream_server: FakeUpstream,
    module_local_runtime: Callable[..., LocalRuntime],
    tmp_path_factory: pytest.TempPathFactory,
) -> LocalRuntime:
    routing = _fake_upstream_server.routing_config(
        providers={"o": "openai", "c": "anthropic", "d": "openai"},
        models={
            "gpt": {"deployments": [{"provider": "o", "model": "up-gpt"}]},
            "claude": {"deployments": [{"provider": "c", "model": "up-claude"}]},
            "flaky": {"deployments": [{"provider": "d", "model": "up-flaky"}]},
        },
        api_key_env="OPENAI_API_KEY",
    )
    routing["last_resort"] = {"models": {"flaky": {"template": TEMPLATE}}}
    import yaml

    path = tmp_path_factory.mktemp("e2e-personas") / "routing.yaml"
    path.write_text(yaml.safe_dump(routing, sort_keys=False), encoding="utf-8")
    started = module_local_runtime(path, env={"OPENAI_API_KEY": FAKE_KEY})
    with httpx.Client(base_url=started.url, headers={"Authorization": f"Bearer {MASTER_KEY}"}) as admin:
        assert admin.put("/admin/personas/default/support", json=SUPPORT).status_code == 200
    return started


def remembered(runtime: LocalRuntime, conversation: str) -> list[Any]:
    with httpx.Client(base_url=runtime.url, headers={"Authorization": f"Bearer {MASTER_KEY}"}) as client:
        shown = client.get(f"/v1/conversations/{conversation}")
    assert shown.status_code == 200, shown.text
    return [m["content"] for m in shown.json()["messages"]]


def test_openai_sdk_calls_a_published_persona_by_its_model_name(
    fake_upstream: FakeUpstream, oai: openai.OpenAI
) -> None:
    assert "persona/support" in [m.id for m in oai.models.list()]
    fake_upstream.script("o", Reply.ok("How can I help, Ann?"))
    raw = oai.chat.completions.with_raw_response.create(
        model="persona/support",
        messages=[{"role": "user", "content": "Hi."}],
        metadata={"persona.customer": "Ann"},
    )
    assert raw.headers["x-switchyard-persona"] == "support"
    assert raw.parse().choices[0].message.content == "How can I help, Ann?"
    [call] = fake_upstream.calls("o")
    assert call.body["model"] == "up-gpt" and call.body["temperature"] == 0.3
    assert call.body["messages"][0] == {
        "role": "system",
        "content": "You are Acme's support bot. The customer is Ann.",
    }


def test_openai_sdk_streams_a_conversation_that_is_remembered(
    fake_upstream: FakeUpstream, oai: openai.OpenAI, runtime: LocalRuntime
) -> None:
    conversation = {"x-switchyard-conversation": f"oai-{uuid.uuid4().hex[:8]}"}
    fake_upstream.script("o", Reply.stream("Nice to meet you, Bob."), Reply.ok("You are Bob."))
    stream = oai.chat.completions.create(
        model="gpt",
        messages=[{"role": "user", "content": "I am Bob."}],
        stream=True,
        extra_headers=conversation,
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Nice to meet you, Bob."
    answer = oai.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "Who am I?"}], extra_headers=conversation
    )
    assert answer.choices[0].message.content == "You are Bob."
    assert [m["content"] for m in fake_upstream.calls("o")[-1].body["messages"]] == [
        "I am Bob.",
        "Nice to meet you, Bob.",
        "Who am I?",
    ]
    assert remembered(runtime, conversation["x-switchyard-conversation"]) == [
        "I am Bob.",
        "Nice to meet you, Bob.",
        "Who am I?",
        "You are Bob.",
    ]


def test_anthropic_sdk_speaks_as_a_persona_in_a_conversation(
    fake_upstream: FakeUpstream, claude: anthropic.Anthropic, runtime: LocalRuntime
) -> None:
    conversation = f"claude-{uuid.uuid4().hex[:8]}"
    headers = {"x-switchyard-persona": "support", "x-switchyard-conversation": conversation}
    fake_upstream.script("c", Reply.ok("Hello Cy."), Reply.stream("Your name is Cy."))
    first = claude.messages.create(
        model="claude",
        max_tokens=100,
        messages=[{"role": "user", "content": "My name is Cy."}],
        extra_headers=headers,
    )
    assert first.content[0].type == "text" and first.content[0].text == "Hello Cy."
    with claude.messages.stream(
        model="claude",
        max_tokens=100,
        messages=[{"role": "user", "content": "What is my name?"}],
        extra_headers=headers,
    ) as stream:
        assert "".join(stream.text_stream) == "Your name is Cy."
    sent = fake_upstream.calls("c")[-1].body
    assert sent["model"] == "up-claude"  # chosen by header: the caller's model stands
    assert "Acme's support bot" in str(sent["system"])
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert remembered(runtime, conversation) == [
        "My name is Cy.",
        "Hello Cy.",
        "What is my name?",
        "Your name is Cy.",
    ]


def test_both_sdks_get_the_template_when_every_provider_fails(
    fake_upstream: FakeUpstream, oai: openai.OpenAI, claude: anthropic.Anthropic
) -> None:
    fake_upstream.set_default("d", Reply.overloaded())
    messages: Any = [{"role": "user", "content": "Hello?"}]
    raw = oai.chat.completions.with_raw_response.create(model="flaky", messages=messages)
    assert raw.headers["x-switchyard-fallback"] == "template"
    assert raw.parse().choices[0].message.content == TEMPLATE
    streamed = oai.chat.completions.create(model="flaky", messages=messages, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == TEMPLATE
    message = claude.messages.create(model="flaky", max_tokens=50, messages=messages)
    assert message.content[0].type == "text" and message.content[0].text == TEMPLATE
    with claude.messages.stream(model="flaky", max_tokens=50, messages=messages) as stream:
        assert "".join(stream.text_stream) == TEMPLATE
    declined = oai.with_options(default_headers={"x-switchyard-fallback": "none"})
    with pytest.raises(openai.APIStatusError) as caught:
        declined.chat.completions.create(model="flaky", messages=messages)
    assert caught.value.status_code == 503
