"""Context parsing and the CDK CLI's settings (no synth); the layers are in test_layers.py."""

from __future__ import annotations

import json
import tomllib
from typing import Any

import pytest

from infra_cdk.config import CDK_JSON, REPO_ROOT, ConfigError, StackConfig, cdk_json_context


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
