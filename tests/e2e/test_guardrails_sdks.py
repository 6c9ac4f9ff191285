"""Guardrails and signed requests through the unmodified ``openai`` and ``anthropic`` SDKs and
async jobs, against the local runtime (``python -m switchyard.local``: emulated DynamoDB, the
jobs worker) calling the fake upstream: buffered and streamed, values redacted for the provider
and restored for the caller, blocks as the SDKs' own errors, a stream cut by an error event, a
moderation provider down, and signatures made by an httpx event hook the SDKs never see."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anthropic
import httpx
import httpx2
import openai
import pytest
import yaml

from fakes import FAKE_KEY, MASTER_KEY, FakeUpstream, Reply
from switchyard import signing

if TYPE_CHECKING:
    from conftest import LocalRuntime

pytestmark = pytest.mark.e2e

EMAIL, PHONE = "jane.doe@example.com", "+1 415 555 0132"
PROMPT = f"Email {EMAIL} or call {PHONE}."
ECHO, RESTORED = "Writing to [EMAIL_1], calling [PHONE_1].", f"Writing to {EMAIL}, calling {PHONE}."
CARD = "4111 1111 1111 1111"
POLICIES = {
    "pii": {
        "pii": {"entities": {"email": "redact", "phone": "redact", "credit_card": "block"}, "restore": True}
    },
    "codenames": {"blocklist": {"words": ["bluebird"]}},
    "moderated": {"moderation": {"model": "moderation", "timeout_s": 2}},
}


@pytest.fixture(scope="module")
def runtime(
    _fake_upstream_server: FakeUpstream,
    module_local_runtime: Callable[..., LocalRuntime],
    tmp_path_factory: pytest.TempPathFactory,
) -> LocalRuntime:
    routing = _fake_upstream_server.routing_config(
        providers={"o": "openai", "c": "anthropic", "mod": "openai"},
        models={
            "gpt": {
                "deployments": [{"provider": "o", "model": "up-gpt"}],
                "guardrails": ["pii", "codenames"],
            },
            "claude": {
                "deployments": [{"provider": "c", "model": "up-claude"}],
                "guardrails": ["pii", "codenames"],
            },
            "gpt-moderated": {
                "deployments": [{"provider": "o", "model": "up-gpt"}],
                "guardrails": ["moderated"],
            },
            "moderation": {"deployments": [{"provider": "mod", "model": "omni"}]},
        },
        api_key_env="OPENAI_API_KEY",
    )
    routing["guardrails"] = {"policies": POLICIES}
    path: Path = tmp_path_factory.mktemp("e2e-guardrails") / "routing.yaml"
    path.write_text(yaml.safe_dump(routing, sort_keys=False), encoding="utf-8")
    return module_local_runtime(path, env={"OPENAI_API_KEY": FAKE_KEY})


def sent_upstream(fake: FakeUpstream, name: str) -> str:
    return json.dumps([c.body for c in fake.calls(name)])


def test_openai_sdk_buffered_and_streamed_get_their_values_back(
    fake_upstream: FakeUpstream, oai: openai.OpenAI
) -> None:
    fake_upstream.set_default("o", Reply.ok(ECHO))
    message = [{"role": "user", "content": PROMPT}]
    answer = oai.chat.completions.with_raw_response.create(model="gpt", messages=message)  # type: ignore[arg-type]
    assert answer.parse().choices[0].message.content == RESTORED
    assert answer.headers["x-switchyard-guardrails"] == "redacted=2"
    stream = oai.chat.completions.create(model="gpt", messages=message, stream=True)  # type: ignore[arg-type]
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == RESTORED
    sent = sent_upstream(fake_upstream, "o")
    assert fake_upstream.count("o") == 2 and "[EMAIL_1]" in sent and EMAIL not in sent


def test_openai_sdk_sees_blocks_as_bad_requests_and_a_cut_stream_as_an_error(
    fake_upstream: FakeUpstream, oai: openai.OpenAI
) -> None:
    with pytest.raises(openai.BadRequestError) as blocked:
        oai.chat.completions.create(model="gpt", messages=[{"role": "user", "content": f"card {CARD}"}])
    assert blocked.value.code == "content_blocked" and "pii.credit_card" in blocked.value.message
    assert fake_upstream.count("o") == 0

    fake_upstream.set_default("o", Reply.ok("The plan is called Bluebird, remember it."))
    received: list[str] = []
    with pytest.raises(openai.APIError, match=r"blocklist\.word"):
        for chunk in oai.chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "plan?"}], stream=True
        ):
            received.extend(c.delta.content or "" for c in chunk.choices)
    assert "bluebird" not in "".join(received).lower()


def test_anthropic_sdk_buffered_streamed_and_blocked(
    fake_upstream: FakeUpstream, claude: anthropic.Anthropic
) -> None:
    fake_upstream.set_default("c", Reply.ok(ECHO))
    message = [{"role": "user", "content": PROMPT}]
    answer = claude.messages.create(model="claude", max_tokens=64, messages=message)  # type: ignore[arg-type]
    assert answer.content[0].text == RESTORED  # type: ignore[union-attr]
    with claude.messages.stream(model="claude", max_tokens=64, messages=message) as stream:  # type: ignore[arg-type]
        assert "".join(stream.text_stream) == RESTORED
    assert EMAIL not in sent_upstream(fake_upstream, "c")

    with pytest.raises(anthropic.BadRequestError, match=r"pii\.credit_card"):
        claude.messages.create(
            model="claude", max_tokens=64, messages=[{"role": "user", "content": f"card {CARD}"}]
        )

    fake_upstream.set_default("c", Reply.ok("It is Bluebird."))
    received: list[str] = []
    question = [{"role": "user", "content": "?"}]
    with (
        pytest.raises(anthropic.APIError, match=r"blocklist\.word"),
        claude.messages.stream(model="claude", max_tokens=64, messages=question) as stream,  # type: ignore[arg-type]
    ):
        received.extend(stream.text_stream)
    assert "bluebird" not in "".join(received).lower()


def test_a_moderation_provider_down_fails_closed(fake_upstream: FakeUpstream, oai: openai.OpenAI) -> None:
    fake_upstream.set_default("mod", Reply.server_error(502))
    with pytest.raises(openai.InternalServerError) as unavailable:
        oai.chat.completions.create(model="gpt-moderated", messages=[{"role": "user", "content": "hello"}])
    assert unavailable.value.status_code == 503 and unavailable.value.code == "moderation_unavailable"
    assert fake_upstream.count("o") == 0
    fake_upstream.set_default("mod", Reply.moderation())
    answer = oai.chat.completions.create(
        model="gpt-moderated", messages=[{"role": "user", "content": "hello"}]
    )
    assert answer.choices[0].message.content
    assert [c.path for c in fake_upstream.calls("mod")][-1] == "/v1/moderations"


def wait_done(client: httpx.Client, job_id: str, timeout_s: float = 30.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/v1/jobs/{job_id}").json()
        if job.get("status") in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    pytest.fail(f"job {job_id} did not finish in {timeout_s} s")


def test_async_jobs_pass_the_same_guardrails(fake_upstream: FakeUpstream, runtime: LocalRuntime) -> None:
    fake_upstream.set_default("o", Reply.ok(ECHO))
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    with httpx.Client(base_url=runtime.url, headers=headers, timeout=10, trust_env=False) as client:
        jobs = [
            {"request": {"model": "gpt", "messages": [{"role": "user", "content": PROMPT}]}},
            {"request": {"model": "gpt", "messages": [{"role": "user", "content": f"card {CARD}"}]}},
        ]
        submitted = client.post("/v1/jobs", json={"jobs": jobs})
        assert submitted.status_code == 202
        restored, blocked = (wait_done(client, job["id"]) for job in submitted.json()["data"])
    assert restored["status"] == "succeeded"
    assert restored["result"]["choices"][0]["message"]["content"] == RESTORED
    assert blocked["status"] == "failed" and blocked["error"]["code"] == "content_blocked"
    assert fake_upstream.count("o") == 1 and EMAIL not in sent_upstream(fake_upstream, "o")


# -- signed requests ---------------------------------------------------------------------------


def signed_key(runtime: LocalRuntime) -> tuple[str, str]:
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    with httpx.Client(base_url=runtime.url, headers=headers, timeout=10, trust_env=False) as admin:
        made = admin.post("/admin/keys", json={"tenant": "signed"}).json()
        secret = admin.post(f"/admin/keys/{made['key_id']}/signing-secret", json={}).json()["secret"]
    return made["key"], secret


def test_unmodified_sdks_sign_through_an_httpx_event_hook(
    fake_upstream: FakeUpstream, runtime: LocalRuntime
) -> None:
    key, secret = signed_key(runtime)
    signer = signing.Signer(secret)
    message = [{"role": "user", "content": "Say hello."}]

    with openai.OpenAI(base_url=runtime.base_url, api_key=key, max_retries=0) as unsigned:
        with pytest.raises(openai.AuthenticationError) as refused:
            unsigned.chat.completions.create(model="gpt", messages=message)  # type: ignore[arg-type]
        assert refused.value.code == "invalid_signature" and "missing" in refused.value.message

    hooked = httpx.Client(event_hooks={"request": [signer]}, timeout=30)
    with openai.OpenAI(base_url=runtime.base_url, api_key=key, max_retries=0, http_client=hooked) as sdk:
        assert sdk.chat.completions.create(model="gpt", messages=message).choices[0].message.content  # type: ignore[arg-type]
        stream = sdk.chat.completions.create(model="gpt", messages=message, stream=True)  # type: ignore[arg-type]
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        # The same body again within the second: the signer moves to the next second, no replay.
        assert sdk.chat.completions.create(model="gpt", messages=message).choices  # type: ignore[arg-type]

    # The anthropic SDK brings its own httpx fork: the same hook signs its requests.
    hooked_claude = httpx2.Client(event_hooks={"request": [signer]}, timeout=30)
    with (
        anthropic.Anthropic(
            base_url=runtime.url, api_key=key, max_retries=0, http_client=hooked_claude
        ) as claude,
        claude.messages.stream(model="claude", max_tokens=32, messages=message) as stream,  # type: ignore[arg-type]
    ):
        assert "".join(stream.text_stream)
    with (
        anthropic.Anthropic(base_url=runtime.url, api_key=key, max_retries=0) as unsigned_claude,
        pytest.raises(anthropic.AuthenticationError, match="missing"),
    ):
        unsigned_claude.messages.create(model="claude", max_tokens=32, messages=message)  # type: ignore[arg-type]
    assert fake_upstream.count() == 4


async def test_async_sdk_and_jobs_with_a_skewed_clock_and_a_replay(
    fake_upstream: FakeUpstream, runtime: LocalRuntime
) -> None:
    key, secret = signed_key(runtime)
    signer = signing.Signer(secret)
    hooked = httpx.AsyncClient(event_hooks={"request": [signer.async_hook]}, timeout=30)
    async with openai.AsyncOpenAI(
        base_url=runtime.base_url, api_key=key, max_retries=0, http_client=hooked
    ) as sdk:
        answer = await sdk.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "hi"}])
        assert answer.choices[0].message.content

    job = json.dumps({"request": {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}}).encode()
    headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
    with httpx.Client(base_url=runtime.url, headers=headers, timeout=10, trust_env=False) as client:
        skewed = signing.sign(secret, job, timestamp=int(time.time()) - 600)  # a client clock 10 min slow
        late = client.post("/v1/jobs", content=job, headers={signing.HEADER: skewed})
        assert late.status_code == 401 and late.headers["x-switchyard-signature-error"] == "expired"
        header = signing.sign(secret, job)
        assert client.post("/v1/jobs", content=job, headers={signing.HEADER: header}).status_code == 202
        replay = client.post("/v1/jobs", content=job, headers={signing.HEADER: header})
        assert replay.status_code == 401 and replay.headers["x-switchyard-signature-error"] == "replayed"
