"""The connect flow's short-lived items in the application table (implements ``OAuthStates`` and
``PendingConnections``). Both carry a TTL (``expires_at``); since DynamoDB deletes expired items only
eventually, every read also checks the expiry itself, inside the conditional delete that consumes it.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from qbo_sync.adapters.store.dynamo import condition_failed
from qbo_sync.adapters.store.keys import tenant_pk
from qbo_sync.domain.connection import TokenSet
from qbo_sync.ports.connect import PendingConnection

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from qbo_sync.adapters.crypto import KmsSealer

_STATE_SK = "OAUTHSTATE"
_PENDING_SK = "PENDING_CONNECTION"


def _unexpired_delete(table: Table, key: dict[str, str], now: datetime) -> dict[str, Any] | None:
    """Delete ``key`` unless missing or expired: the deleted item, or None (replay, expiry, forgery)."""
    try:
        response = table.delete_item(
            Key=key,
            ConditionExpression="attribute_exists(pk) AND expires_at > :now",
            ExpressionAttributeValues={":now": int(now.timestamp())},
            ReturnValues="ALL_OLD",
        )
    except ClientError as error:
        if condition_failed(error):
            return None
        raise
    return response.get("Attributes")


class DynamoOAuthStates:
    def __init__(self, table: Table) -> None:
        self._table = table

    def put(self, state: str, tenant_id: str, expires_at: datetime) -> None:
        self._table.put_item(
            Item={
                "pk": f"OAUTHSTATE#{state}",
                "sk": _STATE_SK,
                "tenant_id": tenant_id,
                "expires_at": int(expires_at.timestamp()),
            },
            ConditionExpression="attribute_not_exists(pk)",
        )

    def consume(self, state: str, now: datetime) -> str | None:
        item = _unexpired_delete(self._table, {"pk": f"OAUTHSTATE#{state}", "sk": _STATE_SK}, now)
        return str(item["tenant_id"]) if item else None


def _pending_context(tenant_id: str, realm_id: str) -> dict[str, str]:
    # Its own purpose: a pending blob copied onto the connection item does not decrypt there.
    return {"tenant_id": tenant_id, "realm_id": realm_id, "purpose": "pending-connection"}


class DynamoPendingConnections:
    def __init__(self, table: Table, sealer: KmsSealer) -> None:
        self._table = table
        self._sealer = sealer

    def put(self, pending: PendingConnection, expires_at: datetime) -> None:
        tokens = pending.tokens
        plaintext = json.dumps(
            {
                "access_token": tokens.access_token.get_secret_value(),
                "refresh_token": tokens.refresh_token.get_secret_value(),
                "access_expires_at": tokens.access_expires_at.isoformat(),
                "refresh_expires_at": tokens.refresh_expires_at.isoformat()
                if tokens.refresh_expires_at
                else None,
            }
        ).encode()
        self._table.put_item(
            Item={
                "pk": tenant_pk(pending.tenant_id),
                "sk": _PENDING_SK,
                "tenant_id": pending.tenant_id,
                "realm_id": pending.realm_id,
                "tokens": self._sealer.seal(plaintext, _pending_context(pending.tenant_id, pending.realm_id)),
                "expires_at": int(expires_at.timestamp()),
            }
        )

    def take(self, tenant_id: str, now: datetime) -> PendingConnection | None:
        item = _unexpired_delete(self._table, {"pk": tenant_pk(tenant_id), "sk": _PENDING_SK}, now)
        if item is None:
            return None
        realm_id = str(item["realm_id"])
        plaintext = self._sealer.unseal(bytes(item["tokens"]), _pending_context(tenant_id, realm_id))
        return PendingConnection(
            tenant_id=tenant_id, realm_id=realm_id, tokens=TokenSet.model_validate_json(plaintext)
        )
