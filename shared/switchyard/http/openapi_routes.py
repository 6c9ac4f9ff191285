"""What ``/openapi.json`` says of each route: summary, description, the request body where the
route parses it itself, and the error statuses it really answers (switchyard.http.openapi puts
them in). Kept as one table so the document can be read and checked in one place; a test sends
each kind of bad request and checks the status it got is listed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_REF = "#/components/schemas/{}"

DESCRIPTION = """\
One OpenAI- and Anthropic-compatible endpoint in front of many providers: failover, limits,
budgets, an exact cache and cost accounting.

**Authorize** with a client key (`sk-sy-…`) or the master key (`make run` prints it and keeps it
in `.switchyard/master-key`), as `Authorization: Bearer <key>` or `x-api-key: <key>`; `/admin`
routes need the master key. Bodies are JSON (`Content-Type: application/json`); errors use the
OpenAI shape `{"error": {"message", "type", "code", "param"}}`, or the Anthropic shape on
`/v1/messages`. Every answer carries `x-request-id`; served answers also say who answered and what
it cost (`x-switchyard-provider`, `-model`, `-attempts`, `-cache`, `-cost-usd`).
"""

TAGS = [
    {
        "name": "inference",
        "description": "Chat Completions and Messages, buffered or streamed (SSE); embeddings; models",
    },
    {"name": "jobs", "description": "Async jobs: submit, read, list, cancel; signed webhooks"},
    {"name": "conversations", "description": "What the gateway remembers of a conversation"},
    {"name": "usage", "description": "Usage and cost from the daily aggregates"},
    {
        "name": "admin",
        "description": "Master key only: virtual keys, tenants, personas, budgets, anyone's usage",
    },
    {"name": "health", "description": "Liveness and readiness, no key"},
]

ERROR_TEXT = {
    400: "Bad request: a body that is not a JSON object, an invalid field (`param` names it), "
    "`max_tokens` above every deployment's output limit, a job that cannot be cancelled",
    401: "No key, or a key that is unknown, revoked or expired",
    403: "The key may not use this model, or this route needs the master key",
    404: "Unknown model, key, tenant or job",
    413: "The body is over the size limit (6 MB by default)",
    415: "The body is not JSON by its Content-Type (send `application/json`)",
    429: "A limit of the key, a spent budget (`budget_exceeded`), or every deployment rate-limited; "
    "see `Retry-After`",
    502: "The provider failed (bad response, rejected provider key) and no other could answer",
    503: "No deployment could answer, or shared state is unavailable; see `Retry-After`",
    504: "The request's deadline ran out",
}

_INFERENCE = (400, 401, 403, 404, 413, 415, 429, 502, 503, 504)
_ADMIN = (400, 401, 403, 503)
_ADMIN_BODY = (400, 401, 403, 413, 415, 503)

PUBLIC_PATHS = frozenset({"/health", "/health/ready"})


@dataclass(frozen=True, slots=True)
class Operation:
    summary: str
    description: str
    errors: tuple[int, ...] = ()
    extra_responses: dict[str, Any] = field(default_factory=dict)


def _json_body(schema: dict[str, Any], example: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": schema, "example": example}},
    }


_CHAT_EXAMPLE = {"model": "mock-1", "messages": [{"role": "user", "content": "Hello"}]}
_MESSAGES_EXAMPLE = {"model": "mock-1", "max_tokens": 200, "messages": [{"role": "user", "content": "Hello"}]}
_EMBEDDINGS_EXAMPLE = {"model": "text-embedding-3-small", "input": ["Hello", "world"], "dimensions": 8}

REQUEST_BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/chat/completions"): _json_body(
        {"$ref": _REF.format("ChatRequest")}, _CHAT_EXAMPLE, "An OpenAI Chat Completions request."
    ),
    ("POST", "/v1/messages"): _json_body(
        {"$ref": _REF.format("AnthropicRequest")}, _MESSAGES_EXAMPLE, "An Anthropic Messages request."
    ),
    ("POST", "/v1/embeddings"): _json_body(
        {"$ref": _REF.format("EmbeddingRequest")}, _EMBEDDINGS_EXAMPLE, "An OpenAI embeddings request."
    ),
    ("POST", "/v1/jobs"): _json_body(
        {
            "oneOf": [
                {"$ref": _REF.format("JobBatch")},
                {"$ref": _REF.format("ChatJobSpec")},
                {"$ref": _REF.format("MessagesJobSpec")},
            ]
        },
        {"jobs": [{"request": _CHAT_EXAMPLE, "metadata": {"doc": "1"}}]},
        'Several jobs (`{"jobs": [...]}`) or one; `kind` picks the request\'s dialect (default `chat`).',
    ),
}


def _answer(schema: str, *, stream: bool) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": _REF.format(schema)}}}
    if stream:
        content["text/event-stream"] = {
            "schema": {
                "type": "string",
                "description": "With `stream: true`: server-sent events, same dialect",
            }
        }
    return {
        "200": {"description": "The answer (headers say who answered and what it cost)", "content": content}
    }


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/v1/chat/completions"): Operation(
        "Chat Completions (OpenAI)",
        "Routes the request to a deployment of `model` (failover, retries, cache, limits, budgets) "
        "and answers in OpenAI's shape; `stream: true` answers with server-sent events.",
        _INFERENCE,
        _answer("ChatCompletion", stream=True),
    ),
    ("POST", "/v1/messages"): Operation(
        "Messages (Anthropic)",
        "The Anthropic Messages API, served by any provider; errors in Anthropic's shape.",
        _INFERENCE,
        _answer("AnthropicResponse", stream=True),
    ),
    ("POST", "/v1/embeddings"): Operation(
        "Embeddings (OpenAI)",
        "Vectors for a string, a list of strings or token arrays, from a deployment of `model` "
        "(failover between deployments of one model, cache, limits, budgets); `encoding_format` "
        "`float` or `base64`, `dimensions`.",
        _INFERENCE,
        _answer("EmbeddingResponse", stream=False),
    ),
    ("POST", "/v1/jobs"): Operation(
        "Submit jobs",
        "Queues one job or a batch (202); results by `GET /v1/jobs/{job_id}` or a signed webhook. "
        "`Idempotency-Key` makes a resubmission return the same jobs.",
        (400, 401, 413, 415, 503),
    ),
    ("GET", "/v1/jobs"): Operation("List jobs", "Your tenant's jobs, newest first.", (400, 401, 503)),
    ("GET", "/v1/jobs/webhook-secret"): Operation(
        "Webhook signing secret", "Your tenant's secret for verifying webhook signatures.", (401,)
    ),
    ("GET", "/v1/webhooks/secret"): Operation(
        "Webhook signing secret (alias)", "The same as `/v1/jobs/webhook-secret`.", (401,)
    ),
    ("GET", "/v1/jobs/{job_id}"): Operation(
        "Get a job", "Status, times, and the result or error.", (401, 404, 503)
    ),
    ("DELETE", "/v1/jobs/{job_id}"): Operation(
        "Cancel a job", "Only a queued job can be cancelled (400 otherwise).", (400, 401, 404, 503)
    ),
    ("GET", "/v1/models"): Operation(
        "List models",
        "The models (and aliases) the calling key may use, and its tenant's published personas.",
        (401,),
    ),
    ("GET", "/v1/models/{model}"): Operation(
        "Show a model",
        "One model the calling key may use (`provider/model` and `persona/<name>` names too); 404 "
        "for any other.",
        (401, 404),
    ),
    ("GET", "/v1/conversations/{conversation_id}"): Operation(
        "Get a conversation",
        "What the gateway remembers of your tenant's conversation (`x-switchyard-conversation`): "
        "the summary of forgotten turns and the remembered turns.",
        (400, 401, 404, 503),
    ),
    ("DELETE", "/v1/conversations/{conversation_id}"): Operation(
        "Forget a conversation", "Its turns and summary, at once (204).", (400, 401, 404, 503)
    ),
    ("GET", "/v1/usage"): Operation(
        "Your usage", "The calling key's usage and cost, grouped, with cheaper-route advice.", (400, 401, 503)
    ),
    ("GET", "/health"): Operation("Liveness", "The process answers (no key)."),
    ("GET", "/health/ready"): Operation(
        "Readiness", "Configuration loaded, providers configured, breakers, state backend (no key)."
    ),
    ("POST", "/admin/keys"): Operation(
        "Create a key", "A new virtual key; its plaintext (`key`) is in this answer only.", _ADMIN_BODY
    ),
    ("GET", "/admin/keys"): Operation(
        "List a tenant's keys", "Revoked keys included, expired ones not.", _ADMIN
    ),
    ("GET", "/admin/keys/{key_id}"): Operation("Show a key", "Never the key itself.", (*_ADMIN, 404)),
    ("PATCH", "/admin/keys/{key_id}"): Operation(
        "Update a key",
        "A merge patch: fields left out stay, `null` resets one, `limits`, `budgets` and `metadata` "
        'merge entry by entry (`{"limits": {"tpm": 20000}}` keeps `rpm`).',
        (*_ADMIN_BODY, 404),
    ),
    ("POST", "/admin/keys/{key_id}/rotate"): Operation(
        "Rotate a key",
        "A new key like this one; the old one works for `grace_s` more seconds.",
        (*_ADMIN_BODY, 404),
    ),
    ("POST", "/admin/keys/{key_id}/signing-secret"): Operation(
        "Set a key's signing secret",
        "A new request-signing secret (`secret`, in this answer only); the key's earlier secrets "
        "work for `grace_s` more seconds. With `require` (the default) its unsigned POSTs are "
        "refused (401 `invalid_signature`) from now on.",
        (*_ADMIN_BODY, 404),
    ),
    ("DELETE", "/admin/keys/{key_id}/signing-secret"): Operation(
        "Remove a key's signing secrets",
        "Its secrets and its requirement go: its requests need no signature unless its tenant requires them.",
        (*_ADMIN, 404),
    ),
    ("POST", "/admin/keys/{key_id}/revoke"): Operation(
        "Revoke a key", "At once here; other warm containers within the key cache TTL.", (*_ADMIN, 404)
    ),
    ("DELETE", "/admin/keys/{key_id}"): Operation(
        "Revoke a key", "The same as `POST …/revoke`.", (*_ADMIN, 404)
    ),
    ("PUT", "/admin/tenants/{tenant}"): Operation(
        "Create or update a tenant", "Fields left out stay; budgets merge period by period.", _ADMIN_BODY
    ),
    ("PATCH", "/admin/tenants/{tenant}"): Operation(
        "Update a tenant", "As PUT, for an existing tenant only (404 otherwise).", (*_ADMIN_BODY, 404)
    ),
    ("GET", "/admin/tenants"): Operation("List tenants", "Every tenant.", _ADMIN),
    ("GET", "/admin/tenants/{tenant}"): Operation(
        "Show a tenant", "Its budgets, metadata, guardrail policies and signing requirement.", (*_ADMIN, 404)
    ),
    ("PUT", "/admin/personas/{tenant}/{name}"): Operation(
        "Create or replace a persona",
        "A named system prompt of the tenant with its variables, default model and parameters, "
        "guardrail policies, memory and last-resort settings; replaced whole. 400 names every "
        "problem (an unknown model or parameter, a published persona without a model).",
        _ADMIN_BODY,
    ),
    ("GET", "/admin/personas"): Operation("List a tenant's personas", "Sorted by name.", _ADMIN),
    ("GET", "/admin/personas/{tenant}/{name}"): Operation(
        "Show a persona", "Its prompt and settings.", (*_ADMIN, 404)
    ),
    ("DELETE", "/admin/personas/{tenant}/{name}"): Operation(
        "Delete a persona",
        "At once here; other warm containers within the persona cache TTL.",
        (*_ADMIN, 404),
    ),
    ("GET", "/admin/budgets"): Operation(
        "Budgets and spend",
        "Each budget's cap, this period's spend, and a cost alarm's global override.",
        (*_ADMIN, 404),
    ),
    ("GET", "/admin/cache"): Operation(
        "Cache statistics",
        "Lookups, hits, misses, stores, hit rate and savings by model, key, tenant or day, and the "
        "purges in effect.",
        _ADMIN,
    ),
    ("POST", "/admin/cache/purge"): Operation(
        "Purge the cache",
        "Every cached answer, or a tenant's, key's or model's, becomes stale (a marker: one write, "
        "whatever it covers; every container sees it within its refresh interval).",
        _ADMIN_BODY,
    ),
    ("GET", "/admin/usage"): Operation(
        "Anyone's usage", "Usage and cost of any tenants or key, grouped.", _ADMIN
    ),
}
