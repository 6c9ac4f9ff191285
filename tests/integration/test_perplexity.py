"""Web search through Perplexity (the shipped ``perplexity`` entry and ``sonar*`` wildcard, against
the fake): Perplexity's options reach it unchanged, its citations and search results reach the
caller in OpenAI's shape (``annotations``) and in Anthropic's (citations, ``search_results``,
``server_tool_use``), buffered and streamed, and the per-request search fee is in the cost."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
from gateway_checks import MESSAGES, assert_served
from shipped_config import shipped_provider
from streaming_checks import content_of, cost_of, openai_stream, parse_sse

from conftest import GatewayFactory
from fakes import FakeUpstream, Reply

PPLX_KEY = "pplx-fake-test-key-not-a-real-one"
ANSWER = "The Milky Way holds 100 to 400 billion stars[1][2]. Gaia mapped about 1.8 billion[2]."
CITATIONS = ["https://nasa.example/milky-way", "https://esa.example/gaia"]
RESULTS = [
    {
        "title": "The Milky Way",
        "url": CITATIONS[0],
        "date": "2024-03-01",
        "snippet": "Our galaxy contains between 100 and 400 billion stars.",
    },
    {"title": "Gaia", "url": CITATIONS[1], "date": "2025-01-15", "snippet": "Gaia charts 1.8 billion stars."},
]
OPTIONS = {
    "search_domain_filter": ["nasa.example", "-reddit.com"],
    "search_recency_filter": "month",
    "web_search_options": {"search_context_size": "medium"},
    "return_related_questions": True,
}


def search_reply(size: str = "medium", **extra: Any) -> Reply:
    return Reply.search(
        ANSWER,
        citations=CITATIONS,
        search_results=RESULTS,
        usage_extra={"search_context_size": size, **extra},
        input_tokens=1000,
        output_tokens=1000,
    )


async def perplexity(fake: FakeUpstream, gateway: GatewayFactory) -> httpx.AsyncClient:
    config = shipped_provider(fake, "perplexity")
    return await gateway(config, environment={"PERPLEXITY_API_KEY": PPLX_KEY})


async def ask(client: httpx.AsyncClient, model: str = "sonar", **fields: Any) -> httpx.Response:
    return await client.post("/v1/chat/completions", json={"model": model, "messages": MESSAGES, **fields})


async def test_search_options_pass_through_and_citations_come_back_as_annotations(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await perplexity(fake_upstream, gateway)
    fake_upstream.script("perplexity", search_reply())

    response = await ask(client, **OPTIONS)

    body = assert_served(response, fake_upstream, provider="perplexity", model="sonar", attempts=1)
    [call] = fake_upstream.calls("perplexity")
    assert call.path == "/chat/completions"  # Perplexity's URL has no /v1
    assert call.api_key == PPLX_KEY
    for name, value in OPTIONS.items():
        assert call.body[name] == value, name
    # Perplexity's own fields, as they came...
    assert body["citations"] == CITATIONS and body["search_results"] == RESULTS
    # ... and OpenAI's: one url_citation per marker, spanning the marker.
    annotations = body["choices"][0]["message"]["annotations"]
    assert [a["url_citation"]["url"] for a in annotations] == [CITATIONS[0], CITATIONS[1], CITATIONS[1]]
    first = annotations[0]["url_citation"]
    assert ANSWER[first["start_index"] : first["end_index"]] == "[1]"
    assert first["title"] == "The Milky Way"
    assert body["choices"][0]["message"]["content"] == ANSWER


async def test_the_search_fee_of_the_context_size_used_is_in_the_cost(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await perplexity(fake_upstream, gateway)
    fake_upstream.script("perplexity", search_reply("medium"), search_reply("high"))

    medium = await ask(client)
    high = await ask(client, "sonar-pro")

    # sonar: 1000 * 1 + 1000 * 1 per 1M, plus $8 per 1K requests at medium context.
    assert Decimal(medium.headers["x-switchyard-cost-usd"]) == Decimal("0.002") + Decimal("0.008")
    # sonar-pro: 1000 * 3 + 1000 * 15 per 1M, plus $14 per 1K at high.
    assert Decimal(high.headers["x-switchyard-cost-usd"]) == Decimal("0.018") + Decimal("0.014")


async def test_without_a_reported_size_the_requested_one_is_billed(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await perplexity(fake_upstream, gateway)
    reply = Reply.search(ANSWER, citations=CITATIONS, usage_extra={"num_search_queries": 1})
    fake_upstream.script("perplexity", reply, reply)
    asked_high = await ask(client, web_search_options={"search_context_size": "high"})
    default = await ask(client)
    tokens = Decimal(11 + 7) / 1_000_000
    assert Decimal(asked_high.headers["x-switchyard-cost-usd"]) == tokens + Decimal("0.012")
    assert Decimal(default.headers["x-switchyard-cost-usd"]) == tokens + Decimal("0.005")  # low


async def test_deep_research_pays_per_query_and_for_citation_and_reasoning_tokens(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await perplexity(fake_upstream, gateway)
    extra = {"citation_tokens": 10_000, "reasoning_tokens": 100_000, "num_search_queries": 20}
    fake_upstream.script("perplexity", search_reply(**extra))
    response = await ask(client, "sonar-deep-research")
    # 1000 * 2 + 1000 * 8 + 10000 * 2 + 100000 * 3 per 1M = 0.33; 20 queries * $0.005 = 0.10.
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.33") + Decimal("0.1")


async def test_a_streamed_search_answer_carries_citations_annotations_and_its_fee(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await perplexity(fake_upstream, gateway)
    fake_upstream.script("perplexity", search_reply("low"))

    response = await ask(client, stream=True, stream_options={"include_usage": True})

    chunks, done, error = openai_stream(response.text)
    assert done and error is None
    assert content_of(chunks) == ANSWER
    [call] = fake_upstream.calls("perplexity")
    assert call.body["stream"] is True and "stream_options" not in call.body
    assert chunks[0]["citations"] == CITATIONS and chunks[0]["search_results"] == RESULTS
    [annotated] = [c for c in chunks if c["choices"] and c["choices"][0]["delta"].get("annotations")]
    found = annotated["choices"][0]["delta"]["annotations"]
    assert [a["url_citation"]["url"] for a in found] == [CITATIONS[0], CITATIONS[1], CITATIONS[1]]
    assert Decimal(cost_of(response.text)) == Decimal("0.002") + Decimal("0.005")


async def test_anthropic_callers_get_citations_search_results_and_the_search_count(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await perplexity(fake_upstream, gateway)
    fake_upstream.script("perplexity", search_reply("medium", num_search_queries=2))
    body = {
        "model": "sonar",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "How many stars are in the Milky Way?"}],
        "search_recency_filter": "week",
        "search_domain_filter": ["nasa.example"],
    }

    response = await client.post("/v1/messages", json=body)

    assert response.status_code == 200, response.text
    message = response.json()
    [text] = message["content"]
    assert text["type"] == "text" and text["text"] == ANSWER
    assert [c["url"] for c in text["citations"]] == CITATIONS  # once per source
    assert text["citations"][0] == {
        "type": "web_search_result_location",
        "url": CITATIONS[0],
        "title": "The Milky Way",
        "cited_text": RESULTS[0]["snippet"],
        "encrypted_index": "",
    }
    assert message["search_results"] == RESULTS
    assert message["usage"]["server_tool_use"] == {"web_search_requests": 2}
    [call] = fake_upstream.calls("perplexity")
    assert call.body["search_recency_filter"] == "week"  # options pass from this route too
    assert call.body["search_domain_filter"] == ["nasa.example"]
    assert Decimal(response.headers["x-switchyard-cost-usd"]) == Decimal("0.002") + Decimal("0.008")


async def test_anthropic_streams_carry_citations_deltas_and_search_results(
    fake_upstream: FakeUpstream, gateway: GatewayFactory
) -> None:
    client = await perplexity(fake_upstream, gateway)
    fake_upstream.script("perplexity", search_reply("low"))
    body = {"model": "sonar", "max_tokens": 300, "stream": True, "messages": MESSAGES}

    response = await client.post("/v1/messages", json=body)

    events, _ = parse_sse(response.text)
    deltas = [e.json()["delta"] for e in events if e.event == "content_block_delta"]
    assert "".join(d["text"] for d in deltas if d["type"] == "text_delta") == ANSWER
    cited = [d["citation"] for d in deltas if d["type"] == "citations_delta"]
    assert [c["url"] for c in cited] == CITATIONS
    [final] = [e.json() for e in events if e.event == "message_delta"]
    assert final["search_results"] == RESULTS
    assert final["usage"]["server_tool_use"] == {"web_search_requests": 1}
