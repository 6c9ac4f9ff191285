"""Embeddings: the wire schema, vector encodings, the OpenAI-dialect adapters on MockTransport,
the mock's vectors, and the pipeline's measures of an embeddings request (estimates, cache key)."""

from __future__ import annotations

import base64
import json
import math
import struct
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from switchyard.api.chat import ChatRequest
from switchyard.api.embeddings import (
    EmbeddingRequest,
    EmbeddingResponse,
    decode_vector,
    encode_vector,
    encoded,
)
from switchyard.cache.keys import cache_key
from switchyard.cache.policy import plan_for
from switchyard.errors import Kind, ProviderError
from switchyard.limits.windows import token_estimate
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.base import Target
from switchyard.providers.http import build_client
from switchyard.providers.mock import MockProvider
from switchyard.providers.openai import OpenAIProvider
from switchyard.providers.openai_compatible import OpenAICompatibleProvider

KEY = "sk-test-0123456789abcdefSECRET"
VECTORS = [[0.5, -0.25, 1.0], [0.0, 0.125, -1.0]]


def _request(**kw: Any) -> EmbeddingRequest:
    return EmbeddingRequest.model_validate({"model": "public", "input": ["a", "b"], **kw})


def _target(**kw: Any) -> Target:
    values: dict[str, Any] = {
        "provider": "p",
        "deployment_id": "p/emb",
        "upstream_model": "emb-up",
        "base_url": None,
        "api_key": KEY,
        "timeout_s": 5.0,
    }
    return Target(**{**values, **kw})


def _answer(vectors: list[list[float]] | list[str], *, order: list[int] | None = None) -> dict[str, Any]:
    indexes = order or list(range(len(vectors)))
    data = [{"object": "embedding", "index": i, "embedding": vectors[i]} for i in indexes]
    return {
        "object": "list",
        "data": data,
        "model": "emb-up",
        "usage": {"prompt_tokens": 5, "total_tokens": 5},
    }


class Upstream:
    def __init__(self, body: Any, status: int = 200) -> None:
        self.body, self.status = body, status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, json=self.body)

    @property
    def sent(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.requests[-1].content)
        return body


async def _embed(provider_cls: type[OpenAIProvider], upstream: Upstream, request: EmbeddingRequest) -> Any:
    async with build_client(transport=httpx.MockTransport(upstream)) as client:
        return await provider_cls(client, "https://up.example/v1").embed(request, _target())


# -- the wire schema ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "items"),
    [("one", ["one"]), (["a", "b"], ["a", "b"]), ([1, 2, 3], [[1, 2, 3]]), ([[1], [2, 3]], [[1], [2, 3]])],
)
def test_every_input_shape_openai_takes(value: Any, items: list[Any]) -> None:
    assert _request(input=value).inputs == items


@pytest.mark.parametrize("value", ["", [], [""], [[]], [-1], ["a", 1], 7, [1.5], ["x"] * 2049])
def test_unusable_inputs_are_refused_naming_input(value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        _request(input=value)
    assert caught.value.errors()[0]["loc"] == ("input",)


def test_dimensions_and_encoding_are_checked() -> None:
    for bad in ({"dimensions": 0}, {"encoding_format": "int8"}):
        with pytest.raises(ValidationError):
            _request(**bad)


def test_base64_is_little_endian_float32_both_ways() -> None:
    text = encode_vector([1.0, -0.5])
    assert base64.b64decode(text) == struct.pack("<2f", 1.0, -0.5)
    assert decode_vector(text) == [1.0, -0.5]
    for bad in ("not base64!", base64.b64encode(b"abc").decode()):
        with pytest.raises(ValueError):
            decode_vector(bad)


def test_encoded_converts_only_what_differs_and_orders_by_index() -> None:
    raw = json.dumps(_answer(VECTORS, order=[1, 0])).encode()
    response = EmbeddingResponse.model_validate_json(raw)
    response.keep_raw(raw)
    as_floats = encoded(response, "float")
    assert [e.index for e in as_floats.data] == [0, 1]
    assert json.loads(as_floats.to_json())["data"][0]["embedding"] == VECTORS[0]  # not the raw order
    as_text = encoded(as_floats, "base64")
    assert [decode_vector(str(e.embedding)) for e in as_text.data] == VECTORS
    same = encoded(as_text, "base64")
    assert same is as_text


# -- the adapters ------------------------------------------------------------------------------


async def test_openai_asks_for_the_callers_format_and_answers_its_json_as_is() -> None:
    body = _answer([encode_vector(v) for v in VECTORS])
    upstream = Upstream(body)
    request = _request(encoding_format="base64", dimensions=3, metadata={"mock_fault": "x"}, cache={"ttl": 5})

    response = await _embed(OpenAIProvider, upstream, request)

    sent = upstream.requests[0]
    assert str(sent.url) == "https://up.example/v1/embeddings"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    # Gateway-only fields stay home; the upstream model replaces the public name.
    assert upstream.sent == {
        "model": "emb-up",
        "input": ["a", "b"],
        "encoding_format": "base64",
        "dimensions": 3,
    }
    assert json.loads(response.to_json()) == body


async def test_a_compatible_upstream_answers_floats_and_the_gateway_encodes_base64() -> None:
    upstream = Upstream(_answer(VECTORS))

    response = await _embed(OpenAICompatibleProvider, upstream, _request(encoding_format="base64"))

    assert "encoding_format" not in upstream.sent  # Ollama and Gemini's endpoint answer floats
    assert [decode_vector(str(e.embedding)) for e in response.data] == VECTORS


@pytest.mark.parametrize(
    "body",
    [
        _answer(VECTORS[:1]),  # one vector for two inputs
        _answer([VECTORS[0], VECTORS[0]], order=[0, 0]),
        {"object": "list", "data": "nope", "model": "m"},
        _answer(["!!", "??"]),  # base64 that is not
    ],
    ids=["too-few", "duplicate-index", "wrong-shape", "bad-base64"],
)
async def test_answers_that_do_not_fit_the_request_are_bad_responses(body: Any) -> None:
    with pytest.raises(ProviderError) as caught:
        await _embed(OpenAIProvider, Upstream(body), _request())
    assert caught.value.kind is Kind.BAD_RESPONSE


async def test_upstream_errors_are_classified_like_chat() -> None:
    body = {"error": {"message": "The model `emb-up` does not exist", "code": "model_not_found"}}
    with pytest.raises(ProviderError) as caught:
        await _embed(OpenAIProvider, Upstream(body, status=404), _request())
    assert caught.value.kind is Kind.MODEL_NOT_FOUND


async def test_anthropic_has_no_embeddings_and_says_so_without_a_call() -> None:
    calls: list[httpx.Request] = []
    async with build_client(
        transport=httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(500))
    ) as c:
        with pytest.raises(ProviderError) as caught:
            await AnthropicProvider(c).embed(_request(), _target(provider="claude"))
    assert caught.value.kind is Kind.MODEL_NOT_FOUND and calls == []


