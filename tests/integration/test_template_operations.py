"""template.yaml for running in production: brakes (the router's reserved concurrency, the stage's
throttling, the worker's own cap), log groups that expire, API Gateway access and execution logs,
and the errors API Gateway answers by itself in a shape both official SDKs read."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest
from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[2]
# What docs/scaling.md sizes the brakes for: the default account quota, the 100 executions Lambda
# keeps unreserved, and the mean request duration of the cost model (docs/scaling.md).
ACCOUNT_QUOTA, UNRESERVED_MINIMUM, MEAN_DURATION_S = 1000, 100, 2.0


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not matches
    return dict(decoded)


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]
    return found


def default(template: dict[str, Any], name: str) -> Any:
    return template["Parameters"][name]["Default"]


def stage_settings(resources: dict[str, Any]) -> dict[str, Any]:
    (settings,) = resources["RouterApi"]["Properties"]["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    found: dict[str, Any] = settings
    return found


# ------------------------------------------------------------------------------------ brakes


def test_the_router_has_a_reserved_share_of_the_account(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    router = resources["RouterFunction"]["Properties"]
    assert router["ReservedConcurrentExecutions"] == {
        "Fn::If": ["HasRouterReservation", {"Ref": "RouterReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert template["Conditions"]["HasRouterReservation"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RouterReservedConcurrency"}, 0]}]
    }
    reserved, worker = (
        default(template, "RouterReservedConcurrency"),
        default(template, "WorkerMaxConcurrency"),
    )
    # Deployable on a default account: Lambda refuses a reservation that leaves fewer than 100
    # unreserved, and the worker's cap must fit in what is left.
    assert reserved > 0 and reserved + worker <= ACCOUNT_QUOTA - UNRESERVED_MINIMUM


def test_the_stage_throttles_before_the_router_runs_out(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    """At the default rate and burst, requests of the mean duration fit in the reservation: callers
    meet the stage's 429 (which the gateway responses shape) before Lambda's throttling (503)."""
    settings = stage_settings(resources)
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottleBurstLimit"}
    rate, burst = default(template, "ApiThrottleRateLimit"), default(template, "ApiThrottleBurstLimit")
    assert rate * MEAN_DURATION_S + burst <= default(template, "RouterReservedConcurrency")
    scaling = (ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
    assert "## Brakes: reserved concurrency and stage throttling" in scaling
    for name in ("RouterReservedConcurrency", "ApiThrottleRateLimit", "ApiThrottleBurstLimit"):
        assert f"`{name}` | {default(template, name)} |" in scaling, f"docs/scaling.md: the default of {name}"


# ------------------------------------------------------------------------------------ logs


def test_every_log_group_expires(template: dict[str, Any], resources: dict[str, Any]) -> None:
    assert default(template, "LogRetentionDays") == 30
    groups = {rid for rid, r in resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
    for rid in groups:
        assert resources[rid]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, rid
    functions = {rid: r for rid, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    written = {}
    for rid, function in functions.items():
        # A declared group per function: otherwise Lambda creates /aws/lambda/<name> without expiry.
        target = function["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert target in groups, rid
        written[rid] = target
    assert len(set(written.values())) == len(functions)  # one each
    assert {"ApiAccessLogGroup", "ApiExecutionLogGroup"} <= groups


def test_api_access_logs_are_one_json_line_per_request(resources: dict[str, Any]) -> None:
    access = resources["RouterApi"]["Properties"]["AccessLogSetting"]
    assert access["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    variables = re.findall(r"\$context\.[A-Za-z.]+", access["Format"])
    line = re.sub(r"\$context\.[A-Za-z.]+", "x", access["Format"])
    record = json.loads(line)
    assert "\n" not in access["Format"]
    assert {
        "requestId": "$context.requestId",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integrationLatency",
        "errorMessage": "$context.error.message",
        "lambdaRequestId": "$context.integration.requestId",
        "xrayTraceId": "$context.xrayTraceId",
    }.items() <= dict(zip(record, variables, strict=True)).items()


def test_execution_logs_keep_errors_and_never_bodies(resources: dict[str, Any]) -> None:
    settings = stage_settings(resources)
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False  # bodies hold prompts, headers hold keys
    execution = resources["ApiExecutionLogGroup"]["Properties"]
    # The name API Gateway writes to: declared first, it keeps the retention.
    assert execution["LogGroupName"] == {"Fn::Sub": "API-Gateway-Execution-Logs_${RouterApi}/${StageName}"}


def test_api_gateway_may_write_logs_before_the_stage_exists(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    assert template["Parameters"]["ApiGatewayLogsRole"]["AllowedValues"] == ["create", "existing"]
    role, account = resources["ApiGatewayCloudWatchRole"], resources["ApiGatewayAccount"]
    assert role["Condition"] == account["Condition"] == "CreateApiGatewayLogsRole"
    assert role["DeletionPolicy"] == account["DeletionPolicy"] == "Retain"
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
    # The stage references the account setting, so it is created after it (when created here).
    variables = resources["RouterApi"]["Properties"]["Variables"]
    assert {"Ref": "ApiGatewayAccount"} in variables["logsRole"]["Fn::If"]


# ------------------------------------------------------------------------------------ gateway errors


def gateway_response(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    body = resources["RouterApi"]["Properties"]["DefinitionBody"]
    found: dict[str, Any] = body["x-amazon-apigateway-gateway-responses"][kind]
    return found


def rendered(response: dict[str, Any], message: str = "Limit Exceeded") -> bytes:
    """The template as API Gateway renders it ($context variables substituted)."""
    text = response["responseTemplates"]["application/json"]
    text = text.replace("$context.error.messageString", json.dumps(message))
    text = text.replace("$context.error.responseType", "THROTTLED").replace("$context.requestId", "req-1")
    assert "$context" not in text
    return text.encode()


def headers_of(response: dict[str, Any]) -> dict[str, str]:
    return {
        name.removeprefix("gatewayresponse.header."): value.strip("'")
        for name, value in response.get("responseParameters", {}).items()
    }


@contextmanager
def answering(status: int, body: bytes, headers: dict[str, str]) -> Iterator[str]:
    """A server on 127.0.0.1 that answers every POST as API Gateway would: the official SDKs call it
    over real HTTP (the Anthropic SDK takes no httpx transport). Yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(status)
            for name, value in {**headers, "content-type": "application/json"}.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("kind", "status", "error_type"),
    [("THROTTLED", 429, "rate_limit_error"), ("INTEGRATION_FAILURE", 503, "overloaded_error")],
)
def test_api_gateway_refusals_reach_both_sdks_in_their_shape(
    resources: dict[str, Any], kind: str, status: int, error_type: str
) -> None:
    response = gateway_response(resources, kind)
    assert response["statusCode"] == status
    headers = headers_of(response)
    assert headers["Retry-After"] == "1"
    body = rendered(response)

    with answering(status, body, headers) as url:
        oai = openai.OpenAI(api_key="sk-sy-x", base_url=f"{url}/prod/v1", max_retries=0)
        with pytest.raises(openai.APIStatusError) as raised:
            oai.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        oai.close()
        assert raised.value.status_code == status
        assert "retry shortly" in raised.value.message and "req-1" in raised.value.message
        assert raised.value.response.headers["retry-after"] == "1"
        if status == 429:
            assert isinstance(raised.value, openai.RateLimitError)
            assert raised.value.code == "rate_limit_exceeded"

        ant = anthropic.Anthropic(api_key="sk-sy-x", base_url=f"{url}/prod", max_retries=0)
        with pytest.raises(anthropic.APIStatusError) as refused:
            ant.messages.create(
                model="claude-haiku-4-5", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            )
        ant.close()
        assert refused.value.status_code == status
        assert isinstance(refused.value.body, dict) and refused.value.body["error"]["type"] == error_type
        if status == 429:
            assert isinstance(refused.value, anthropic.RateLimitError)


