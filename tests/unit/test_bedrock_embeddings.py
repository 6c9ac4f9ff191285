"""Bedrock embeddings (InvokeModel) on httpx.MockTransport: the Titan and Cohere bodies, their
answers in OpenAI's shape, token counts (body, header, estimate), what is refused before any call
(token arrays, dimensions, input types), Cohere's batches of 96 and Titan's bounded fan-out in
input order, and failures (classified as Bedrock names them, the first one cancelling the rest,
one timeout for every call)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from botocore.credentials import Credentials

from switchyard.api.embeddings import EmbeddingRequest, EmbeddingResponse, decode_vector
from switchyard.cache.keys import cache_key
from switchyard.errors import InvalidRequestError, Kind, ProviderError
from switchyard.providers.aws_sigv4 import SigV4Signer
from switchyard.providers.base import Target
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.bedrock_embeddings import (
    COHERE_BATCH,
    MAX_CONCURRENT_CALLS,
    Cohere,
    Titan,
    family_of,
    in_order,
)
from switchyard.providers.http import build_client

TITAN = "amazon.titan-embed-text-v2:0"
TITAN_V1 = "amazon.titan-embed-text-v1"
COHERE = "cohere.embed-english-v3"
HEADER = "X-Amzn-Bedrock-Input-Token-Count"

type Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def vector(text: str) -> list[float]:
    """Exactly representable in float32, different for every text."""
    return [len(text) / 4, -0.5, float(sum(map(ord, text)) % 7)]


def request(**fields: Any) -> EmbeddingRequest:
    return EmbeddingRequest.model_validate({"model": "public", "input": ["hello", "world"], **fields})


def target(model: str = TITAN, **kw: Any) -> Target:
    values: dict[str, Any] = {
        "provider": "br",
        "deployment_id": f"br/{model}",
        "upstream_model": model,
        "base_url": "https://bedrock.test",
        "api_key": None,
        "timeout_s": 5.0,
    }
    return Target(**{**values, **kw})


class Bedrock:
    """A scripted InvokeModel endpoint: Titan or Cohere answers by the body's shape, every call
    recorded, at most ``peak`` calls seen at once."""

    def __init__(
        self,
        *,
        delay: Callable[[dict[str, Any]], float] = lambda body: 0.0,
        titan_count: bool = True,
        header: str | None = "4",
        fail: Callable[[dict[str, Any]], httpx.Response | None] = lambda body: None,
    ) -> None:
        self.requests: list[httpx.Request] = []
        self.bodies: list[dict[str, Any]] = []
        self.delay, self.titan_count, self.header, self.fail = delay, titan_count, header, fail
        self.running = self.peak = 0

    async def __call__(self, req: httpx.Request) -> httpx.Response:
        body: dict[str, Any] = json.loads(req.content)
        self.requests.append(req)
        self.bodies.append(body)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.delay(body))
        finally:
            self.running -= 1
        failure = self.fail(body)
        if failure is not None:
            return failure
        headers = {HEADER: self.header} if self.header is not None else {}
        return httpx.Response(200, json=self.answer(body), headers=headers)

    def answer(self, body: dict[str, Any]) -> dict[str, Any]:
        if "inputText" in body:
            text = body["inputText"]
            answer: dict[str, Any] = {"embedding": vector(text)}
            if self.titan_count:
                answer["inputTextTokenCount"] = len(text)
            return answer
        floats = [vector(t) for t in body["texts"]]
        return {"id": "x", "texts": body["texts"], "embeddings": {"float": floats}}


async def embed(upstream: Bedrock, req: EmbeddingRequest, tgt: Target | None = None) -> EmbeddingResponse:
    signer = SigV4Signer("bedrock", "us-east-1", {}, credentials=Credentials("AKID", "secret"))
    async with build_client(httpx.MockTransport(upstream)) as client:
        adapter = BedrockProvider(client, "us-east-1", signer)
        return await adapter.embed(req, tgt or target())


def vectors(response: EmbeddingResponse) -> list[Any]:
    assert [e.index for e in response.data] == list(range(len(response.data)))
    return [e.embedding for e in response.data]


def bedrock_error(status: int, name: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"message": message}, headers={"x-amzn-ErrorType": f"{name}:ns"})


# -- families --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "family"),
    [
        (TITAN, Titan),
        ("us.amazon.titan-embed-text-v2:0", Titan),
        (f"arn:aws:bedrock:us-east-1::foundation-model/{TITAN}", Titan),
        (TITAN_V1, Titan),
        (COHERE, Cohere),
        ("cohere.embed-multilingual-v3", Cohere),
        ("eu.cohere.embed-english-v3", Cohere),
        ("amazon.nova-lite-v1:0", None),
        ("amazon.titan-embed-image-v1", None),
        ("cohere.embed-v4:0", None),
    ],
)
def test_the_family_is_read_from_the_model_id_profile_or_arn(model: str, family: type | None) -> None:
    found = family_of(model)
    assert (found is None) if family is None else isinstance(found, family)


# -- Titan -----------------------------------------------------------------------------------------


async def test_titan_gets_one_signed_invoke_call_and_answers_openais_shape() -> None:
    upstream = Bedrock()

    response = await embed(upstream, request(input="hello"))

    [sent] = upstream.requests
    assert str(sent.url) == f"https://bedrock.test/model/{TITAN}/invoke"
    assert sent.headers["content-type"] == sent.headers["accept"] == "application/json"
    assert sent.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKID/")
    assert upstream.bodies == [{"inputText": "hello", "normalize": True}]
    assert json.loads(response.to_json()) == {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": vector("hello")}],
        "model": TITAN,
        "usage": {"prompt_tokens": 5, "total_tokens": 5},  # the body's count, not the header's 4
    }


async def test_a_titan_list_is_one_call_per_input_bounded_and_kept_in_order() -> None:
    texts = [f"text number {i}" for i in range(20)]
    # The first inputs answer last: the order comes from the inputs, not from the answers.
    upstream = Bedrock(delay=lambda body: 0.02 * (20 - int(body["inputText"].split()[-1])) / 20)

    response = await embed(upstream, request(input=texts))

    assert len(upstream.requests) == 20
    assert 1 < upstream.peak <= MAX_CONCURRENT_CALLS
    assert vectors(response) == [vector(t) for t in texts]
    assert response.usage is not None and response.usage.prompt_tokens == sum(len(t) for t in texts)


async def test_titan_v2_takes_its_three_dimensions_and_refuses_others_before_any_call() -> None:
    upstream = Bedrock()
    await embed(upstream, request(input="a", dimensions=512))
    assert upstream.bodies == [{"inputText": "a", "dimensions": 512, "normalize": True}]

    with pytest.raises(InvalidRequestError) as refused:
        await embed(upstream, request(dimensions=300))
    assert refused.value.kind is Kind.INVALID_REQUEST and refused.value.param == "dimensions"
    assert "256, 512, 1024" in refused.value.message
    assert len(upstream.requests) == 1


async def test_titan_v1_takes_the_text_only_and_no_dimensions() -> None:
    upstream = Bedrock()
    await embed(upstream, request(input="a"), target(TITAN_V1))
    assert upstream.bodies == [{"inputText": "a"}]
    with pytest.raises(InvalidRequestError):
        await embed(upstream, request(dimensions=256), target(TITAN_V1))
    assert len(upstream.requests) == 1


@pytest.mark.parametrize(
    ("titan_count", "header", "tokens"),
    [(True, "4", 10), (False, "4", 8), (False, None, 4)],  # "hello", "world": 5 + 5; 4 + 4; 2 + 2
    ids=["body", "header", "estimate"],
)
async def test_titan_tokens_come_from_the_body_else_the_header_else_the_estimate(
    titan_count: bool, header: str | None, tokens: int
) -> None:
    response = await embed(Bedrock(titan_count=titan_count, header=header), request())
    assert response.usage is not None
    assert (response.usage.prompt_tokens, response.usage.total_tokens) == (tokens, tokens)


# -- Cohere ----------------------------------------------------------------------------------------


async def test_cohere_gets_batches_of_96_texts_in_order() -> None:
    texts = [f"t{i}" for i in range(2 * COHERE_BATCH + 8)]
    upstream = Bedrock(header="7")

    response = await embed(upstream, request(input=texts), target(COHERE))

    batches = sorted((b["texts"] for b in upstream.bodies), key=lambda b: texts.index(b[0]))
    assert batches == [texts[:96], texts[96:192], texts[192:]]
    assert all(
        b["input_type"] == "search_document" and b["embedding_types"] == ["float"] for b in upstream.bodies
    )
    assert vectors(response) == [vector(t) for t in texts]
    assert response.usage is not None and response.usage.prompt_tokens == 3 * 7  # the headers' counts
    assert response.model == COHERE


async def test_cohere_takes_the_callers_input_type_and_refuses_unknown_ones_and_dimensions() -> None:
    upstream = Bedrock()
    await embed(upstream, request(input_type="search_query"), target(COHERE))
    assert upstream.bodies == [
        {"texts": ["hello", "world"], "input_type": "search_query", "embedding_types": ["float"]}
    ]
    for bad, param in (({"input_type": "poetry"}, "input_type"), ({"dimensions": 256}, "dimensions")):
        with pytest.raises(InvalidRequestError) as refused:
            await embed(upstream, request(**bad), target(COHERE))
        assert refused.value.param == param
    assert len(upstream.requests) == 1


def test_cohere_input_types_are_cached_apart() -> None:
    # A query's vector is not a document's: the extra field must be part of the cache key.
    keys = {cache_key(request(**extra), "k") for extra in ({}, {"input_type": "search_query"})}
    assert len(keys) == 2


async def test_cohere_without_a_token_count_header_is_estimated() -> None:
    response = await embed(Bedrock(header=None), request(), target(COHERE))
    assert response.usage is not None and response.usage.prompt_tokens == 4  # 2 + 2 at 4 chars a token


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"embeddings": [vector("hello"), vector("world")]}, None),  # a bare list: accepted
        ({"embeddings": {"float": [vector("hello")]}}, Kind.BAD_RESPONSE),  # one vector for two
        ({"embeddings": {"int8": [[1]]}}, Kind.BAD_RESPONSE),
        ({"embedding": [0.5]}, Kind.BAD_RESPONSE),
    ],
    ids=["bare-list", "too-few", "wrong-type", "titan-shape"],
)
async def test_cohere_answers_are_checked(answer: dict[str, Any], kind: Kind | None) -> None:
    upstream = Bedrock()
    upstream.answer = lambda body: answer  # type: ignore[method-assign]
    if kind is None:
        response = await embed(upstream, request(), target(COHERE))
        assert vectors(response) == [vector("hello"), vector("world")]
        return
    with pytest.raises(ProviderError) as caught:
        await embed(upstream, request(), target(COHERE))
    assert caught.value.kind is kind


# -- both ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [TITAN, COHERE])
async def test_token_arrays_are_refused_before_any_call(model: str) -> None:
    upstream = Bedrock()
    with pytest.raises(InvalidRequestError) as refused:
        await embed(upstream, request(input=[[1, 2], [3]]), target(model))
    assert "token arrays" in refused.value.message and refused.value.param == "input"
    assert upstream.requests == []


async def test_other_bedrock_models_are_model_not_found_without_a_call() -> None:
    upstream = Bedrock()
    with pytest.raises(ProviderError) as caught:
        await embed(upstream, request(input=[[1, 2]]), target("amazon.nova-lite-v1:0"))
    assert caught.value.kind is Kind.MODEL_NOT_FOUND  # the next deployment is tried
    assert upstream.requests == []


@pytest.mark.parametrize("model", [TITAN, COHERE])
async def test_base64_is_made_from_bedrocks_floats(model: str) -> None:
    response = await embed(Bedrock(), request(encoding_format="base64"), target(model))
    assert [decode_vector(str(v)) for v in vectors(response)] == [vector("hello"), vector("world")]


async def test_a_bedrock_api_key_replaces_the_signature() -> None:
    upstream = Bedrock()
    await embed(upstream, request(input="a"), target(api_key="bedrock-api-key-0123456789"))
    [sent] = upstream.requests
    assert sent.headers["authorization"] == "Bearer bedrock-api-key-0123456789"
    assert "x-amz-date" not in sent.headers


# -- failures --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "name", "kind"),
    [
        (429, "ThrottlingException", Kind.RATE_LIMITED),
        (429, "ServiceQuotaExceededException", Kind.QUOTA_EXCEEDED),
        (503, "ServiceUnavailableException", Kind.OVERLOADED),
        (400, "ValidationException", Kind.INVALID_REQUEST),
        (403, "AccessDeniedException", Kind.AUTH),
    ],
)
async def test_failures_are_classified_as_bedrock_names_them(status: int, name: str, kind: Kind) -> None:
    upstream = Bedrock(fail=lambda body: bedrock_error(status, name, "Not this time."))
    with pytest.raises(ProviderError) as caught:
        await embed(upstream, request(input="a"))
    assert caught.value.kind is kind and caught.value.upstream_status == status


async def test_one_failing_titan_call_fails_the_request_and_cancels_the_rest() -> None:
    texts = [f"t{i}" for i in range(30)]

    def fail(body: dict[str, Any]) -> httpx.Response | None:
        if body["inputText"] == "t3":
            return bedrock_error(429, "ThrottlingException", "Too many requests.")
        return None

    upstream = Bedrock(delay=lambda body: 0.0 if body["inputText"] == "t3" else 0.05, fail=fail)
    with pytest.raises(ProviderError) as caught:  # itself, not an exception group
        await embed(upstream, request(input=texts))
    assert caught.value.kind is Kind.RATE_LIMITED
    assert len(upstream.requests) < len(texts)  # the calls not started never were


async def test_every_call_fits_in_the_targets_timeout() -> None:
    upstream = Bedrock(delay=lambda body: 0.03)
    started = asyncio.get_running_loop().time()
    with pytest.raises(ProviderError) as caught:
        # 20 calls, 8 at a time, 30 ms each: about 90 ms in all, past the 50 ms left.
        await embed(upstream, request(input=[f"t{i}" for i in range(20)]), target(timeout_s=0.05))
    assert caught.value.kind is Kind.TIMEOUT
    assert asyncio.get_running_loop().time() - started < 0.5


async def test_a_malformed_answer_is_a_bad_response() -> None:
    upstream = Bedrock()
    upstream.answer = lambda body: {"embedding": "nope"}  # type: ignore[method-assign]
    with pytest.raises(ProviderError) as caught:
        await embed(upstream, request(input="a"))
    assert caught.value.kind is Kind.BAD_RESPONSE


async def test_in_order_keeps_the_order_and_the_bound() -> None:
    running = peak = 0

    def call(i: int) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.001 * (10 - i))
            running -= 1
            return i

        return run

    assert await in_order([call(i) for i in range(10)], 3) == list(range(10))
    assert peak == 3
