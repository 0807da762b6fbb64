"""The audit log in the application table: newest first per tenant, kept for 400 days (TTL).

A record about an invoice is also indexed by tenant and invoice on ``gsi1`` (same sort key, so oldest
first), which is how an operator reads one invoice's decision history without a scan; the index costs
one more write per record, not another request.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key

from qbo_sync.adapters.store.keys import GSI1, usable_partition_key
from qbo_sync.domain.audit import AuditRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

RETENTION = timedelta(days=400)


def _audit_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}#AUDIT"


def _invoice_audit_gsi_pk(tenant_id: str, invoice_id: str) -> str:
    return f"TENANT#{tenant_id}#INVOICE#{invoice_id}#AUDIT"


class DynamoAuditLog:
    def __init__(self, table: Table) -> None:
        self._table = table

    def record(self, record: AuditRecord) -> None:
        sort_key = f"{record.at.isoformat()}#{uuid.uuid4().hex[:8]}"
        item: dict[str, Any] = {
            "pk": _audit_pk(record.tenant_id),
            "sk": sort_key,
            "expires_at": int((record.at + RETENTION).timestamp()),
            "record": record.model_dump(mode="json", exclude_none=True),
        }
        index_key = _invoice_audit_gsi_pk(record.tenant_id, record.invoice_id) if record.invoice_id else None
        if index_key is not None and usable_partition_key(index_key):  # never fail the record for its index
            item |= {"gsi1pk": index_key, "gsi1sk": sort_key}
        self._table.put_item(Item=item)

    def recent(self, tenant_id: str, limit: int = 20) -> list[AuditRecord]:
        response = self._table.query(
            KeyConditionExpression=Key("pk").eq(_audit_pk(tenant_id)), ScanIndexForward=False, Limit=limit
        )
        return [AuditRecord.model_validate(item["record"]) for item in response.get("Items", [])]

    def invoice_history(self, tenant_id: str, invoice_id: str) -> list[AuditRecord]:
        """Every decision about one invoice, oldest first (all pages)."""
        records: list[AuditRecord] = []
        kwargs: dict[str, Any] = {
            "IndexName": GSI1,
            "KeyConditionExpression": Key("gsi1pk").eq(_invoice_audit_gsi_pk(tenant_id, invoice_id)),
        }
        while True:
            response = self._table.query(**kwargs)
            records.extend(AuditRecord.model_validate(item["record"]) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return records
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
