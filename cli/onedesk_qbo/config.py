"""Where the CLI's commands act: a deployed stack, the local stack, or whatever the environment names.

The commands use the product's own settings model and adapters (qbo_sync.config, qbo_sync.wiring), so
they are configured exactly as a function is: by environment variables named like its settings
(APP_TABLE_NAME, KMS_KEY_ID, INVOICE_COMMANDS_QUEUE_URL, ...), plus the standard AWS ones (AWS_PROFILE,
AWS_REGION, and AWS_ENDPOINT_URL for the local stack, whose `make dev` writes them to a file).
``--stack NAME`` reads the same values from a deployed CloudFormation stack's outputs instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

import boto3

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient

# template.yaml's Outputs -> the product settings they provide. Each queue's dead-letter queue is read
# from the queue's own RedrivePolicy, so it needs no setting of its own.
STACK_OUTPUT_SETTINGS = {
    "AppTableName": "APP_TABLE_NAME",
    "DataKeyId": "KMS_KEY_ID",
    "InvoiceCommandsQueueUrl": "INVOICE_COMMANDS_QUEUE_URL",
    "InvoiceDeliveriesQueueUrl": "INVOICE_DELIVERIES_QUEUE_URL",
    "QboChangesQueueUrl": "QBO_CHANGES_QUEUE_URL",
}


class ConfigError(Exception):
    """The CLI cannot tell which deployment to act on."""


def settings_from_outputs(stack_name: str, outputs: Mapping[str, str]) -> dict[str, str]:
    missing = sorted(set(STACK_OUTPUT_SETTINGS) - set(outputs))
    if missing:
        raise ConfigError(
            f"stack {stack_name} has no output {', '.join(missing)} (deployed from another template?)"
        )
    return {setting: outputs[output] for output, setting in STACK_OUTPUT_SETTINGS.items()}


def stack_outputs(stack_name: str, client: CloudFormationClient | None = None) -> dict[str, str]:
    cloudformation = client or boto3.Session().client("cloudformation")
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def configure(stack_name: str | None, region: str | None) -> None:
    """Point this process's product code at the chosen deployment, before any of it reads its settings.

    The product reads its settings from the environment (one settings model, parsed once), so this is
    where an operator's choice becomes those variables.
    """
    if region:
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = region
    if stack_name:
        os.environ.update(settings_from_outputs(stack_name, stack_outputs(stack_name)))