@pytest.mark.parametrize("kind", ["DEFAULT_4XX", "DEFAULT_5XX"])
def test_other_api_gateway_errors_are_in_the_error_shape(resources: dict[str, Any], kind: str) -> None:
    message = 'Request too large: "10 MB"'  # messageString arrives JSON-quoted
    body = json.loads(rendered(gateway_response(resources, kind), message))
    assert body["type"] == "error"
    assert body["error"]["message"] == message
    assert set(body["error"]) == {"type", "code", "message", "param"}


# ------------------------------------------------------------------------------------ runbook


def _anchor(heading: str) -> str:
    return re.sub(r"[^a-z0-9 -]", "", heading.strip().lower()).replace(" ", "-")


def test_every_alarm_has_its_entry_in_the_runbook(resources: dict[str, Any]) -> None:
    runbook = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    anchors = {_anchor(h) for h in re.findall(r"^#+ (.+)$", runbook, re.M)}
    alarms = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
    ]
    for props in alarms:
        name = props["AlarmName"]["Fn::Sub"].replace("${AWS::StackName}", "<stack>")
        assert f"`{name}`" in runbook, f"docs/operations.md does not say what {name} means"
    cited = re.findall(r"operations\.md#([a-z0-9-]+)", (ROOT / "template.yaml").read_text(encoding="utf-8"))
    for doc in (ROOT / "docs").glob("*.md"):
        cited += re.findall(r"operations\.md#([a-z0-9-]+)", doc.read_text(encoding="utf-8"))
    cited += re.findall(r"\]\(#([a-z0-9-]+)\)", runbook)
    assert cited and set(cited) <= anchors, set(cited) - anchors
