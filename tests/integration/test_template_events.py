"""Every event reaches the bus: each Lambda function of template.yaml whose code can publish (its
handler's imports reach a module that builds a publisher) names the bus and may put events on it,
and in Lambda a function without a bus refuses to start instead of keeping events in memory.

The walk reads the code, not a list: a new function, or a new import that makes an old one
publish, is covered without touching this test.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str
from pydantic import SecretStr

from fakes import MASTER_KEY
from switchyard.compose.events import publisher_for, require_event_bus
from switchyard.config.settings import RouterSettings

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "shared"
# What builds a publisher: every path to EventBridge goes through one of these.
PUBLISHER_FACTORIES = {"publisher_for", "EventBridgePublisher", "build_publisher"}
BUS_ENV = "SWITCHYARD_EVENT_BUS"
IN_LAMBDA = {"lambda_function_name": "switchyard-test-function"}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    template, matches = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not matches
    found: dict[str, Any] = template["Resources"]
    return found


def _module_file(name: str) -> Path | None:
    if not name.startswith("switchyard"):
        return None
    base = PACKAGE.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path) -> set[str]:
    """Every switchyard module the file imports, at module level or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # submodules
    return {name for name in found if _module_file(name) is not None}


def _publishes(path: Path) -> bool:
    """The file calls a publisher factory (defining one is not publishing)."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name in PUBLISHER_FACTORIES:
                return True
    return False


def publishing_modules(entry: Path) -> set[str]:
    """The modules reachable from ``entry`` (a handler file) that build a publisher."""
    seen: set[str] = set()
    todo = sorted(_imports(entry))
    publishing = {"<handler>"} if _publishes(entry) else set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        assert path is not None
        if _publishes(path):
            publishing.add(name)
        todo.extend(_imports(path) - seen)
    return publishing


def handler_file(function: dict[str, Any]) -> Path:
    """The Python file a function runs: its handler's module, or app.py behind the web adapter's
    run.sh (which starts ``uvicorn app:create_app``)."""
    props = function["Properties"]
    code = ROOT / props["CodeUri"]
    handler = props["Handler"]
    if handler.endswith(".sh"):
        assert "app:create_app" in (code / handler).read_text(encoding="utf-8")
        return code / "app.py"
    return code / f"{handler.split('.')[0]}.py"


def _statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for policy in function["Properties"]["Policies"] for s in policy["Statement"]]


def _allows_put_events_on(function: dict[str, Any], bus: str) -> bool:
    arn = f"arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:event-bus/{bus}"
    for statement in _statements(function):
        actions, targets = (
            value if isinstance(value, list) else [value]
            for value in (statement["Action"], statement["Resource"])
        )
        if "events:PutEvents" in actions and {"Fn::Sub": arn} in targets:
            return True
    return False


def test_the_walk_sees_what_publishes() -> None:
    """The walk itself: the gateway (router and worker) publishes key and budget events; the rate
    limiter does not."""
    assert "switchyard.compose.gateway" in publishing_modules(ROOT / "functions" / "worker" / "app.py")
    assert publishing_modules(PACKAGE / "switchyard" / "limits" / "limiter.py") == set()


def test_every_function_that_can_publish_has_the_bus_and_may_put_events(resources: dict[str, Any]) -> None:
    functions = {rid: r for rid, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    publishers = {rid for rid, r in functions.items() if publishing_modules(handler_file(r))}
    # Each of the four publishes something: key rejected (router, worker), budget thresholds
    # (router, worker), budget actions (budget), key rotated (rotation).
    assert publishers == {"RouterFunction", "WorkerFunction", "BudgetFunction", "RotationFunction"}
    for rid in sorted(publishers):
        env = functions[rid]["Properties"].get("Environment", {}).get("Variables", {})
        assert env.get(BUS_ENV), f"{rid} publishes events but has no {BUS_ENV}"
        assert _allows_put_events_on(functions[rid], env[BUS_ENV]), f"{rid} may not put events on its bus"


def test_in_lambda_a_missing_bus_is_a_start_up_error() -> None:
    with pytest.raises(ValueError, match="SWITCHYARD_EVENT_BUS"):
        require_event_bus(RouterSettings(**IN_LAMBDA))
    assert require_event_bus(RouterSettings(event_bus_name="default", **IN_LAMBDA)) == "default"
    assert require_event_bus(RouterSettings()) is None  # tests and make run keep events in memory
    assert RouterSettings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "f"}).lambda_function_name == "f"


async def test_the_router_and_worker_gateway_refuses_to_open_without_a_bus() -> None:
    from switchyard.compose.gateway import open_gateway

    settings = RouterSettings(master_key=SecretStr(MASTER_KEY), **IN_LAMBDA)
    with pytest.raises(ValueError, match="SWITCHYARD_EVENT_BUS"):
        await open_gateway(settings)


def _load(function: str) -> Any:
    name = f"{function}_app_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, ROOT / "functions" / function / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("function", ["budget", "rotation", "worker"])
def test_each_handler_fails_its_cold_start_without_a_bus(
    function: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "AWS_LAMBDA_FUNCTION_NAME": f"switchyard-{function}",
        "STATE_TABLE": "switchyard-state",
        "SWITCHYARD_MASTER_KEY": MASTER_KEY,
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(BUS_ENV, raising=False)
    module = _load(function)
    build = {"budget": "_get", "rotation": "_get", "worker": "_worker"}[function]
    with pytest.raises(ValueError, match="SWITCHYARD_EVENT_BUS"):
        getattr(module, build)()


def test_outside_lambda_events_stay_in_memory() -> None:
    from switchyard.events import MemoryPublisher

    assert isinstance(publisher_for(RouterSettings()), MemoryPublisher)
