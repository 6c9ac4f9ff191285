"""The fake upstream's Amazon Bedrock dialect: Converse answers, ConverseStream's binary event
stream, Bedrock's error shape, and a SigV4 check written from the published algorithm (not with
botocore, whose signer the gateway uses: the check must not share its mistakes).

    POST /<name>/model/<modelId>/converse          JSON answer
    POST /<name>/model/<modelId>/converse-stream   application/vnd.amazon.eventstream
    POST /<name>/model/<modelId>/invoke            InvokeModel: Titan Text Embeddings and Cohere
                                                   Embed v3 bodies (:func:`invoke_answer`)

Event stream frames (``application/vnd.amazon.eventstream``): a 12-byte prelude (total length,
headers length, CRC32 of those 8 bytes), the headers (name length, name, type 7 = string with a
2-byte length), the JSON payload, and a CRC32 of everything before it. Bedrock pads each payload
with a ``"p"`` field of random length; so does the fake.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import struct
import zlib
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from fakes.constants import AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
from fakes.replies import FAKE_DIMENSIONS, Reply, _pieces, fake_vector

# Status -> the exception Bedrock names in x-amzn-ErrorType for it.
_EXCEPTIONS = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
EVENTSTREAM = "application/vnd.amazon.eventstream"
TITAN_V2_DIMENSIONS = (256, 512, 1024)
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering")
COHERE_MAX_TEXTS = 96


# -- answers ---------------------------------------------------------------------------------------


def _usage(reply: Reply) -> dict[str, int]:
    usage = {
        "inputTokens": reply.input_tokens,
        "outputTokens": reply.output_tokens,
        "totalTokens": reply.input_tokens
        + reply.output_tokens
        + reply.cache_read_tokens
        + reply.cache_write_tokens,
    }
    if reply.cache_read_tokens or reply.cache_write_tokens:
        usage["cacheReadInputTokens"] = reply.cache_read_tokens
        usage["cacheWriteInputTokens"] = reply.cache_write_tokens
    return usage


def converse_body(reply: Reply) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.content:
        content.append({"text": reply.content})
    content.extend(
        {"toolUse": {"toolUseId": tc.id, "name": tc.name, "input": dict(tc.arguments)}}
        for tc in reply.tool_calls
    )
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": "tool_use" if reply.tool_calls else "end_turn",
        "usage": _usage(reply),
        "metrics": {"latencyMs": 12},
    }


def error_type(reply: Reply) -> str:
    if reply.error_type.endswith("Exception"):
        return reply.error_type
    return _EXCEPTIONS.get(reply.status, "InternalServerException")


def error_headers(reply: Reply) -> dict[str, str]:
    # The real header carries the exception's namespace after a colon.
    return {"x-amzn-ErrorType": f"{error_type(reply)}:http://internal.amazon.com/coral/com.amazon.bedrock/"}


def error_body(reply: Reply) -> Any:
    return reply.body if reply.body is not None else {"message": reply.message}


# -- InvokeModel (embeddings) ---------------------------------------------------------------------


def invoke_answer(model: str, body: Any, reply: Reply) -> dict[str, Any]:
    """What InvokeModel answers ``body`` for ``model`` (a foundation model id, or a profile id):
    Titan's one vector (``reply.input_tokens`` as its count; ``dimensions`` components, else
    :data:`FAKE_DIMENSIONS` where Titan would send 1024) or Cohere's vectors, :func:`fake_vector`
    of each text. Raises ValueError, with a message in Bedrock's words, for a body Bedrock
    would refuse (a ValidationException)."""
    base = re.sub(r"^(?:us|eu|apac|global)\.", "", model.rpartition("/")[2])
    if not isinstance(body, dict):
        raise ValueError("Malformed input request: expected a JSON object")
    if base.startswith("amazon.titan-embed-text-v"):
        return _titan(body, reply, v2=base.startswith("amazon.titan-embed-text-v2"))
    if base.startswith(("cohere.embed-english-v3", "cohere.embed-multilingual-v3")):
        return _cohere(body)
    raise ValueError(f"The model {model} does not support InvokeModel with this body")


def invoke_headers(reply: Reply) -> dict[str, str]:
    """InvokeModel's response headers: Bedrock counts the input tokens there for every model."""
    return {
        "X-Amzn-Bedrock-Input-Token-Count": str(reply.input_tokens),
        "X-Amzn-Bedrock-Invocation-Latency": "12",
        "x-amzn-RequestId": "fake-invoke-request",
    }


