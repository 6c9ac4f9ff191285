"""template.yaml ships a custom routing config to every function that loads it: RoutingConfigPath
names it, and the ConfigLayer (layers/config/, at /opt) reaches each function that is told
SWITCHYARD_CONFIG, so the worker and the rotation function route with the router's config. The
default deployment (RoutingConfigPath empty) has no such layer and uses the shipped config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode_str

ROOT = Path(__file__).resolve().parents[2]
CONFIG_LAYER = {"Fn::If": ["HasRoutingConfigPath", {"Ref": "ConfigLayer"}, {"Ref": "AWS::NoValue"}]}
CONFIG_ENV = {"Fn::If": ["HasRoutingConfigPath", {"Ref": "RoutingConfigPath"}, {"Ref": "AWS::NoValue"}]}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, matches = decode_str((ROOT / "template.yaml").read_text(encoding="utf-8"))
    assert not matches
    return dict(decoded)


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def loads_the_routing_config(properties: dict[str, Any]) -> bool:
    """Whether the function's handler builds a gateway or reads providers (the routing config)."""
    handler = ROOT / properties["CodeUri"] / "app.py"
    source = handler.read_text(encoding="utf-8")
    return any(
        name in source
        for name in (
            "create_app",
            "WorkerRuntime",
            "open_rotator",
            "open_backup_watch",
            "load_routing_config",
        )
    )


def test_every_function_that_loads_the_routing_config_gets_the_path_and_the_layer(
    template: dict[str, Any],
) -> None:
    readers = {name for name, props in functions(template).items() if loads_the_routing_config(props)}
    assert readers == {"RouterFunction", "WorkerFunction", "RotationFunction"}
    for name, props in functions(template).items():
        told = props.get("Environment", {}).get("Variables", {}).get("SWITCHYARD_CONFIG")
        shipped = CONFIG_LAYER in props.get("Layers", [])
        if name in readers:
            assert (told, shipped) == (CONFIG_ENV, True), name
        else:
            assert (told, shipped) == (None, False), name


def test_the_config_layer_is_the_layers_config_folder_and_only_when_asked_for(
    template: dict[str, Any],
) -> None:
    layer = template["Resources"]["ConfigLayer"]
    assert layer["Condition"] == "HasRoutingConfigPath"
    assert layer["Properties"]["ContentUri"] == "layers/config/"
    assert (ROOT / "layers" / "config").is_dir()
    assert "/opt/routing.yaml" in template["Parameters"]["RoutingConfigPath"]["Description"]
    assert template["Conditions"]["HasRoutingConfigPath"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "RoutingConfigPath"}, ""]}]
    }


def test_a_config_in_the_layer_folder_is_what_a_function_loads(tmp_path: Path) -> None:
    """What /opt/routing.yaml becomes in Lambda: the settings every handler reads name it."""
    from switchyard.config.routing import load_routing_config
    from switchyard.config.settings import RotationSettings, RouterSettings, WorkerSettings

    opt = tmp_path / "opt"
    opt.mkdir()
    (opt / "routing.yaml").write_text(
        "providers: {mock: {kind: mock}}\nmodels: {only-mine: {deployments: [{provider: mock, model: m}]}}\n",
        encoding="utf-8",
    )
    for kind in (RouterSettings, WorkerSettings, RotationSettings):
        settings = kind.from_env({"SWITCHYARD_CONFIG": str(opt / "routing.yaml")})
        assert set(load_routing_config(settings.config_path, settings.environment).models) == {"only-mine"}
