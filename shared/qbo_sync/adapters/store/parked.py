"""Work parked until the admin completes the settings or reconnects (issue [connect]: park, never fail).

One parked command per invoice and action: a newer command for the same invoice replaces the older,
since both ask for the same outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from qbo_sync.adapters.store.dynamo import condition_failed
from qbo_sync.adapters.store.keys import tenant_pk
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_dynamodb.type_defs import QueryOutputTableTypeDef

_PREFIX = "PARKED#"


class DynamoParkedWork:
    def __init__(self, table: Table) -> None:
        self._table = table

    def park(self, command: InvoiceCommand, reason: str) -> None:
        self._table.put_item(
            Item={
                "pk": tenant_pk(command.tenant_id),
                "sk": f"{_PREFIX}{command.invoice_id}#{command.action.value}",
                "command": command.model_dump_json(),
                "reason": reason,
                "parked_at": datetime.now(UTC).isoformat(),
            }
        )

    def _pages(self, tenant_id: str, **extra: Any) -> Iterator[QueryOutputTableTypeDef]:
        """Every page: a query stops at 1 MB, and parked commands carry whole invoice snapshots."""
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(tenant_pk(tenant_id)) & Key("sk").begins_with(_PREFIX),
            **extra,
        }
        while True:
            page = self._table.query(**kwargs)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def parked(self, tenant_id: str) -> list[InvoiceCommand]:
        return [
            InvoiceCommand.model_validate_json(str(item["command"]))
            for page in self._pages(tenant_id)
            for item in page.get("Items", [])
        ]

    def parked_command(self, tenant_id: str, invoice_id: str, action: InvoiceAction) -> InvoiceCommand | None:
        item = self._table.get_item(
            Key={"pk": tenant_pk(tenant_id), "sk": f"{_PREFIX}{invoice_id}#{action.value}"},
            ConsistentRead=True,
        ).get("Item")
        return InvoiceCommand.model_validate_json(str(item["command"])) if item else None

    def count_parked(self, tenant_id: str) -> int:
        return sum(int(page.get("Count", 0)) for page in self._pages(tenant_id, Select="COUNT"))

    def unpark(self, command: InvoiceCommand) -> None:
        try:
            self._table.delete_item(
                Key={
                    "pk": tenant_pk(command.tenant_id),
                    "sk": f"{_PREFIX}{command.invoice_id}#{command.action.value}",
                },
                # Only this very command: one parked again meanwhile (or a newer one) stays parked.
                ConditionExpression="#command = :command",
                ExpressionAttributeNames={"#command": "command"},
                ExpressionAttributeValues={":command": command.model_dump_json()},
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
