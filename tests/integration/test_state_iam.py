"""The router's DynamoDB permissions in template.yaml are exactly the calls it makes, per table:
the app serves every state path (cache miss, store and hit, key and deployment leases, a
concurrency slot, a breaker write, the health summary, personas, conversation memory) against
moto, counting calls by table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from cfnlint.decode import decode_str
from gateway_checks import MESSAGES, dep
from pydantic import SecretStr

from conftest import GATEWAY_ENV, ConfigFile, dynamo_settings, running
from fakes import MASTER_KEY, FakeUpstream, Reply
from statekit import T0, Clock
from switchyard.config.settings import RouterSettings
from switchyard.http.app import create_app
from switchyard.signing import HEADER, sign

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


def router_dynamodb_actions(function: str = "RouterFunction") -> dict[str, set[str]]:
    """Table logical id -> the dynamodb actions the function's inline policies allow on it."""
    template, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not matches
    allowed: dict[str, set[str]] = {}
    for policy in template["Resources"][function]["Properties"]["Policies"]:
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            for resource in resources:
                if isinstance(resource, dict) and "Fn::GetAtt" in resource:
                    logical_id = resource["Fn::GetAtt"][0]
                    allowed.setdefault(logical_id, set()).update(
                        a for a in actions if a.startswith("dynamodb:")
                    )
    return {table: actions for table, actions in allowed.items() if actions}


async def test_the_router_policy_allows_exactly_the_calls_it_makes(
    fake_upstream: FakeUpstream, config_file: ConfigFile, state_tables: Any
) -> None:
    routing = fake_upstream.routing_config(
        providers={"a": "openai", "b": "openai"},
        models={"m": {"deployments": [dep("a", "up-a", rpm=100, max_concurrent=5), dep("b", "up-b")]}},
    )
    settings = RouterSettings(
        config_path=config_file({**routing, "limits": {"default": {"rpm": 100, "tpm": 100_000}}}),
        master_key=SecretStr(MASTER_KEY),
        environment=dict(GATEWAY_ENV),
        **dynamo_settings(state_tables),
    )
    clock = Clock(T0 + 10)
    app = create_app(settings, clock=clock)
    body = {"model": "m", "messages": MESSAGES}
    async with running(app) as asgi:
        transport = httpx.ASGITransport(app=asgi)
        headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://gateway", headers=headers
        ) as client:
            for _ in range(2):
                assert (
                    await client.post("/v1/chat/completions", json={**body, "seed": 1})
                ).status_code == 200
            fake_upstream.script("a", Reply.overloaded())
            assert (await client.post("/v1/chat/completions", json=body)).status_code == 200
            clock.advance(5)  # breaker copies go stale: the summary reads them back in one batch
            assert (await client.get("/health/ready")).status_code == 200
            # Jobs: submit (conditional create), list (query), read, cancel.
            submitted = await client.post("/v1/jobs", json={"request": body})
            assert submitted.status_code == 202
            job_id = submitted.json()["data"][0]["id"]
            assert (await client.get("/v1/jobs")).json()["data"][0]["id"] == job_id
            assert (await client.get(f"/v1/jobs/{job_id}")).status_code == 200
            assert (await client.delete(f"/v1/jobs/{job_id}")).status_code == 200
            # Virtual keys: the admin API writes and lists them, a request looks one up.
            made = (await client.post("/admin/keys", json={"tenant": "acme"})).json()
            assert (await client.get("/admin/keys", params={"tenant": "acme"})).status_code == 200
            assert (await client.get("/admin/tenants")).status_code == 200
            as_key = {"Authorization": f"Bearer {made['key']}"}
            assert (await client.post("/v1/chat/completions", json=body, headers=as_key)).status_code == 200
            # The cache: statistics (the table's size), a purge, and a lookup that finds it stale.
            assert (await client.get("/admin/cache")).status_code == 200
            assert (await client.post("/admin/cache/purge", json={"model": "m"})).status_code == 200
            stale = await client.post("/v1/chat/completions", json={**body, "seed": 1})
            assert stale.headers["x-switchyard-cache"] == "miss"
            # Personas (put, use, list, delete) and conversation memory (load, save, compact,
            # read, forget).
            persona = {"system_prompt": "Be brief.", "memory": {"max_tokens": 16}}
            assert (await client.put("/admin/personas/acme/p", json=persona)).status_code == 200
            assert (await client.get("/admin/personas", params={"tenant": "acme"})).status_code == 200
            remembered = {**as_key, "x-switchyard-persona": "p", "x-switchyard-conversation": "c"}
            for _ in range(2):
                answered = await client.post("/v1/chat/completions", json=body, headers=remembered)
                assert answered.status_code == 200
            assert answered.headers["x-switchyard-memory"].endswith("dropped=2")
            assert (await client.get("/v1/conversations/c", headers=as_key)).status_code == 200
            assert (await client.delete("/v1/conversations/c", headers=as_key)).status_code == 204
            assert (await client.delete("/admin/personas/acme/p")).status_code == 204
            # A signed request: its tenant is read, its signature recorded (a conditional put).
            secret = (await client.post(f"/admin/keys/{made['key_id']}/signing-secret", json={})).json()
            raw = json.dumps(body).encode()
            signed = {
                **as_key,
                "content-type": "application/json",
                HEADER: sign(secret["secret"], raw, timestamp=int(clock())),
            }
            assert (await client.post("/v1/chat/completions", content=raw, headers=signed)).status_code == 200
        used = app.state.gateway.state.calls.by_table()

    logical = {name: logical_id for logical_id, name in state_tables.tables.items()}
    observed = {logical[table]: {f"dynamodb:{op}" for op in ops} for table, ops in used.items()}
    assert observed == router_dynamodb_actions()