def _titan(body: dict[str, Any], reply: Reply, *, v2: bool) -> dict[str, Any]:
    allowed = {"inputText", "dimensions", "normalize", "embeddingTypes"} if v2 else {"inputText"}
    extra = sorted(set(body) - allowed)
    if extra:
        raise ValueError(f"Malformed input request: extraneous key [{extra[0]}] is not permitted")
    text = body.get("inputText")
    if not isinstance(text, str) or not text:
        raise ValueError("Malformed input request: #/inputText: expected minLength: 1")
    dimensions = body.get("dimensions")
    if dimensions is not None and dimensions not in TITAN_V2_DIMENSIONS:
        raise ValueError(f"Malformed input request: #/dimensions: {dimensions} is not a valid enum value")
    vector = fake_vector(text, dimensions or FAKE_DIMENSIONS)
    return {"embedding": vector, "inputTextTokenCount": reply.input_tokens}


def _cohere(body: dict[str, Any]) -> dict[str, Any]:
    texts = body.get("texts")
    if not isinstance(texts, list) or not 0 < len(texts) <= COHERE_MAX_TEXTS:
        raise ValueError(f"Malformed input request: #/texts: expected 1 to {COHERE_MAX_TEXTS} texts")
    if body.get("input_type") not in COHERE_INPUT_TYPES:
        raise ValueError("Malformed input request: #/input_type: not a valid enum value")
    vectors = [fake_vector(str(text)) for text in texts]
    answer: dict[str, Any] = {"id": "fake-cohere", "texts": texts}
    if "float" in (body.get("embedding_types") or ()):
        return {**answer, "embeddings": {"float": vectors}, "response_type": "embeddings_by_type"}
    return {**answer, "embeddings": vectors, "response_type": "embeddings_floats"}


# -- the event stream ------------------------------------------------------------------------------


def frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One event stream message (string headers only, as Bedrock sends)."""
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack("!B", len(raw_name)) + raw_name + b"\x07"
        encoded += struct.pack("!H", len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", zlib.crc32(prelude))
    message = prelude + encoded + payload
    return message + struct.pack("!I", zlib.crc32(message))


def _event(kind: str, payload: dict[str, Any], seq: int) -> bytes:
    body = {**payload, "p": "abcdefghijklmnopqrstuvwxyz"[: (seq * 7) % 26]}
    headers = {":event-type": kind, ":content-type": "application/json", ":message-type": "event"}
    return frame(headers, json.dumps(body).encode())


def exception_frame(name: str, message: str) -> bytes:
    headers = {":exception-type": name, ":content-type": "application/json", ":message-type": "exception"}
    return frame(headers, json.dumps({"message": message}).encode())


def stream_events(reply: Reply) -> Iterator[bytes]:
    """ConverseStream's events for ``reply``, one frame per item."""
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    index = 0
    if reply.content:
        for piece in _pieces(reply.content):
            events.append(("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}}))
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    for tc in reply.tool_calls:
        start = {"toolUse": {"toolUseId": tc.id, "name": tc.name}}
        events.append(("contentBlockStart", {"contentBlockIndex": index, "start": start}))
        arguments = json.dumps(dict(tc.arguments))
        for part in (arguments[: len(arguments) // 2], arguments[len(arguments) // 2 :]):
            delta = {"toolUse": {"input": part}}
            events.append(("contentBlockDelta", {"contentBlockIndex": index, "delta": delta}))
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    events.append(("messageStop", {"stopReason": "tool_use" if reply.tool_calls else "end_turn"}))
    events.append(("metadata", {"usage": _usage(reply), "metrics": {"latencyMs": 15}}))
    for seq, (kind, payload) in enumerate(events):
        if reply.stream_exception is not None and seq >= reply.exception_after:
            yield exception_frame(reply.stream_exception, "The fake stream failed.")
            return
        yield _event(kind, payload, seq)


# -- SigV4 -----------------------------------------------------------------------------------------


def check_sigv4(
    method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes
) -> str | None:
    """Why the request's AWS Signature Version 4 is wrong for the fake's credentials, service
    ``bedrock``, or None when it is right. ``headers`` have lower-case names."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "not signed with AWS4-HMAC-SHA256"
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
    access_key, date, region, service, terminal = fields["Credential"].split("/")
    if access_key != AWS_ACCESS_KEY_ID or service != "bedrock" or terminal != "aws4_request":
        return f"wrong credential scope {fields['Credential']}"
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(date):
        return "x-amz-date does not match the credential scope"
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return "host and x-amz-date must be signed"
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed)
    canonical_query = "&".join(sorted(query.split("&"))) if query else ""
    canonical = "\n".join(
        [
            method,
            quote(raw_path, safe="/~"),  # non-S3 services encode the (encoded) path once more
            canonical_query,
            canonical_headers,
            fields["SignedHeaders"],
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{AWS_SECRET_ACCESS_KEY}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["Signature"]):
        return "signature mismatch"
    return None
