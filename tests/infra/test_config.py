"""Context parsing, dependency-layer choice and the layer build command (no synth)."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from infra_cdk.build_layers import PLATFORMS, layer_requirements, pip_command, requirement_name
from infra_cdk.config import (
    CDK_JSON,
    PLACEHOLDER_DIRNAME,
    REPO_ROOT,
    ConfigError,
    StackConfig,
    cdk_json_context,
    resolve_deps_layer,
)


class FakeContext:
    def __init__(self, **values: Any) -> None:
        self.values = values

    def try_get_context(self, key: str) -> Any:
        return self.values.get(key)


def test_defaults_are_a_dev_stack_without_remote_setup() -> None:
    config = StackConfig.from_context(FakeContext())
    assert (config.stage, config.prefix, config.stack_name) == ("dev", "molesignal-dev", "MoleSignal-dev")
    assert config.allow_remote_setup is False
    assert config.retain_data is True


def test_context_values_arrive_as_strings_from_the_cli() -> None:
    config = StackConfig.from_context(
        FakeContext(stage="prod", allowRemoteSetup="true", retainData="false", logRetentionDays="90")
    )
    assert (config.prefix, config.allow_remote_setup, config.retain_data) == ("molesignal-prod", True, False)
    assert config.log_retention_days == 90


@pytest.mark.parametrize(
    "context",
    [{"allowRemoteSetup": "maybe"}, {"prefix": "Bad_Prefix"}, {"stage": "x" * 30}, {"prefix": "p" * 60}],
)
def test_bad_context_is_refused(context: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        StackConfig.from_context(FakeContext(**context))


def test_placeholder_layer_is_staged_outside_the_source_tree(tmp_path: Path) -> None:
    config = StackConfig(deps_layer_dir=tmp_path / "missing")
    layer = resolve_deps_layer(config, tmp_path / "cdk.out")
    assert layer.placeholder is True
    assert layer.path == tmp_path / "cdk.out" / PLACEHOLDER_DIRNAME
    assert (layer.path / "python").is_dir()
    assert not (tmp_path / "missing").exists()


def test_built_layer_is_used_when_present(tmp_path: Path) -> None:
    (tmp_path / "deps" / "python" / "fastapi").mkdir(parents=True)
    layer = resolve_deps_layer(StackConfig(deps_layer_dir=tmp_path / "deps"), tmp_path / "out")
    assert (layer.path, layer.placeholder) == (tmp_path / "deps", False)


def test_require_deps_layer_refuses_the_placeholder(tmp_path: Path) -> None:
    config = StackConfig(deps_layer_dir=tmp_path / "missing", require_deps_layer=True)
    with pytest.raises(ConfigError, match="build_layers"):
        resolve_deps_layer(config, tmp_path)


def test_layer_requirements_leave_out_what_the_lambda_runtime_has() -> None:
    text = "# comment\nfastapi==0.1\nboto3==1.0  # in the runtime\nBotocore==1.0\n-r other.txt\npyjwt==2\n"
    kept = layer_requirements(text, with_boto3=False)
    assert [requirement_name(line) for line in kept.splitlines()] == [None, "fastapi", None, "pyjwt"]
    assert layer_requirements(text, with_boto3=True) == text


def test_pip_builds_linux_wheels_for_the_lambda_python(tmp_path: Path) -> None:
    command = pip_command(tmp_path / "req.txt", tmp_path / "python")
    assert command[:4] == [sys.executable, "-m", "pip", "install"]
    joined = " ".join(command)
    for platform in PLATFORMS:
        assert f"--platform {platform}" in joined
    assert "--only-binary=:all:" in command
    assert "--python-version 3.12" in joined
    assert f"--target {tmp_path / 'python'}" in joined


def test_cdk_json_runs_this_app_from_the_repository_root() -> None:
    settings = json.loads(CDK_JSON.read_text())
    assert settings["app"].endswith("python -m infra_cdk.app")
    assert settings["output"] == "cdk.out"
    assert cdk_json_context() == settings["context"]


def test_samconfig_names_the_stack_and_template_cdk_synth_writes() -> None:
    samconfig = tomllib.loads((REPO_ROOT / "samconfig.toml").read_text())["default"]
    stack_name = StackConfig().stack_name
    assert samconfig["global"]["parameters"]["stack_name"] == stack_name
    assert samconfig["build"]["parameters"]["template_file"] == f"cdk.out/{stack_name}.template.json"
    assert "AllowRemoteSetup=false" in samconfig["deploy"]["parameters"]["parameter_overrides"]


def test_log_retention_accepts_only_cloudwatch_periods() -> None:
    from infra_cdk.components.runtime import log_retention

    assert log_retention(30).name == "ONE_MONTH"
    with pytest.raises(ValueError, match="CloudWatch accepts only"):
        log_retention(31)
