"""template.yaml, the router's Lambda wiring and the sample events, checked without an AWS account.

Each test guards a mistake that deploys cleanly and fails only in production: a buffered API where
a streamed one was meant, a wildcard IAM resource, a layer pinned apart from pyproject, a handler
script the Lambda Web Adapter cannot start, a sample event the app cannot serve.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel
from cfnlint.api import ManualArgs, lint
from cfnlint.decode import decode_str
from fastapi import FastAPI
from pydantic import SecretStr

from switchyard.config.settings import PROVIDER_KEY_ENV, RouterSettings
from switchyard.http.app import create_app

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ROUTER_DIR = ROOT / "functions" / "router"
EVENTS = sorted((ROOT / "events").glob("api-*.json"))
DEMO_KEY = "sk-sy-local-demo-key"

# What the app must answer to each sample event; a new event needs an entry here.
EXPECTED_STATUS = {
    "api-chat-completions.json": 200,
    "api-models.json": 200,
    "api-health.json": 200,
    "api-health-ready.json": 200,
    "api-chat-bad-json.json": 400,
}

DYNAMODB_ITEM_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:Query",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
}
MANAGED_POLICY_PREFIX = "arn:aws:iam::aws:policy/"
STREAMING_URI = re.compile(
    r"^arn:\$\{AWS::Partition\}:apigateway:\$\{AWS::Region\}:lambda:path/2021-11-15/functions/"
    r"\$\{RouterFunction\.Arn\}/response-streaming-invocations$"
)


# ------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    parsed, matches = decode_str(TEMPLATE.read_text(encoding="utf-8"))
    assert not matches, matches
    assert isinstance(parsed, dict)
    return parsed


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = template["Resources"]
    return result


@pytest.fixture(scope="module")
def router(resources: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = resources["RouterFunction"]["Properties"]
    return props


@pytest.fixture(scope="module")
def integrations(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every x-amazon-apigateway-integration of the REST API, by path and method."""
    paths = resources["RouterApi"]["Properties"]["DefinitionBody"]["paths"]
    return {
        f"{method} {path}": operation["x-amazon-apigateway-integration"]
        for path, operations in paths.items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and "x-amazon-apigateway-integration" in operation
    }


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The ASGI app with the demo key, its lifespan running, and an upstream that must stay unused."""
    upstream_calls: list[httpx.Request] = []

    def upstream(request: httpx.Request) -> httpx.Response:
        upstream_calls.append(request)
        return httpx.Response(599)

    app = create_app(RouterSettings(master_key=SecretStr(DEMO_KEY)), transport=httpx.MockTransport(upstream))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as http,
    ):
        yield http
    # The events only use the built-in mock provider: nothing may leave the process.
    assert upstream_calls == []


@pytest.fixture
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ------------------------------------------------------------------------------------ lint


def test_cfn_lint_reports_nothing() -> None:
    # Informational checks too: they catch stateful resources without explicit deletion policies.
    config = ManualArgs(regions=["us-east-1"], include_checks=["I"])
    matches = lint(TEMPLATE.read_text(encoding="utf-8"), config=config)
    assert [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in matches] == []


# ------------------------------------------------------------------------------------ streaming


def test_every_api_route_streams_from_the_router(integrations: dict[str, dict[str, Any]]) -> None:
    """The pitfall: nothing validates an OpenAPI body, and a misspelt key or value quietly
    gives a buffered API (29 s timeout, no streaming). CloudFormation's own schema for
    AWS::ApiGateway::Method.Integration.ResponseTransferMode is BUFFERED | STREAM; RESPONSE_STREAM
    is only the SAM Api-event spelling."""
    assert set(integrations) == {
        "x-amazon-apigateway-any-method /",
        "x-amazon-apigateway-any-method /{proxy+}",
    }
    for route, integration in integrations.items():
        assert integration["type"] == "aws_proxy", route
        assert integration["httpMethod"] == "POST", route
        assert integration["responseTransferMode"] == "STREAM", route
        assert STREAMING_URI.match(integration["uri"]["Fn::Sub"]), route
        # Streaming allows up to 15 minutes; left out, API Gateway cuts at 29 s.
        assert integration["timeoutInMillis"] == 900_000, route


def test_transfer_mode_spelling_is_the_cloudformation_one(template: dict[str, Any]) -> None:
    """Any other spelling anywhere (a Method resource, a SAM event) must still mean streaming."""

    def walk(node: Any, path: str) -> Iterator[tuple[str, str, Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield path, str(key), value
                yield from walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from walk(value, f"{path}/{index}")

    found = [(p, k, v) for p, k, v in walk(template, "") if "transfermode" in k.lower()]
    assert found
    for path, key, value in found:
        if key == "responseTransferMode" or path.endswith("/Integration"):
            assert value == "STREAM", (path, key, value)
        elif key == "ResponseTransferMode" and "/Events/" in path:
            assert value == "RESPONSE_STREAM", (path, key, value)
        else:
            pytest.fail(f"unexpected transfer mode key {key!r} at {path}")


def test_sam_transform_keeps_streaming_in_the_deployed_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """What CloudFormation receives: the RestApi body after SAM's transform, run offline."""
    from samtranslator.translator.transform import transform  # type: ignore[import-untyped]
    from samtranslator.yaml_helper import yaml_parse  # type: ignore[import-untyped]

    # The transform wants a region for pseudo parameters; it makes no AWS call with these.
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }.items():
        monkeypatch.setenv(name, value)

    class ManagedPolicies:
        """Stands in for SAM's IAM lookup of the managed policies it attaches."""

        def load(self) -> dict[str, str]:
            return {
                "AWSLambdaBasicExecutionRole": MANAGED_POLICY_PREFIX
                + "service-role/AWSLambdaBasicExecutionRole",
                "AWSXrayWriteOnlyAccess": MANAGED_POLICY_PREFIX + "AWSXrayWriteOnlyAccess",
            }

    sam = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    # As `sam deploy` rewrites them after uploading the built artifacts.
    for name, resource in sam["Resources"].items():
        for key in ("CodeUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = f"s3://artifacts/{name}.zip"

    cfn = transform(sam, {}, ManagedPolicies())["Resources"]

    (api,) = [r["Properties"] for r in cfn.values() if r["Type"] == "AWS::ApiGateway::RestApi"]
    for path in ("/", "/{proxy+}"):
        integration = api["Body"]["paths"][path]["x-amazon-apigateway-any-method"][
            "x-amazon-apigateway-integration"
        ]
        assert integration["responseTransferMode"] == "STREAM"
        assert STREAMING_URI.match(integration["uri"]["Fn::Sub"])
        assert integration["timeoutInMillis"] == 900_000
    # One stage, the configured one (no stray "Stage" stage from SAM).
    assert [r["Type"] for r in cfn.values()].count("AWS::ApiGateway::Stage") == 1


def test_api_gateway_may_invoke_the_router(resources: dict[str, Any]) -> None:
    permissions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert any(
        p["Principal"] == "apigateway.amazonaws.com"
        and p["Action"] == "lambda:InvokeFunction"
        and p["FunctionName"] == {"Fn::GetAtt": ["RouterFunction", "Arn"]}
        and "${RouterApi}" in p["SourceArn"]["Fn::Sub"]
        for p in permissions
    )


def test_api_is_regional(resources: dict[str, Any]) -> None:
    # Edge-optimized endpoints end a stream after 30 s without a chunk; regional ones after 5 min.
    assert resources["RouterApi"]["Properties"]["EndpointConfiguration"] == {"Type": "REGIONAL"}


# ------------------------------------------------------------------------------------ runtime


def test_functions_run_python313_on_arm64_with_tracing(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert function_globals["Architectures"] == ["arm64"]
    assert function_globals["Tracing"] == "Active"
    for name, resource in resources.items():
        if resource["Type"] == "AWS::Serverless::Function":
            props = resource["Properties"]
            assert props.get("Runtime", "python3.13") == "python3.13", name
            assert props.get("Architectures", ["arm64"]) == ["arm64"], name
            assert props.get("Tracing", "Active") == "Active", name


def test_layers_build_for_python313_arm64(resources: dict[str, Any]) -> None:
    layers = {"DepsLayer": "layers/deps/", "SharedLayer": "shared/"}
    for name, content in layers.items():
        layer = resources[name]
        assert layer["Properties"]["ContentUri"] == content
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
        assert layer["Metadata"] == {"BuildMethod": "python3.13", "BuildArchitecture": "arm64"}


def test_router_runs_behind_the_lambda_web_adapter(router: dict[str, Any]) -> None:
    env = router["Environment"]["Variables"]
    assert env["AWS_LAMBDA_EXEC_WRAPPER"] == "/opt/bootstrap"
    assert env["AWS_LWA_INVOKE_MODE"] == "response_stream"
    assert env["PORT"] == "8080"
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/health"
    assert router["Handler"] == "run.sh"
    (adapter,) = [
        layer["Fn::If"]
        for layer in router["Layers"]
        if isinstance(layer, dict) and layer.get("Fn::If", [None])[0] == "HasAdapterLayerArn"
    ]
    # The operator's ARN (other partitions, a private copy), else AWS's layer at the named version.
    assert adapter[:2] == ["HasAdapterLayerArn", {"Ref": "LambdaAdapterLayerArn"}]
    assert adapter[2] == {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:753240598075:layer:"
        "LambdaAdapterLayerArm64:${LambdaAdapterLayerVersion}"
    }
    # The function outlives the longest stream API Gateway allows.
    assert router["Timeout"] >= 900


def test_the_adapter_layer_default_is_a_documented_release(template: dict[str, Any]) -> None:
    """A layer version that does not exist in a region rolls the stack back: the default must be
    one docs/deploy.md names as a release, with the command that checks it in a region."""
    parameters = template["Parameters"]
    version = parameters["LambdaAdapterLayerVersion"]["Default"]
    assert parameters["LambdaAdapterLayerArn"]["Default"] == ""
    deploy = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    releases = dict(
        (int(layer), release)
        for release, layer in re.findall(
            r"^\| (v\d+\.\d+\.\d+) \| [\d-]+ \| \*\*(\d+)\*\* \(default\) \|$", deploy, re.M
        )
    )
    assert list(releases) == [version], "docs/deploy.md must mark the template's default as (default)"
    assert releases[version] in parameters["LambdaAdapterLayerVersion"]["Description"]
    assert f"layer:LambdaAdapterLayerArm64:{version}" in deploy  # the get-layer-version-by-arn check
    # The ARN parameter accepts any partition's layer ARN, and only an ARN.
    pattern = re.compile(parameters["LambdaAdapterLayerArn"]["AllowedPattern"])
    assert pattern.match("arn:aws-cn:lambda:cn-north-1:041581134020:layer:LambdaAdapterLayerArm64:26")
    assert pattern.match("") and not pattern.match("LambdaAdapterLayerArm64:26")


def test_router_environment_names_its_resources(router: dict[str, Any]) -> None:
    env = router["Environment"]["Variables"]
    assert env["SWITCHYARD_MASTER_KEY_SECRET"] == {"Ref": "MasterKeySecret"}
    assert env["STATE_TABLE"] == {"Ref": "StateTable"}
    assert env["CACHE_TABLE"] == {"Ref": "CacheTable"}
    assert env["JOBS_QUEUE_URL"] == {"Ref": "JobsQueue"}


def test_run_sh_is_executable_and_starts_the_factory() -> None:
    script = ROUTER_DIR / "run.sh"
    # The adapter's bootstrap execs the handler file directly; sam build keeps the mode bits.
    assert script.stat().st_mode & stat.S_IXUSR
    text = script.read_text(encoding="utf-8")
    assert "--factory app:create_app" in text
    assert "/opt/python" in text


def test_router_factory_builds_the_app_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Loaded by path: every handler file is called app.py.
    monkeypatch.setenv("SWITCHYARD_MASTER_KEY", DEMO_KEY)
    spec = importlib.util.spec_from_file_location("router_app", ROUTER_DIR / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert isinstance(module.create_app(), FastAPI)


def test_run_sh_serves_the_readiness_path(free_port: int) -> None:
    """What the adapter does at cold start: run the handler script, then poll the readiness path."""
    server = _start_run_sh(free_port)
    try:
        response = _poll(f"http://127.0.0.1:{free_port}/health", deadline_s=30.0, server=server)
        assert response.status_code == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        _, stderr = server.communicate(timeout=10)
    # uvicorn re-raises SIGTERM after a graceful shutdown, so -SIGTERM is a clean exit too.
    assert server.returncode in (0, -signal.SIGTERM), stderr.decode(errors="replace")
    assert b"Application shutdown complete" in stderr


def test_run_sh_exits_when_the_gateway_cannot_open(free_port: int, tmp_path: Path) -> None:
    """A broken routing config must fail the cold start (the adapter never sees a ready app)."""
    server = _start_run_sh(free_port, SWITCHYARD_CONFIG=str(tmp_path / "missing.yaml"))
    try:
        _, stderr = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
    assert server.returncode != 0
    assert b"Application startup failed" in stderr


def _start_run_sh(port: int, **extra_env: str) -> subprocess.Popen[bytes]:
    env = {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LAMBDA_TASK_ROOT": str(ROUTER_DIR),
        "PORT": str(port),
        "SWITCHYARD_MASTER_KEY": DEMO_KEY,
        **extra_env,
    }
    # A clean environment: no provider key may reach the server.
    assert not set(env) & set(PROVIDER_KEY_ENV)
    return subprocess.Popen(
        [str(ROUTER_DIR / "run.sh")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _poll(url: str, *, deadline_s: float, server: subprocess.Popen[bytes]) -> httpx.Response:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return httpx.get(url, timeout=1.0)
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# ------------------------------------------------------------------------------------ IAM


def test_router_policies_are_inline_without_wildcards(router: dict[str, Any]) -> None:
    statements = []
    for policy in router["Policies"]:
        # Managed policies and SAM policy templates (DynamoDBCrudPolicy: Scan, index/*) hide what
        # they grant; only inline statements are reviewable here.
        assert set(policy) == {"Statement"}, policy
        statements.extend(policy["Statement"])
    assert statements
    for statement in statements:
        assert statement["Effect"] == "Allow"
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for resource in resources:
            if _through_a_bedrock_profile(statement, resource):
                continue
            assert "*" not in json.dumps(resource), statement
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), statement
        dynamodb = {a for a in actions if a.startswith("dynamodb:")}
        assert dynamodb <= DYNAMODB_ITEM_ACTIONS, dynamodb - DYNAMODB_ITEM_ACTIONS


def _through_a_bedrock_profile(statement: dict[str, Any], resource: Any) -> bool:
    """A cross-region inference profile runs its model in any of its regions, so the model's ARN
    names every region; the one wildcard allowed, and only where a condition ties its use to
    named inference profiles (test_template_bedrock.py checks which)."""
    arn = resource.get("Fn::Sub", "") if isinstance(resource, dict) else ""
    condition = statement.get("Condition", {}).get("StringLike", {})
    return (
        re.fullmatch(r"arn:\$\{AWS::Partition\}:bedrock:\*::foundation-model/[\w.:-]+", arn) is not None
        and "bedrock:InferenceProfileArn" in condition
        and "*" not in json.dumps(condition["bedrock:InferenceProfileArn"])
    )


def test_router_reads_exactly_the_gateway_secrets(router: dict[str, Any], resources: dict[str, Any]) -> None:
    secrets = {rid for rid, r in resources.items() if r["Type"] == "AWS::SecretsManager::Secret"}
    granted = [
        # A provider's secret is conditional (its Create...KeySecret parameter).
        resource["Ref"] if "Ref" in resource else resource["Fn::If"][1]["Ref"]
        for policy in router["Policies"]
        for statement in policy["Statement"]
        if statement["Action"] in ("secretsmanager:GetSecretValue", ["secretsmanager:GetSecretValue"])
        for resource in statement["Resource"]
    ]
    assert sorted(granted) == sorted(secrets)


# ------------------------------------------------------------------------------------ data


def test_tables_have_the_documented_shape(resources: dict[str, Any]) -> None:
    state, cache = resources["StateTable"], resources["CacheTable"]
    assert [k["AttributeName"] for k in state["Properties"]["KeySchema"]] == ["pk", "sk"]
    assert [k["AttributeName"] for k in cache["Properties"]["KeySchema"]] == ["pk"]
    for table in (state, cache):
        assert table["Properties"]["BillingMode"] == "PAY_PER_REQUEST"
        assert table["Properties"]["TimeToLiveSpecification"] == {
            "AttributeName": "expires_at",
            "Enabled": True,
        }
    assert (state["DeletionPolicy"], state["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert state["Properties"]["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert cache["DeletionPolicy"] == "Delete"


def test_every_work_queue_redrives_to_a_dead_letter_queue(resources: dict[str, Any]) -> None:
    queues = {rid: r.get("Properties", {}) for rid, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    dead_letter = {
        props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for props in queues.values()
        if "RedrivePolicy" in props
    }
    assert dead_letter
    for name, props in queues.items():
        if name in dead_letter:
            assert "RedrivePolicy" not in props, name
            continue
        redrive = props.get("RedrivePolicy")
        assert redrive, f"{name} has no dead-letter queue"
        assert redrive["deadLetterTargetArn"]["Fn::GetAtt"][1] == "Arn"
        assert redrive["maxReceiveCount"] == 5


def test_jobs_queue_timings(resources: dict[str, Any]) -> None:
    worker_timeout_s = 300
    assert resources["JobsQueue"]["Properties"]["VisibilityTimeout"] >= 6 * worker_timeout_s
    assert resources["JobsDeadLetterQueue"]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_dead_letter_queue_depth_is_alarmed(resources: dict[str, Any]) -> None:
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    assert any(
        a["Namespace"] == "AWS/SQS"
        and a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Dimensions"]
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["JobsDeadLetterQueue", "QueueName"]}}]
        and a["Threshold"] == 0
        and a["ComparisonOperator"] == "GreaterThanThreshold"
        for a in alarms
    )


# ------------------------------------------------------------------------------------ layer pins


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        requirement = line.split("#", 1)[0].strip()
        if not requirement:
            continue
        name, sep, version = requirement.partition("==")
        assert sep and version and not re.search(r"[<>=!~;\[ ]", version), f"not an exact pin: {line!r}"
        pins[re.sub(r"[-_.]+", "-", name.strip()).lower()] = version.strip()
    return pins


def test_deps_layer_pins_equal_pyproject_runtime_pins() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = (ROOT / "layers" / "deps" / "requirements.txt").read_text(encoding="utf-8")
    assert _pins(requirements.splitlines()) == _pins(project["dependencies"])
    # The Lambda runtime provides boto3; shipping it would only grow the layer.
    assert "boto3" not in _pins(requirements.splitlines())


# ------------------------------------------------------------------------------------ events


@pytest.mark.parametrize("path", EVENTS, ids=[p.name for p in EVENTS])
def test_event_is_a_rest_proxy_event_for_the_api(path: Path, integrations: dict[str, dict[str, Any]]) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    parsed = APIGatewayProxyEventModel.model_validate(event)
    assert path.name in EXPECTED_STATUS, f"add the status {path.name} must get to EXPECTED_STATUS"
    assert parsed.requestContext.httpMethod == parsed.httpMethod
    assert parsed.requestContext.path == f"/{parsed.requestContext.stage}{parsed.path}"
    assert f"x-amazon-apigateway-any-method {parsed.resource}" in integrations
    if parsed.resource == "/{proxy+}":
        assert parsed.pathParameters == {"proxy": parsed.path.lstrip("/")}
    # API Gateway sends both forms; the adapter reads the multi-value one.
    assert {k: [v] for k, v in event["headers"].items()} == event["multiValueHeaders"]


@pytest.mark.parametrize("path", EVENTS, ids=[p.name for p in EVENTS])
async def test_event_replayed_through_the_app(path: Path, client: httpx.AsyncClient) -> None:
    """What the Lambda Web Adapter does with the event: one HTTP request to the app."""
    event = json.loads(path.read_text(encoding="utf-8"))
    response = await client.send(_as_http_request(client, event))

    assert response.status_code == EXPECTED_STATUS[path.name], response.text
    # API Gateway's request id, the one its access log records (the adapter passes the context on).
    assert response.headers["x-request-id"] == event["requestContext"]["requestId"]
    body = response.json()
    if response.status_code >= 400:
        assert set(body["error"]) >= {"message", "type", "code"}
    elif event["path"] == "/v1/chat/completions":
        assert body["object"] == "chat.completion"
        assert body["choices"][0]["message"]["content"]


def _as_http_request(client: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Request:
    body = event.get("body") or ""
    content = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    headers = [(name, value) for name, values in event["multiValueHeaders"].items() for value in values]
    # The adapter passes the request context on as a header.
    headers.append(("x-amzn-request-context", json.dumps(event["requestContext"])))
    params = [
        (name, value)
        for name, values in (event["multiValueQueryStringParameters"] or {}).items()
        for value in values
    ]
    return client.build_request(
        event["httpMethod"], event["path"], headers=headers, params=params, content=content
    )