def test_the_worker_policy_allows_exactly_the_calls_it_makes(
    fake_upstream: FakeUpstream, config_file: ConfigFile, state_tables: Any
) -> None:
    """A job run, a cache hit, a job that continues a conversation and duplicate deliveries,
    through the handler's own path (WorkerRuntime with SQS events) on moto, counting calls by
    table."""
    from jobkit import MESSAGES as JOB_MESSAGES
    from jobkit import add_key, receive_all, sqs_event, worker_settings
    from switchyard.local.aws import client as aws_client
    from switchyard.worker.runtime import WorkerRuntime

    routing = fake_upstream.routing_config(
        providers={"a": "openai"}, models={"m": {"deployments": [dep("a", "up-a", rpm=100)]}}
    )
    settings = worker_settings(config_file(routing), state_tables).model_copy(
        update={"cache_enabled": True, "cache_table": state_tables.tables["CacheTable"]}
    )
    runtime = WorkerRuntime.start(settings)
    sqs = aws_client("sqs", state_tables.endpoint)
    try:
        # The worker reads the key's record for its tenant: a key the store knows.
        runtime._loop.run_until_complete(add_key(runtime.gateway.state.keys, "k", "t"))
        url = state_tables.queues["JobsQueue"]
        request = {"model": "m", "messages": JOB_MESSAGES, "temperature": 0}
        remembered = {**request, "temperature": 1, "metadata": {"conversation": "c"}}
        for i, job in enumerate([request, request, remembered]):  # the second one hits the cache
            body = {"job_id": f"job_iam0000{i}", "key_id": "k", "request": job}
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
            batch = receive_all(sqs, url, 1)
            assert runtime.handle(sqs_event(batch)) == {"batchItemFailures": []}
            assert runtime.handle(sqs_event(batch)) == {"batchItemFailures": []}  # delivered twice
        used = runtime.gateway.state.calls.by_table()
    finally:
        sqs.close()
        runtime.close()
    logical = {name: logical_id for logical_id, name in state_tables.tables.items()}
    observed = {logical[table]: {f"dynamodb:{op}" for op in ops} for table, ops in used.items()}
    assert observed == router_dynamodb_actions("WorkerFunction")
