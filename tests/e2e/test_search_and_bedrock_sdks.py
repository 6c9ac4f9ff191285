"""Web search (a Perplexity-kind provider) and Amazon Bedrock (a Bedrock-kind provider, signed
with SigV4), both on the fake upstream, through the local runtime (``python -m switchyard.local``
in a subprocess) with the official SDKs as clients: what the ``openai`` and ``anthropic`` SDKs
make of the citations, search results and search usage, and of Bedrock's answers, streams and
embeddings."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anthropic
import openai
import pytest

from fakes import FAKE_KEY, FakeUpstream, Reply, ToolCallSpec, fake_vector
from fakes.constants import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e

ANSWER = "About 100 to 400 billion stars[1], per Gaia[2]."
CITATIONS = ["https://nasa.example/milky-way", "https://esa.example/gaia"]
RESULTS = [
    {"title": "Milky Way", "url": CITATIONS[0], "date": "2024-03-01", "snippet": "100 to 400 billion stars."},
    {"title": "Gaia", "url": CITATIONS[1], "date": "2025-01-15", "snippet": "Gaia charts 1.8 billion stars."},
]
NOVA = "amazon.nova-lite-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"
QUESTION = [{"role": "user", "content": "How many stars are in the Milky Way?"}]


def search_reply() -> Reply:
    return Reply.search(
        ANSWER, citations=CITATIONS, search_results=RESULTS, usage_extra={"search_context_size": "low"}
    )


@pytest.fixture(scope="module")
def runtime(
    _fake_upstream_server: FakeUpstream,
    module_local_runtime: Callable[..., LocalRuntime],
    tmp_path_factory: pytest.TempPathFactory,
) -> LocalRuntime:
    fake = _fake_upstream_server
    config = fake.config_yaml(
        tmp_path_factory.mktemp("e2e-providers") / "routing.yaml",
        providers={
            "pplx": {"kind": "perplexity", "base_url": fake.url("pplx")},
            "br": {"kind": "bedrock", "region": "us-east-1", "base_url": fake.url("br"), "api_key_env": None},
        },
        models={
            "sonar": {"deployments": [{"provider": "pplx", "model": "sonar"}]},
            "nova": {"deployments": [{"provider": "br", "model": NOVA}]},
            "titan": {"deployments": [{"provider": "br", "model": TITAN}]},
        },
        api_key_env="PERPLEXITY_API_KEY",
    )
    env = {
        "PERPLEXITY_API_KEY": FAKE_KEY,
        "AWS_ACCESS_KEY_ID": AWS_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": AWS_SECRET_ACCESS_KEY,
    }
    return module_local_runtime(config, env=env)


# -- web search ------------------------------------------------------------------------------------


def test_openai_sdk_reads_citations_as_annotations(fake_upstream: FakeUpstream, oai: openai.OpenAI) -> None:
    fake_upstream.script("pplx", search_reply())
    completion = oai.chat.completions.create(
        model="sonar",
        messages=QUESTION,
        extra_body={
            "search_domain_filter": ["nasa.example"],
            "web_search_options": {"search_context_size": "low"},
        },
    )
    message = completion.choices[0].message
    assert message.content == ANSWER
    assert message.annotations is not None
    assert [a.url_citation.url for a in message.annotations] == CITATIONS  # typed by the SDK
    extra: dict[str, Any] = completion.model_extra or {}
    assert extra["citations"] == CITATIONS and extra["search_results"] == RESULTS
    [call] = fake_upstream.calls("pplx")
    assert call.body["search_domain_filter"] == ["nasa.example"]


def test_openai_sdk_streams_a_search_answer(fake_upstream: FakeUpstream, oai: openai.OpenAI) -> None:
    fake_upstream.script("pplx", search_reply())
    chunks = list(oai.chat.completions.create(model="sonar", messages=QUESTION, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    found = [
        a
        for c in chunks
        if c.choices
        for a in (c.choices[0].delta.model_extra or {}).get("annotations") or ()
    ]
    assert [a["url_citation"]["url"] for a in found] == CITATIONS


def test_anthropic_sdk_reads_web_search_citations_and_usage(
    fake_upstream: FakeUpstream, claude: anthropic.Anthropic
) -> None:
    fake_upstream.script("pplx", search_reply())
    message = claude.messages.create(
        model="sonar",
        max_tokens=256,
        messages=QUESTION,
        extra_body={"search_recency_filter": "month"},
    )
    [block] = message.content
    assert block.type == "text" and block.text == ANSWER
    assert block.citations is not None
    cited = block.citations[0]
    assert isinstance(cited, anthropic.types.CitationsWebSearchResultLocation)
    assert (cited.url, cited.title, cited.cited_text) == (CITATIONS[0], "Milky Way", RESULTS[0]["snippet"])
    assert (
        message.usage.server_tool_use is not None and message.usage.server_tool_use.web_search_requests == 1
    )
    assert (message.model_extra or {})["search_results"] == RESULTS
    [call] = fake_upstream.calls("pplx")
    assert call.body["search_recency_filter"] == "month"


def test_anthropic_sdk_collects_streamed_citations(
    fake_upstream: FakeUpstream, claude: anthropic.Anthropic
) -> None:
    fake_upstream.script("pplx", search_reply())
    with claude.messages.stream(model="sonar", max_tokens=256, messages=QUESTION) as stream:
        final = stream.get_final_message()
    [block] = final.content
    assert block.type == "text" and block.text == ANSWER
    assert [c.url for c in block.citations or ()] == CITATIONS


# -- Amazon Bedrock --------------------------------------------------------------------------------


def test_openai_sdk_is_answered_by_bedrock(fake_upstream: FakeUpstream, oai: openai.OpenAI) -> None:
    fake_upstream.script("br", Reply.ok("Hello from Nova.", input_tokens=12, output_tokens=4))
    completion = oai.chat.completions.create(model="nova", messages=QUESTION, max_tokens=64)
    assert completion.choices[0].message.content == "Hello from Nova."
    assert completion.model == NOVA
    assert completion.usage is not None and completion.usage.prompt_tokens == 12
    [call] = fake_upstream.calls("br")
    assert call.path == f"/model/{NOVA}/converse" and call.sigv4_problem is None


def test_openai_sdk_streams_tool_calls_from_bedrock(fake_upstream: FakeUpstream, oai: openai.OpenAI) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "count_stars",
            "parameters": {"type": "object", "properties": {"galaxy": {"type": "string"}}},
        },
    }
    fake_upstream.script(
        "br", Reply.ok(None, tool_calls=[ToolCallSpec("count_stars", {"galaxy": "Milky Way"}, id="tu_7")])
    )
    with oai.chat.completions.stream(model="nova", messages=QUESTION, tools=[tool]) as stream:
        final = stream.get_final_completion()
    [call] = final.choices[0].message.tool_calls or []
    assert call.id == "tu_7" and call.function.name == "count_stars"
    assert final.choices[0].finish_reason == "tool_calls"
    [recorded] = fake_upstream.calls("br")
    assert recorded.path.endswith("/converse-stream") and recorded.sigv4_problem is None


def test_anthropic_sdk_streams_from_bedrock(fake_upstream: FakeUpstream, claude: anthropic.Anthropic) -> None:
    fake_upstream.script("br", Reply.ok("Streamed by Nova.", input_tokens=9, output_tokens=5))
    with claude.messages.stream(model="nova", max_tokens=64, system="Be brief.", messages=QUESTION) as stream:
        final = stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "Streamed by Nova."
    assert final.usage.output_tokens == 5
    [recorded] = fake_upstream.calls("br")
    assert recorded.body["system"] == [{"text": "Be brief."}]


def test_openai_sdk_embeds_with_bedrock_titan(fake_upstream: FakeUpstream, oai: openai.OpenAI) -> None:
    fake_upstream.script("br", Reply.ok(input_tokens=4), Reply.ok(input_tokens=6))
    texts = ["Stars of the Milky Way", "Gaia's star catalogue"]
    # The SDK asks for base64 unless told otherwise, and decodes it: the gateway encodes Titan's floats.
    answer = oai.embeddings.create(model="titan", input=texts, dimensions=256)
    assert [e.embedding for e in answer.data] == [fake_vector(t, 256) for t in texts]
    assert answer.model == TITAN
    assert (answer.usage.prompt_tokens, answer.usage.total_tokens) == (10, 10)
    calls = fake_upstream.calls("br")
    assert sorted(c.body["inputText"] for c in calls) == sorted(texts)
    assert all(c.path == f"/model/{TITAN}/invoke" and c.sigv4_problem is None for c in calls)
