"""Tenants, their settings and watermarks in the application table.

A tenant's OneDesk API key and command-signing secret are sealed with KMS (encryption context =
tenant) before they reach DynamoDB; the table never holds them in plaintext.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError
from pydantic import SecretStr

from qbo_sync.adapters.store.expiring import ExpiringCache
from qbo_sync.adapters.store.keys import GSI1, tenant_pk, usable_partition_key
from qbo_sync.domain.taxes import CatalogCode, SeenTaxes, TaxCatalog
from qbo_sync.domain.tenant import Tenant, TenantSettings, TriggerPolicy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from qbo_sync.adapters.crypto import KmsSealer

_TENANTS_INDEX_PK = "TENANTS"


class DynamoTenantStore:
    """Tenants are read on every message but change rarely: a warm Lambda keeps each one for a minute
    (one DynamoDB read and two KMS decrypts saved per message); saving one here drops its copy."""

    CACHE_SECONDS = 60.0

    def __init__(self, table: Table, sealer: KmsSealer, clock: Callable[[], float] = time.monotonic) -> None:
        self._table = table
        self._sealer = sealer
        self._cache: ExpiringCache[str, Tenant] = ExpiringCache(self.CACHE_SECONDS, clock)

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        if (cached := self._cache.get(tenant_id)) is not None:
            return cached
        if not usable_partition_key(tenant_pk(tenant_id)):
            return None
        item = self._table.get_item(Key={"pk": tenant_pk(tenant_id), "sk": "TENANT"}).get("Item")
        if not item:
            return None
        return self._cache.put(tenant_id, self._tenant_from_item(item))

    def save_tenant(self, tenant: Tenant) -> None:
        self._cache.discard(tenant.tenant_id)
        context = {"tenant_id": tenant.tenant_id}
        self._table.put_item(
            Item={
                "pk": tenant_pk(tenant.tenant_id),
                "sk": "TENANT",
                "gsi1pk": _TENANTS_INDEX_PK,
                "gsi1sk": tenant.tenant_id,
                "tenant_id": tenant.tenant_id,
                "name": tenant.name,
                "sealed_onedesk_api_key": self._sealer.seal(
                    tenant.onedesk_api_key.get_secret_value().encode(), context
                ),
                "sealed_shared_secret": self._sealer.seal(
                    tenant.shared_secret.get_secret_value().encode(), context
                ),
                "trigger_policy": tenant.trigger_policy.model_dump(),
            }
        )

    def list_tenants(self) -> list[Tenant]:
        tenants: list[Tenant] = []
        kwargs: dict[str, Any] = {
            "IndexName": GSI1,
            "KeyConditionExpression": Key("gsi1pk").eq(_TENANTS_INDEX_PK),
        }
        while True:
            response = self._table.query(**kwargs)
            tenants.extend(self._tenant_from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return tenants
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get_settings(self, tenant_id: str, realm_id: str) -> TenantSettings | None:
        item = self._table.get_item(Key={"pk": tenant_pk(tenant_id), "sk": f"SETTINGS#{realm_id}"}).get(
            "Item"
        )
        return TenantSettings.model_validate(item["settings"]) if item else None

    def save_settings(self, tenant_id: str, settings: TenantSettings) -> None:
        self._table.put_item(
            Item={
                "pk": tenant_pk(tenant_id),
                "sk": f"SETTINGS#{settings.realm_id}",
                "settings": settings.model_dump(mode="json"),
            }
        )

    # The tax catalog is its own item, apart from the admin's settings: a copy refreshing the codes or
    # recording a new combination of taxes updates only its attributes, never the admin's choices.
    def get_tax_catalog(self, tenant_id: str, realm_id: str) -> TaxCatalog:
        item = self._table.get_item(Key=_tax_catalog_key(tenant_id, realm_id)).get("Item")
        if not item:
            return TaxCatalog()
        seen = item.get("seen")
        return TaxCatalog.model_validate(
            {
                "codes": item.get("codes", []),
                "read_at": item.get("read_at"),
                "seen": list(seen.values()) if isinstance(seen, dict) else [],
            }
        )

    def save_tax_codes(
        self, tenant_id: str, realm_id: str, codes: Sequence[CatalogCode], read_at: datetime
    ) -> None:
        self._table.update_item(
            Key=_tax_catalog_key(tenant_id, realm_id),
            UpdateExpression="SET codes = :codes, read_at = :at, seen = if_not_exists(seen, :none)",
            ExpressionAttributeValues={
                ":codes": [code.model_dump(mode="json") for code in codes],
                ":at": read_at.isoformat(),
                ":none": {},
            },
        )

    def record_taxes_seen(self, tenant_id: str, realm_id: str, seen: SeenTaxes) -> None:
        key = _tax_catalog_key(tenant_id, realm_id)
        # A new combination is rare: two writes (the map may not exist yet) are fine.
        self._table.update_item(
            Key=key,
            UpdateExpression="SET seen = if_not_exists(seen, :none)",
            ExpressionAttributeValues={":none": {}},
        )
        try:
            self._table.update_item(
                Key=key,
                UpdateExpression="SET seen.#combination = :seen",
                ConditionExpression="attribute_not_exists(seen.#combination)",
                ExpressionAttributeNames={"#combination": seen.combination.key},
                ExpressionAttributeValues={":seen": seen.model_dump(mode="json")},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise  # (else another copy recorded it first: its first sighting stays)

    def get_watermark(self, tenant_id: str, name: str) -> datetime | None:
        item = self._table.get_item(Key={"pk": tenant_pk(tenant_id), "sk": f"WATERMARK#{name}"}).get("Item")
        return datetime.fromisoformat(str(item["at"])) if item else None

    def set_watermark(self, tenant_id: str, name: str, at: datetime) -> None:
        self._table.put_item(
            Item={"pk": tenant_pk(tenant_id), "sk": f"WATERMARK#{name}", "at": at.isoformat()}
        )

    def _tenant_from_item(self, item: dict[str, Any]) -> Tenant:
        context = {"tenant_id": str(item["tenant_id"])}
        return Tenant(
            tenant_id=str(item["tenant_id"]),
            name=str(item["name"]),
            onedesk_api_key=SecretStr(
                self._sealer.unseal(bytes(item["sealed_onedesk_api_key"]), context).decode()
            ),
            shared_secret=SecretStr(
                self._sealer.unseal(bytes(item["sealed_shared_secret"]), context).decode()
            ),
            trigger_policy=TriggerPolicy.model_validate(item.get("trigger_policy", {})),
        )


def _tax_catalog_key(tenant_id: str, realm_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": f"TAXCODES#{realm_id}"}
