"""The fake Bedrock endpoint speaks Bedrock's protocol: AWS's own SDK (a boto3 ``bedrock-runtime``
client) calls it, its SigV4 check accepts boto3's signatures and refuses a wrong secret, and
boto3 decodes its event stream, exceptions included, and its InvokeModel answers embeddings as
Titan and Cohere do. So what the gateway's adapter is tested
against is the real wire format, not a private convention shared with the adapter."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from fakes import FakeUpstream, Reply, ToolCallSpec, fake_vector
from fakes.constants import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY

MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Say hello."}]}]


def client(fake: FakeUpstream, secret: str = AWS_SECRET_ACCESS_KEY) -> Any:
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=fake.url("br"),
        aws_access_key_id=AWS_ACCESS_KEY_ID,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5),
    )


@pytest.fixture
def sdk(fake_upstream: FakeUpstream) -> Iterator[Any]:
    bedrock = client(fake_upstream)
    yield bedrock
    bedrock.close()


def test_boto3_converse_is_accepted_and_parsed(fake_upstream: FakeUpstream, sdk: Any) -> None:
    call = ToolCallSpec("get_weather", {"city": "Lyon"}, id="tooluse_1")
    fake_upstream.script("br", Reply.ok("Hi.", tool_calls=[call], input_tokens=5, output_tokens=2))
    answer = sdk.converse(modelId=MODEL, messages=MESSAGES)
    assert answer["output"]["message"]["content"][0] == {"text": "Hi."}
    assert answer["output"]["message"]["content"][1]["toolUse"]["input"] == {"city": "Lyon"}
    assert answer["stopReason"] == "tool_use"
    assert answer["usage"]["inputTokens"] == 5
    [recorded] = fake_upstream.calls("br")
    assert recorded.sigv4_problem is None
    assert recorded.raw_path == f"/model/{MODEL.replace(':', '%3A')}/converse"  # boto3 escapes ":"


def test_boto3_decodes_the_event_stream(fake_upstream: FakeUpstream, sdk: Any) -> None:
    fake_upstream.script("br", Reply.ok("Hello there.", input_tokens=9, output_tokens=4))
    stream = sdk.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]
    try:
        events = list(stream)
    finally:
        stream.close()
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart" and kinds[-2:] == ["messageStop", "metadata"]
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "Hello there."
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 4


def test_boto3_sees_stream_exceptions_and_error_statuses(fake_upstream: FakeUpstream, sdk: Any) -> None:
    fake_upstream.script(
        "br",
        Reply.stream_exception_after(2, "throttlingException"),
        Reply.error(400, "Input is too long for requested model.", error_type="ValidationException"),
    )
    stream = sdk.converse_stream(modelId=MODEL, messages=MESSAGES)["stream"]
    with pytest.raises(EventStreamError) as streamed:
        try:
            list(stream)
        finally:
            stream.close()  # the connection, which the failed stream left checked out
    assert streamed.value.response["Error"]["Code"] == "throttlingException"
    with pytest.raises(ClientError) as buffered:
        sdk.converse(modelId=MODEL, messages=MESSAGES)
    assert buffered.value.response["Error"]["Code"] == "ValidationException"
    assert buffered.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_wrong_secret_fails_the_signature_check(fake_upstream: FakeUpstream) -> None:
    wrong = client(fake_upstream, secret="not-the-secret")
    with pytest.raises(ClientError) as refused:
        wrong.converse(modelId=MODEL, messages=MESSAGES)
    wrong.close()
    assert refused.value.response["Error"]["Code"] == "InvalidSignatureException"
    [recorded] = fake_upstream.calls("br")
    assert recorded.sigv4_problem == "signature mismatch"
    assert fake_upstream.pending("br") == 0


def invoke(sdk: Any, model: str, body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    answer = sdk.invoke_model(
        modelId=model, body=json.dumps(body), contentType="application/json", accept="application/json"
    )
    return json.loads(answer["body"].read()), answer["ResponseMetadata"]["HTTPHeaders"]


def test_boto3_invoke_model_embeds_with_titan_and_cohere(fake_upstream: FakeUpstream, sdk: Any) -> None:
    fake_upstream.script("br", Reply.ok(input_tokens=3), Reply.ok(input_tokens=6))
    titan, titan_headers = invoke(
        sdk, "amazon.titan-embed-text-v2:0", {"inputText": "hello", "dimensions": 256, "normalize": True}
    )
    cohere, cohere_headers = invoke(
        sdk,
        "cohere.embed-english-v3",
        {"texts": ["a", "b"], "input_type": "search_query", "embedding_types": ["float"]},
    )
    assert titan == {"embedding": fake_vector("hello", 256), "inputTextTokenCount": 3}
    assert titan_headers["x-amzn-bedrock-input-token-count"] == "3"
    assert cohere["embeddings"] == {"float": [fake_vector("a"), fake_vector("b")]}
    assert cohere_headers["x-amzn-bedrock-input-token-count"] == "6"
    first, second = fake_upstream.calls("br")
    assert first.sigv4_problem is None and second.sigv4_problem is None
    assert first.raw_path == "/model/amazon.titan-embed-text-v2%3A0/invoke"  # boto3 escapes ":"


def test_boto3_sees_a_body_the_model_does_not_take_as_a_validation_error(
    fake_upstream: FakeUpstream, sdk: Any
) -> None:
    with pytest.raises(ClientError) as refused:
        invoke(sdk, "amazon.titan-embed-text-v2:0", {"inputText": "hello", "dimensions": 300})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "dimensions" in refused.value.response["Error"]["Message"]
    [recorded] = fake_upstream.calls("br")
    assert recorded.reply == "error"
