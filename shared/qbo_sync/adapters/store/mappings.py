"""Id mappings in the application table: customers, items and invoices, per tenant and realm."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr, ConditionBase, Key
from botocore.exceptions import ClientError

from qbo_sync.adapters.store.dynamo import condition_failed
from qbo_sync.adapters.store.keys import GSI1, tenant_realm_pk
from qbo_sync.domain.onedesk import InvoiceStatus
from qbo_sync.ports.store import InvoiceConflict, InvoiceLink, LinkState, QboGone, StaleLink

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

_BATCH_GET_LIMIT = 100
_CONFLICT = "CONFLICT#"


def _qbo_invoice_gsi_pk(realm_id: str, qbo_invoice_id: str) -> str:
    return f"REALM#{realm_id}#QBOINVOICE#{qbo_invoice_id}"


class DynamoMappingStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    # -- customers and items: plain links, last writer wins (both writers found the same QBO record)
    def customer_id(self, tenant_id: str, realm_id: str, organization_id: str) -> str | None:
        item = self._table.get_item(
            Key={"pk": tenant_realm_pk(tenant_id, realm_id), "sk": f"CUSTOMER#{organization_id}"}
        ).get("Item")
        return str(item["qbo_id"]) if item else None

    def link_customer(self, tenant_id: str, realm_id: str, organization_id: str, customer_id: str) -> None:
        self._table.put_item(
            Item={
                "pk": tenant_realm_pk(tenant_id, realm_id),
                "sk": f"CUSTOMER#{organization_id}",
                "qbo_id": customer_id,
            }
        )

    def item_ids(self, tenant_id: str, realm_id: str, names: Iterable[str]) -> dict[str, str]:
        pk = tenant_realm_pk(tenant_id, realm_id)
        wanted = list(dict.fromkeys(names))
        found: dict[str, str] = {}
        resource = self._table.meta.client
        for start in range(0, len(wanted), _BATCH_GET_LIMIT):
            keys: list[dict[str, Any]] = [
                {"pk": pk, "sk": f"ITEM#{n}"} for n in wanted[start : start + _BATCH_GET_LIMIT]
            ]
            request: dict[str, Any] = {self._table.name: {"Keys": keys}}
            while request:
                response = resource.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table.name, []):
                    # The resource's client deserialises values (boto3 injects the type transform).
                    found[str(item["sk"]).removeprefix("ITEM#")] = str(item["qbo_id"])
                request = dict(response.get("UnprocessedKeys") or {})
        return found

    def link_items(self, tenant_id: str, realm_id: str, item_ids: Mapping[str, str]) -> None:
        pk = tenant_realm_pk(tenant_id, realm_id)
        with self._table.batch_writer() as batch:
            for name, qbo_id in item_ids.items():
                batch.put_item(Item={"pk": pk, "sk": f"ITEM#{name}", "qbo_id": qbo_id})

    # -- invoices: pending -> done, guarded by conditional writes (invariant 1)
    def invoice_link(self, tenant_id: str, realm_id: str, invoice_id: str) -> InvoiceLink | None:
        item = self._table.get_item(
            Key={"pk": tenant_realm_pk(tenant_id, realm_id), "sk": f"INVOICE#{invoice_id}"},
            ConsistentRead=True,
        ).get("Item")
        return _link_from_item(item) if item else None

    def begin_create(self, link: InvoiceLink, replaces: InvoiceLink | None) -> None:
        condition: ConditionBase = (
            Attr("pk").not_exists()
            if replaces is None
            else Attr("generation").eq(replaces.generation) & Attr("state").eq(replaces.state.value)
        )
        try:
            self._table.put_item(Item=_item_from_link(link), ConditionExpression=condition)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StaleLink(f"invoice {link.invoice_id} link changed concurrently") from error
            raise

    def save_link(self, link: InvoiceLink) -> None:
        self._table.put_item(Item=_item_from_link(link))

    def link_for_qbo_invoice(self, realm_id: str, qbo_invoice_id: str) -> InvoiceLink | None:
        response = self._table.query(
            IndexName=GSI1,
            KeyConditionExpression=Key("gsi1pk").eq(_qbo_invoice_gsi_pk(realm_id, qbo_invoice_id)),
            Limit=1,
        )
        items = response.get("Items", [])
        return _link_from_item(items[0]) if items else None

    # -- payments: which invoices each payment touched, so a deleted or voided one can be undone
    def payment_invoices(self, tenant_id: str, realm_id: str, payment_id: str) -> set[str]:
        item = self._table.get_item(
            Key={"pk": tenant_realm_pk(tenant_id, realm_id), "sk": f"PAYMENT#{payment_id}"},
            ConsistentRead=True,
        ).get("Item")
        stored = item.get("invoice_ids") if item else None
        return {str(i) for i in stored} if isinstance(stored, set | list) else set()

    def remember_payment_invoices(
        self, tenant_id: str, realm_id: str, payment_id: str, invoice_ids: set[str]
    ) -> None:
        if invoice_ids:
            self._table.update_item(
                Key={"pk": tenant_realm_pk(tenant_id, realm_id), "sk": f"PAYMENT#{payment_id}"},
                UpdateExpression="ADD invoice_ids :ids",
                ExpressionAttributeValues={":ids": invoice_ids},
            )

    def remember_unpaid_status(self, link: InvoiceLink, status: InvoiceStatus) -> None:
        # A targeted update: the copy pipeline may be rewriting the rest of the link at the same time.
        self._table.update_item(
            Key=_link_key(link),
            UpdateExpression="SET unpaid_status = :status",
            ExpressionAttributeValues={":status": status.value},
        )

    # -- what happened in QBO: deleted or voided invoices, edits that conflict with OneDesk's
    def take_expected_echo(self, link: InvoiceLink) -> bool:
        expected = link.model_dump(mode="json")["echo_expected_at"]
        if expected is None:
            return False
        try:
            self._table.update_item(
                Key=_link_key(link),
                UpdateExpression="REMOVE echo_expected_at",
                ConditionExpression="echo_expected_at = :expected",
                ExpressionAttributeValues={":expected": expected},
            )
        except ClientError as error:
            if not condition_failed(error):
                raise
            return False
        return True

    def mark_qbo_invoice_gone(self, link: InvoiceLink, gone: QboGone) -> None:
        # Targeted and conditional: only while the link still points at that QBO invoice, and OneDesk is
        # told again by the next successful copy (its message now says the invoice is gone).
        try:
            self._table.update_item(
                Key=_link_key(link),
                UpdateExpression="SET qbo_gone = :gone REMOVE reported_hash",
                ConditionExpression="qbo_invoice_id = :id",
                ExpressionAttributeValues={":gone": gone.value, ":id": str(link.qbo_invoice_id)},
            )
        except ClientError as error:
            if not condition_failed(error):
                raise

    def save_conflict(self, conflict: InvoiceConflict) -> None:
        self._table.put_item(
            Item={
                "pk": tenant_realm_pk(conflict.tenant_id, conflict.realm_id),
                "sk": f"{_CONFLICT}{conflict.invoice_id}",
                **conflict.model_dump(mode="json", exclude_none=True),
            }
        )

    def conflict(self, tenant_id: str, realm_id: str, invoice_id: str) -> InvoiceConflict | None:
        item = self._table.get_item(
            Key={"pk": tenant_realm_pk(tenant_id, realm_id), "sk": f"{_CONFLICT}{invoice_id}"},
            ConsistentRead=True,
        ).get("Item")
        return _conflict_from_item(item) if item else None

    def conflicts(self, tenant_id: str, realm_id: str) -> list[InvoiceConflict]:
        found: list[InvoiceConflict] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(tenant_realm_pk(tenant_id, realm_id))
            & Key("sk").begins_with(_CONFLICT)
        }
        while True:
            page = self._table.query(**kwargs)
            found.extend(_conflict_from_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return sorted(found, key=lambda c: c.detected_at)
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def close_conflict(self, conflict: InvoiceConflict) -> None:
        self._table.delete_item(
            Key={
                "pk": tenant_realm_pk(conflict.tenant_id, conflict.realm_id),
                "sk": f"{_CONFLICT}{conflict.invoice_id}",
            }
        )


def _item_from_link(link: InvoiceLink) -> dict[str, Any]:
    item: dict[str, Any] = {
        **_link_key(link),
        **link.model_dump(mode="json", exclude_none=True),
    }
    if link.qbo_invoice_id and link.state is LinkState.DONE:
        item["gsi1pk"] = _qbo_invoice_gsi_pk(link.realm_id, link.qbo_invoice_id)
        item["gsi1sk"] = f"INVOICE#{link.invoice_id}"
    return item


def _link_from_item(item: Mapping[str, Any]) -> InvoiceLink:
    fields = {k: v for k, v in item.items() if k in InvoiceLink.model_fields}
    fields["generation"] = int(fields.get("generation", 0))
    return InvoiceLink.model_validate(fields)


def _conflict_from_item(item: Mapping[str, Any]) -> InvoiceConflict:
    return InvoiceConflict.model_validate(
        {k: v for k, v in item.items() if k in InvoiceConflict.model_fields}
    )


def _link_key(link: InvoiceLink) -> dict[str, str]:
    return {"pk": tenant_realm_pk(link.tenant_id, link.realm_id), "sk": f"INVOICE#{link.invoice_id}"}
