"""`onedesk-qbo --stack NAME` against CloudFormation (moto): the stack's outputs become the settings."""

from __future__ import annotations

import json
import os

import pytest

from local.aws import LocalAws, aws_client
from onedesk_qbo.config import STACK_OUTPUT_SETTINGS, ConfigError, configure

# A stand-in for a deployed stack: only its outputs matter to the CLI.
_OUTPUTS = {output: f"value-of-{output}" for output in STACK_OUTPUT_SETTINGS}
_TEMPLATE = {
    "Resources": {"Placeholder": {"Type": "AWS::SQS::Queue"}},
    "Outputs": {name: {"Value": value} for name, value in _OUTPUTS.items()},
}


def test_stack_outputs_configure_the_product_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    with LocalAws() as aws:
        for name, value in aws.environment().items():
            monkeypatch.setenv(name, value)
        for setting in STACK_OUTPUT_SETTINGS.values():
            monkeypatch.delenv(setting, raising=False)
        client = aws_client("cloudformation", aws.endpoint_url)
        client.create_stack(StackName="onedesk-qbo-prod", TemplateBody=json.dumps(_TEMPLATE))
        client.create_stack(
            StackName="other-app",
            TemplateBody=json.dumps(
                {"Resources": _TEMPLATE["Resources"], "Outputs": {"Url": {"Value": "x"}}}
            ),
        )

        configure("onedesk-qbo-prod", None)

        assert {setting: os.environ[setting] for setting in STACK_OUTPUT_SETTINGS.values()} == {
            setting: f"value-of-{output}" for output, setting in STACK_OUTPUT_SETTINGS.items()
        }
        with pytest.raises(ConfigError, match="AppTableName"):
            configure("other-app", None)
