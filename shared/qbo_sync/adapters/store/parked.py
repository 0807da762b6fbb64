"""Work parked until the admin completes the settings or reconnects (issue [connect]: park, never fail).

One parked command per invoice and action: a newer command for the same invoice replaces the older,
since both ask for the same outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from boto3.dynamodb.conditions import Key

from qbo_sync.adapters.store.keys import tenant_pk
from qbo_sync.domain.commands import InvoiceCommand

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

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

    def parked(self, tenant_id: str) -> list[InvoiceCommand]:
        response = self._table.query(
            KeyConditionExpression=Key("pk").eq(tenant_pk(tenant_id)) & Key("sk").begins_with(_PREFIX)
        )
        return [
            InvoiceCommand.model_validate_json(str(item["command"])) for item in response.get("Items", [])
        ]

    def count_parked(self, tenant_id: str) -> int:
        response = self._table.query(
            KeyConditionExpression=Key("pk").eq(tenant_pk(tenant_id)) & Key("sk").begins_with(_PREFIX),
            Select="COUNT",
        )
        return int(response.get("Count", 0))

    def unpark(self, command: InvoiceCommand) -> None:
        self._table.delete_item(
            Key={
                "pk": tenant_pk(command.tenant_id),
                "sk": f"{_PREFIX}{command.invoice_id}#{command.action.value}",
            }
        )
