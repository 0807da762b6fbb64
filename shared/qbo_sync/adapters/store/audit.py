"""The audit log in the application table: newest first per tenant, kept for 400 days (TTL)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from boto3.dynamodb.conditions import Key

from qbo_sync.domain.audit import AuditRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

RETENTION = timedelta(days=400)


def _audit_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}#AUDIT"


class DynamoAuditLog:
    def __init__(self, table: Table) -> None:
        self._table = table

    def record(self, record: AuditRecord) -> None:
        self._table.put_item(
            Item={
                "pk": _audit_pk(record.tenant_id),
                "sk": f"{record.at.isoformat()}#{uuid.uuid4().hex[:8]}",
                "expires_at": int((record.at + RETENTION).timestamp()),
                "record": record.model_dump(mode="json", exclude_none=True),
            }
        )

    def recent(self, tenant_id: str, limit: int = 20) -> list[AuditRecord]:
        response = self._table.query(
            KeyConditionExpression=Key("pk").eq(_audit_pk(tenant_id)), ScanIndexForward=False, Limit=limit
        )
        return [AuditRecord.model_validate(item["record"]) for item in response.get("Items", [])]
