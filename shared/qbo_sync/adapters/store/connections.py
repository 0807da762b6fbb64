"""Connections and their OAuth tokens in the application table (implements ``ConnectionStore``).

One item per tenant: ``pk=TENANT#t, sk=CONNECTION``, found by realm through ``gsi1``
(``gsi1pk=REALM#r``). The token pair is a single KMS ciphertext (``tokens``, Binary) sealed with the
encryption context ``{tenant_id, realm_id}``: nothing in the table reveals a token. ``token_version``
increases with every token write and is what a refresh compare-and-swaps on. A refresh lease item
(``sk=REFRESH_LEASE``) keeps concurrent Lambdas from calling Intuit's token endpoint together.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from qbo_sync.adapters.aws import concurrently
from qbo_sync.adapters.crypto import KmsSealer
from qbo_sync.adapters.store.dynamo import condition_failed
from qbo_sync.adapters.store.expiring import ExpiringCache
from qbo_sync.adapters.store.keys import GSI1, realm_gsi_pk, tenant_pk, usable_partition_key
from qbo_sync.domain.connection import Connection, ConnectionStatus, TokenSet

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

CONNECTION_SK = "CONNECTION"
REFRESH_LEASE_SK = "REFRESH_LEASE"
_LEASE_TTL_SECONDS = 3600  # the TTL sweeps lease items long after they stopped mattering
_CONNECTION_FIELDS = tuple(Connection.model_fields)


def _token_context(tenant_id: str, realm_id: str) -> dict[str, str]:
    return {"tenant_id": tenant_id, "realm_id": realm_id}


def _token_plaintext(tokens: TokenSet) -> bytes:
    # model_dump masks SecretStr values; the sealed copy needs the values themselves.
    values = tokens.model_dump(mode="json") | {
        "access_token": tokens.access_token.get_secret_value(),
        "refresh_token": tokens.refresh_token.get_secret_value(),
    }
    return json.dumps(values).encode()


def _connection_from(item: dict[str, Any]) -> Connection:
    return Connection.model_validate({name: item[name] for name in _CONNECTION_FIELDS if name in item})


def _attribute_names(names: list[str]) -> dict[str, str]:
    return {f"#{name}": name for name in names}


class DynamoConnectionStore:
    # Webhooks and payment changes name a realm per event: a warm Lambda keeps whose realm it is for a
    # minute. Only found tenants are kept (a realm connected just now must not look unknown); after a
    # company switch, a minute of events may go to the previous tenant, which has no link to them, and
    # the next reconcile brings them to the right one.
    REALM_CACHE_SECONDS = 60.0

    def __init__(self, table: Table, sealer: KmsSealer, clock: Callable[[], float] = time.monotonic) -> None:
        self._table = table
        self._sealer = sealer
        self._realm_tenants: ExpiringCache[str, str] = ExpiringCache(self.REALM_CACHE_SECONDS, clock)

    def _key(self, tenant_id: str, sk: str = CONNECTION_SK) -> dict[str, str]:
        return {"pk": tenant_pk(tenant_id), "sk": sk}

    def _item(self, tenant_id: str) -> dict[str, Any] | None:
        return self._table.get_item(Key=self._key(tenant_id), ConsistentRead=True).get("Item")

    def _seal(self, tenant_id: str, realm_id: str, tokens: TokenSet) -> bytes:
        return self._sealer.seal(_token_plaintext(tokens), _token_context(tenant_id, realm_id))

    def get(self, tenant_id: str) -> Connection | None:
        item = self._item(tenant_id)
        return _connection_from(item) if item else None

    def get_tokens(self, tenant_id: str) -> tuple[Connection, TokenSet] | None:
        item = self._item(tenant_id)
        if not item or "tokens" not in item:
            return None
        connection = _connection_from(item)
        context = _token_context(connection.tenant_id, connection.realm_id)
        return connection, TokenSet.model_validate_json(self._sealer.unseal(bytes(item["tokens"]), context))

    def tenants_for_realms(self, realm_ids: Collection[str]) -> dict[str, str]:
        """An index query per distinct realm, run concurrently: a webhook batch may name many."""
        realms = sorted(set(realm_ids))
        tenants = concurrently(self.tenant_for_realm, realms)
        return {realm: tenant for realm, tenant in zip(realms, tenants, strict=True) if tenant is not None}

    def tenant_for_realm(self, realm_id: str) -> str | None:
        """The connected tenant of the realm, else the last one that was. Through the Table's client,
        which may be shared by threads (the Table resource itself may not); boto3 still converts the
        values both ways."""
        if (cached := self._realm_tenants.get(realm_id)) is not None:
            return cached
        realm_key = realm_gsi_pk(realm_id)
        if not usable_partition_key(realm_key):
            return None
        response = self._table.meta.client.query(
            TableName=self._table.name,
            IndexName=GSI1,
            KeyConditionExpression="gsi1pk = :realm",
            FilterExpression="sk = :connection",
            ExpressionAttributeValues={":realm": realm_key, ":connection": CONNECTION_SK},
        )
        items: list[dict[str, Any]] = response.get("Items", [])
        connected = [i for i in items if i.get("status") == ConnectionStatus.CONNECTED]
        chosen = (connected or items)[:1]
        return self._realm_tenants.put(realm_id, str(chosen[0]["tenant_id"])) if chosen else None

    def save_connection(self, connection: Connection, tokens: TokenSet) -> Connection:
        values = connection.model_dump(mode="json", exclude={"token_version"})
        present = [name for name, value in values.items() if value is not None]
        absent = [name for name, value in values.items() if value is None]
        assignments = [f"#{name} = :{name}" for name in present]
        assignments += ["gsi1pk = :gsi1pk", "gsi1sk = :gsi1sk", "tokens = :tokens"]
        assignments.append("token_version = if_not_exists(token_version, :zero) + :one")
        expression = "SET " + ", ".join(assignments)
        if absent:
            expression += " REMOVE " + ", ".join(f"#{name}" for name in absent)
        response = self._table.update_item(
            Key=self._key(connection.tenant_id),
            UpdateExpression=expression,
            ExpressionAttributeNames=_attribute_names(present + absent),
            ExpressionAttributeValues={
                **{f":{name}": values[name] for name in present},
                ":gsi1pk": realm_gsi_pk(connection.realm_id),
                ":gsi1sk": tenant_pk(connection.tenant_id),
                ":tokens": self._seal(connection.tenant_id, connection.realm_id, tokens),
                ":zero": 0,
                ":one": 1,
            },
            ReturnValues="ALL_NEW",
        )
        return _connection_from(response["Attributes"])

    def swap_tokens(self, tenant_id: str, expected_version: int, tokens: TokenSet) -> bool:
        current = self.get(tenant_id)
        if current is None or current.token_version != expected_version:
            return False
        try:
            self._table.update_item(
                Key=self._key(tenant_id),
                UpdateExpression="SET tokens = :tokens, token_version = :next",
                # The realm and status checks stop a swap from landing on a reconnected or
                # disconnected connection between the read above and this write.
                ConditionExpression=(
                    "token_version = :expected AND realm_id = :realm AND #status = :connected"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":tokens": self._seal(tenant_id, current.realm_id, tokens),
                    ":next": expected_version + 1,
                    ":expected": expected_version,
                    ":realm": current.realm_id,
                    ":connected": ConnectionStatus.CONNECTED.value,
                },
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def _update_existing(self, tenant_id: str, expression: str, values: dict[str, Any]) -> None:
        self._table.update_item(
            Key=self._key(tenant_id),
            UpdateExpression=expression,
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#status": "status"} if "#status" in expression else {},
            ExpressionAttributeValues=values,
        )

    def mark_needs_reconnect(self, tenant_id: str, reason: str) -> None:
        self._update_existing(
            tenant_id,
            "SET #status = :status, status_reason = :reason",
            {":status": ConnectionStatus.NEEDS_RECONNECT.value, ":reason": reason},
        )

    def disconnect(self, tenant_id: str) -> None:
        # The version bump makes any refresh still in flight lose its compare-and-swap.
        self._update_existing(
            tenant_id,
            "SET #status = :status, token_version = token_version + :one REMOVE tokens, status_reason",
            {":status": ConnectionStatus.DISCONNECTED.value, ":one": 1},
        )

    def record_sync(self, tenant_id: str, at: datetime) -> None:
        self._update_existing(tenant_id, "SET last_sync_at = :at", {":at": at.isoformat()})

    def list_connected(self) -> list[Connection]:
        """A filtered scan: connection items are keyed by tenant and no index lists them all."""
        names = _attribute_names(list(_CONNECTION_FIELDS))
        scan_args: dict[str, Any] = {
            "FilterExpression": Attr("sk").eq(CONNECTION_SK)
            & Attr("status").eq(ConnectionStatus.CONNECTED.value),
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
        }
        connections: list[Connection] = []
        while True:
            page = self._table.scan(**scan_args)
            connections.extend(_connection_from(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return connections
            scan_args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def try_lease_refresh(self, tenant_id: str, owner: str, seconds: float) -> bool:
        now = time.time()
        try:
            self._table.put_item(
                Item={
                    **self._key(tenant_id, REFRESH_LEASE_SK),
                    "owner": owner,
                    "lease_until_ms": int((now + seconds) * 1000),
                    "expires_at": int(now + seconds) + _LEASE_TTL_SECONDS,
                },
                ConditionExpression="attribute_not_exists(pk) OR lease_until_ms < :now_ms",
                ExpressionAttributeValues={":now_ms": int(now * 1000)},
            )
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def release_lease(self, tenant_id: str, owner: str) -> None:
        try:
            self._table.delete_item(
                Key=self._key(tenant_id, REFRESH_LEASE_SK),
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": owner},
            )
        except ClientError as error:
            if not condition_failed(error):  # someone else's lease by now: leave it
                raise
