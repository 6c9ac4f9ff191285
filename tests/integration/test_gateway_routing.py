"""The attempt loop end to end: the ASGI app against a real fake upstream on 127.0.0.1.

Each test scripts what the upstream deployments answer and asserts which deployment answered, how
many upstream calls were made, and what the caller saw (the error policy table, docs/configuration.md).
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from gateway_checks import (
    ask,
    assert_openai_error,
    assert_served,
    dep,
    retry_after,
    two_deployments,
)

from fakes import FAKE_KEY, FakeUpstream, Reply

# -- success -----------------------------------------------------------------------------------


async def test_plain_success_is_served_by_the_first_deployment(fake_upstream: FakeUpstream, gateway) -> None:
    config = fake_upstream.routing_config(
        providers={"a": "openai", "b": "openai"},
        models={
            "m": {
                "deployments": [
                    dep("a", "up-a", price={"input": 1.0, "output": 2.0}),
                    dep("b", "up-b"),
                ]
            }
        },
    )
    client = await gateway(config)
    fake_upstream.script("a", Reply.ok("Hi there", input_tokens=1000, output_tokens=500))

    response = await ask(client)

    body = assert_served(response, fake_upstream, provider="a", model="up-a", attempts=1)
    assert body["choices"][0]["message"]["content"] == "Hi there"
    assert body["usage"]["prompt_tokens"] == 1000
    assert body["usage"]["completion_tokens"] == 500
    # 1000 input at $1/M + 500 output at $2/M
    assert float(response.headers["x-switchyard-cost-usd"]) == pytest.approx(0.002)
    [call] = fake_upstream.calls("a")
    assert call.path == "/v1/chat/completions"
    assert call.model == "up-a"  # the upstream model name, not the public one
    assert call.api_key == FAKE_KEY
    assert fake_upstream.count("b") == 0


async def test_every_answer_gets_its_own_request_id(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))
    ids = {(await ask(client)).headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3


# -- rate limits -------------------------------------------------------------------------------


async def test_429_with_short_retry_after_retries_the_same_deployment(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.rate_limited(retry_after=0), Reply.ok("after the wait"))

    response = await ask(client)

    body = assert_served(response, fake_upstream, provider="a", model="up-a", attempts=2)
    assert body["choices"][0]["message"]["content"] == "after the wait"
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (2, 0)


async def test_429_waits_at_most_twice_per_deployment_then_fails_over(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.set_default("a", Reply.rate_limited(retry_after=0))

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=4)
    assert fake_upstream.count("a") == 3  # the call, then two waits and retries


async def test_429_with_retry_after_over_the_limit_fails_over_without_waiting(
    fake_upstream: FakeUpstream, gateway
) -> None:
    # max_retry_after_s is 1 in the fake's config; a retry of A would need a 3 s wait.
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.rate_limited(retry_after=3))

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=2)
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 1)


async def test_insufficient_quota_fails_over_and_parks_the_deployment(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.insufficient_quota())

    first = await ask(client)
    second = await ask(client)

    assert_served(first, fake_upstream, provider="b", model="up-b", attempts=2)
    # parked for retry.quota_park_s: the next request does not even try A
    assert_served(second, fake_upstream, provider="b", model="up-b", attempts=1)
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 2)
    ready = (await client.get("/health/ready")).json()
    assert "a/up-a" in ready["breakers"]["parked"]


# -- server-side failures ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_server_error_is_retried_once_on_the_same_deployment(
    fake_upstream: FakeUpstream, gateway, status: int
) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.server_error(status), Reply.ok("second try"))

    response = await ask(client)

    body = assert_served(response, fake_upstream, provider="a", model="up-a", attempts=2)
    assert body["choices"][0]["message"]["content"] == "second try"
    assert fake_upstream.count("b") == 0


async def test_server_error_twice_moves_to_the_next_deployment(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.server_error(500), Reply.server_error(500))

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=3)
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (2, 1)


@pytest.mark.parametrize("status", [529, 503])
async def test_overloaded_moves_to_the_next_deployment_at_once(
    fake_upstream: FakeUpstream, gateway, status: int
) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.overloaded(status))

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=2)
    assert fake_upstream.count("a") == 1


async def test_stalled_upstream_times_out_and_fails_over(fake_upstream: FakeUpstream, gateway) -> None:
    config = fake_upstream.routing_config(
        providers={"a": {"kind": "openai", "timeout_s": 0.3}, "b": "openai"},
        models={"m": {"deployments": [dep("a", "up-a"), dep("b", "up-b")]}},
    )
    client = await gateway(config)
    fake_upstream.script("a", Reply.stall(seconds=30))

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=2)
    assert fake_upstream.count("a") == 1


async def test_request_deadline_cuts_a_slow_upstream_short(fake_upstream: FakeUpstream, gateway) -> None:
    # The provider would wait 30 s; the request's own deadline (0.5 s) ends the attempt loop first.
    config = fake_upstream.routing_config(
        providers={"a": {"kind": "openai", "timeout_s": 30}, "b": "openai"},
        models={"m": {"deployments": [dep("a", "up-a"), dep("b", "up-b")]}},
    )
    client = await gateway(config, request_timeout_s=0.5)
    fake_upstream.script("a", Reply.stall(seconds=30))

    response = await ask(client)

    assert response.status_code == 504  # the deadline, not the deployments, ran out
    assert_openai_error(response, fake_upstream, response.status_code)
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 0)


@pytest.mark.parametrize(
    "reply", [Reply.malformed(), Reply.drop(), Reply.drop_mid_body()], ids=lambda r: r.kind
)
async def test_broken_answers_fail_over(fake_upstream: FakeUpstream, gateway, reply: Reply) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", reply)

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=2)
    assert fake_upstream.count("a") == 1


async def test_non_json_success_body_fails_over(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.error(200, body={"unexpected": "shape"}))

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=2)


# -- upstream auth -----------------------------------------------------------------------------


async def test_upstream_401_fails_over_and_the_caller_never_sees_it(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.unauthorized())  # its message echoes the gateway's key

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=2)
    assert fake_upstream.count("a") == 1


async def test_upstream_401_everywhere_is_not_a_401_to_the_caller(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.set_default("a", Reply.unauthorized())
    fake_upstream.set_default("b", Reply.unauthorized(403))

    response = await ask(client)

    assert_openai_error(response, fake_upstream, 503)
    retry_after(response)
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 1)


# -- request-shaped failures -------------------------------------------------------------------


def _context_config(fake: FakeUpstream, windows: dict[str, int]) -> dict:
    return fake.routing_config(
        providers={name: "openai" for name in windows},
        models={
            "m": {"deployments": [dep(name, f"up-{name}", context_window=w) for name, w in windows.items()]}
        },
    )


async def test_context_length_goes_to_a_larger_window_only(fake_upstream: FakeUpstream, gateway) -> None:
    windows = {"small": 8000, "same": 8000, "smaller": 4000, "large": 128000}
    client = await gateway(_context_config(fake_upstream, windows))
    fake_upstream.script("small", Reply.context_length_exceeded())

    response = await ask(client)

    assert_served(response, fake_upstream, provider="large", model="up-large", attempts=2)
    counts = {name: fake_upstream.count(name) for name in windows}
    assert counts == {"small": 1, "same": 0, "smaller": 0, "large": 1}


async def test_context_length_with_no_larger_window_is_a_400(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(_context_config(fake_upstream, {"small": 8000, "same": 8000}))
    fake_upstream.script("small", Reply.context_length_exceeded())

    response = await ask(client)

    assert_openai_error(
        response, fake_upstream, 400, code="context_length_exceeded", error_type="invalid_request_error"
    )
    assert (fake_upstream.count("small"), fake_upstream.count("same")) == (1, 0)


async def test_model_not_found_fails_over_to_the_next_deployment(
    fake_upstream: FakeUpstream, gateway
) -> None:
    config = fake_upstream.routing_config(
        providers={"a": "openai", "c": "anthropic", "b": "openai_compatible"},
        models={"m": {"deployments": [dep("a", "up-a"), dep("c", "up-c"), dep("b", "up-b")]}},
    )
    client = await gateway(config)
    fake_upstream.script("a", Reply.model_not_found("up-a"))
    fake_upstream.script("c", Reply.model_not_found("up-c"))  # Anthropic's not_found_error

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=3)
    assert [fake_upstream.count(n) for n in ("a", "c", "b")] == [1, 1, 1]  # no retry of a 404


async def test_model_not_found_everywhere_is_a_404_model_not_found(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.model_not_found("up-a"))
    fake_upstream.script("b", Reply.model_not_found("up-b"))

    response = await ask(client)

    error = assert_openai_error(
        response, fake_upstream, 404, code="model_not_found", error_type="invalid_request_error"
    )
    assert "does not exist" in error["message"]  # the upstream's own words, scrubbed
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 1)


async def test_a_404_for_a_route_is_not_a_missing_model_and_stops(
    fake_upstream: FakeUpstream, gateway
) -> None:
    """A provider whose base URL is wrong answers 404 for the path (a web server's page, naming no
    model): no other model would fix it and the error table keeps it ``invalid_request`` (the
    caller sees a 400, b is not tried)."""
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.error(404, body={"detail": "Not Found"}))

    response = await ask(client)

    assert_openai_error(response, fake_upstream, 400, error_type="invalid_request_error")
    assert fake_upstream.count("b") == 0


async def test_content_filter_stops_with_a_400(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.content_filter())

    response = await ask(client)

    assert_openai_error(response, fake_upstream, 400, code="content_filter")
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 0)


async def test_generic_upstream_400_stops_without_failover(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", Reply.bad_request())

    response = await ask(client)

    assert_openai_error(response, fake_upstream, 400, error_type="invalid_request_error")
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 0)


async def test_upstream_error_text_is_scrubbed_of_urls_and_keys(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))
    echo = (
        f"Invalid 'logit_bias' in request to {fake_upstream.base_url('a')}/chat/completions "
        "(Authorization: Bearer {api_key}; api_key={api_key}; key {api_key})"
    )
    fake_upstream.script(
        "a", Reply.error(400, echo, error_type="invalid_request_error", code="invalid_value")
    )

    response = await ask(client)

    assert_openai_error(response, fake_upstream, 400)  # asserts neither URL nor key is in it


# -- chains and exhaustion ---------------------------------------------------------------------


async def test_fallback_model_answers_when_every_deployment_of_the_model_fails(
    fake_upstream: FakeUpstream, gateway
) -> None:
    config = fake_upstream.routing_config(
        providers={"a1": "openai", "a2": "openai", "b": "openai"},
        models={
            "m": {"deployments": [dep("a1", "up-a1"), dep("a2", "up-a2")], "fallbacks": ["n"]},
            "n": {"deployments": [dep("b", "up-b")]},
        },
    )
    client = await gateway(config)
    fake_upstream.set_default("a1", Reply.overloaded())
    fake_upstream.set_default("a2", Reply.overloaded())

    response = await ask(client)

    assert_served(response, fake_upstream, provider="b", model="up-b", attempts=3)
    assert (fake_upstream.count("a1"), fake_upstream.count("a2")) == (1, 1)
    assert fake_upstream.calls("b")[0].model == "up-b"


async def test_every_candidate_failing_with_5xx_is_a_503_with_retry_after(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.set_default("a", Reply.server_error())
    fake_upstream.set_default("b", Reply.overloaded())

    response = await ask(client)

    assert_openai_error(response, fake_upstream, 503)
    retry_after(response)
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (2, 1)


async def test_every_candidate_rate_limited_is_a_429_with_retry_after(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.set_default("a", Reply.rate_limited(retry_after=5))
    fake_upstream.set_default("b", Reply.rate_limited(retry_after=7))

    response = await ask(client)

    assert_openai_error(response, fake_upstream, 429)
    assert retry_after(response) >= 1
    assert (fake_upstream.count("a"), fake_upstream.count("b")) == (1, 1)


async def test_max_attempts_bounds_the_upstream_calls(fake_upstream: FakeUpstream, gateway) -> None:
    names = ["a", "b", "c", "d"]
    config = fake_upstream.routing_config(
        providers={n: "openai" for n in names},
        models={"m": {"deployments": [dep(n, f"up-{n}") for n in names]}},
        retry={"max_attempts": 3},
    )
    client = await gateway(config)
    for name in names:
        fake_upstream.set_default(name, Reply.overloaded())

    response = await ask(client)

    assert_openai_error(response, fake_upstream, 503)
    assert fake_upstream.count() == 3
    assert fake_upstream.count("d") == 0


# -- circuit breaker ---------------------------------------------------------------------------


async def test_breaker_opens_skips_then_probes_after_cooldown(fake_upstream: FakeUpstream, gateway) -> None:
    cooldown = 0.3
    client = await gateway(
        two_deployments(
            fake_upstream, breaker={"failure_threshold": 2, "window_s": 30, "cooldown_s": cooldown}
        )
    )
    fake_upstream.set_default("a", Reply.overloaded())

    for _ in range(2):
        assert_served(await ask(client), fake_upstream, provider="b", model="up-b", attempts=2)
    assert fake_upstream.count("a") == 2

    # open: A is skipped without a call
    skipped = await ask(client)
    assert_served(skipped, fake_upstream, provider="b", model="up-b", attempts=1)
    assert fake_upstream.count("a") == 2
    ready = (await client.get("/health/ready")).json()
    assert "a/up-a" in ready["breakers"]["open"]

    # after the cool-down one probe goes to A; it succeeds and A is used again
    fake_upstream.set_default("a", None)
    await asyncio.sleep(cooldown * 1.5)
    probe = await ask(client)
    assert_served(probe, fake_upstream, provider="a", model="up-a", attempts=1)
    assert fake_upstream.count("a") == 3
    after = await ask(client)
    assert_served(after, fake_upstream, provider="a", model="up-a", attempts=1)
    assert fake_upstream.count("a") == 4
    ready = (await client.get("/health/ready")).json()
    assert "a/up-a" not in ready["breakers"]["open"] + ready["breakers"]["half_open"]


async def test_failed_probe_reopens_the_breaker(fake_upstream: FakeUpstream, gateway) -> None:
    cooldown = 0.3
    client = await gateway(
        two_deployments(
            fake_upstream, breaker={"failure_threshold": 1, "window_s": 30, "cooldown_s": cooldown}
        )
    )
    fake_upstream.set_default("a", Reply.overloaded())
    await ask(client)  # opens A
    assert fake_upstream.count("a") == 1

    await asyncio.sleep(cooldown * 1.5)
    probe = await ask(client)  # the probe fails: open again
    again = await ask(client)

    assert_served(probe, fake_upstream, provider="b", model="up-b", attempts=2)
    assert_served(again, fake_upstream, provider="b", model="up-b", attempts=1)
    assert fake_upstream.count("a") == 2


async def test_an_open_breaker_on_every_deployment_is_a_503(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(
        two_deployments(fake_upstream, breaker={"failure_threshold": 1, "window_s": 30, "cooldown_s": 30})
    )
    fake_upstream.set_default("a", Reply.overloaded())
    fake_upstream.set_default("b", Reply.overloaded())
    await ask(client)  # opens both
    calls = fake_upstream.count()

    response = await ask(client)

    assert_openai_error(response, fake_upstream, 503)
    retry_after(response)
    assert fake_upstream.count() == calls


async def test_rate_limits_and_client_errors_do_not_open_the_breaker(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(
        two_deployments(fake_upstream, breaker={"failure_threshold": 1, "window_s": 30, "cooldown_s": 30})
    )
    fake_upstream.script("a", Reply.rate_limited(retry_after=3), Reply.bad_request(), Reply.unauthorized())
    for _ in range(3):
        await ask(client)

    response = await ask(client)

    assert_served(response, fake_upstream, provider="a", model="up-a", attempts=1)
    assert fake_upstream.count("a") == 4


# -- strategies and names ----------------------------------------------------------------------


async def test_weighted_strategy_follows_the_weights(fake_upstream: FakeUpstream, gateway) -> None:
    config = fake_upstream.routing_config(
        providers={"a": "openai", "b": "openai"},
        models={"m": {"deployments": [dep("a", "up-a", weight=3), dep("b", "up-b", weight=1)]}},
        strategy="weighted",
    )
    client = await gateway(config)
    total = 200

    providers: Counter[str] = Counter()
    for _ in range(total // 20):
        batch = await asyncio.gather(*(ask(client) for _ in range(20)))
        providers.update(r.headers["x-switchyard-provider"] for r in batch)

    # expected 150 / 50; binomial sd ≈ 6, so ±30 is a 5-sigma band
    assert 120 <= providers["a"] <= 180, providers
    assert providers["a"] + providers["b"] == total
    assert fake_upstream.count() == total  # one call each: weights pick, they do not retry


async def test_priority_strategy_always_starts_with_the_first_deployment(
    fake_upstream: FakeUpstream, gateway
) -> None:
    client = await gateway(two_deployments(fake_upstream))
    providers = {(await ask(client)).headers["x-switchyard-provider"] for _ in range(10)}
    assert providers == {"a"}


async def test_provider_slash_model_goes_to_that_provider(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(fake_upstream.routing_config(providers={"a": "openai", "b": "openai"}))

    response = await ask(client, "b/some-new-model-2026")

    assert_served(response, fake_upstream, provider="b", model="some-new-model-2026", attempts=1)
    assert fake_upstream.calls("b")[0].model == "some-new-model-2026"
    assert fake_upstream.count("a") == 0


async def test_wildcard_pattern_goes_to_its_provider_with_the_name_unchanged(
    fake_upstream: FakeUpstream, gateway
) -> None:
    config = fake_upstream.routing_config(
        providers={"a": "openai", "b": "openai"},
        wildcards=[{"pattern": "gpt-*", "provider": "b"}, {"pattern": "*", "provider": "a"}],
    )
    client = await gateway(config)

    response = await ask(client, "gpt-9-turbo")

    assert_served(response, fake_upstream, provider="b", model="gpt-9-turbo", attempts=1)
    assert fake_upstream.calls("b")[0].model == "gpt-9-turbo"


async def test_alias_resolves_to_its_model(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream, aliases={"fast": "m"}))

    response = await ask(client, "fast")

    assert_served(response, fake_upstream, provider="a", model="up-a", attempts=1)
    assert fake_upstream.calls("a")[0].model == "up-a"


@pytest.mark.parametrize("model", ["no-such-model", "nobody/model-x", "gpt-5"])
async def test_unknown_model_is_404_model_not_found(fake_upstream: FakeUpstream, gateway, model: str) -> None:
    client = await gateway(two_deployments(fake_upstream))  # no wildcards configured

    response = await ask(client, model)

    assert_openai_error(response, fake_upstream, 404, code="model_not_found")
    assert fake_upstream.count() == 0


async def test_concurrent_requests_each_get_their_own_answer(fake_upstream: FakeUpstream, gateway) -> None:
    client = await gateway(two_deployments(fake_upstream))
    fake_upstream.script("a", *(Reply.ok(f"answer {i}", latency_s=0.02) for i in range(20)))

    responses = await asyncio.gather(*(ask(client) for _ in range(20)))

    contents = sorted(r.json()["choices"][0]["message"]["content"] for r in responses)
    assert contents == sorted(f"answer {i}" for i in range(20))
    assert len({r.headers["x-request-id"] for r in responses}) == 20
    assert fake_upstream.count("a") == 20