async def test_the_mock_answers_deterministic_unit_vectors_in_either_format() -> None:
    mock = MockProvider()
    first = await mock.embed(_request(input=["a", "b"], dimensions=16), _target())
    tokens = await mock.embed(_request(input=[[5, 6]], dimensions=16), _target())
    again = await mock.embed(_request(input=["a"], dimensions=16, encoding_format="base64"), _target())
    other_model = await mock.embed(_request(input=["a"], dimensions=16), _target(upstream_model="other"))

    vectors = [list(map(float, e.embedding)) for e in (*first.data, *tokens.data)]
    assert [len(v) for v in vectors] == [16, 16, 16]
    assert all(math.isclose(math.fsum(x * x for x in v), 1.0, rel_tol=1e-5) for v in vectors)
    assert vectors[0] != vectors[1] != vectors[2]
    assert decode_vector(str(again.data[0].embedding)) == vectors[0]  # the same numbers, as base64
    assert other_model.data[0].embedding != first.data[0].embedding
    assert first.usage is not None and first.usage.prompt_tokens == 1 + 1
    assert tokens.usage is not None and tokens.usage.prompt_tokens == 2
    assert len((await mock.embed(_request(input="x"), _target())).data[0].embedding) == 1536


async def test_the_mock_fails_embeddings_as_it_fails_chat() -> None:
    with pytest.raises(ProviderError) as caught:
        await MockProvider().embed(_request(metadata={"mock_fault": "overloaded"}), _target())
    assert caught.value.kind is Kind.OVERLOADED


# -- the pipeline's measures -------------------------------------------------------------------


def test_an_embeddings_request_estimates_its_inputs_and_no_output() -> None:
    assert token_estimate(_request(input=["abcdefgh", "abc"]), default_output=256) == (3, 0)
    assert token_estimate(_request(input=[[1, 2, 3, 4, 5]]), default_output=256) == (5, 0)


def test_every_embeddings_request_is_cached_by_default_under_its_own_key() -> None:
    plan = plan_for(_request(), "k", {}, default_ttl_s=60)
    assert plan.lookup and plan.store and plan.ttl_s == 60
    same = _request(encoding_format="float", user="u", metadata={"a": "b"})
    assert cache_key(same, "k") == plan.key  # float is the default; user and metadata change nothing
    assert cache_key(_request(encoding_format="base64"), "k") != plan.key
    assert cache_key(_request(dimensions=8), "k") != plan.key
    assert cache_key(_request(), "other-key") != plan.key
    chat = ChatRequest.model_validate({"model": "public", "messages": [{"role": "user", "content": "a"}]})
    assert cache_key(chat, "k") != plan.key
    assert not plan_for(_request(cache={"no-store": True, "no-cache": True}), "k", {}, default_ttl_s=60).key
