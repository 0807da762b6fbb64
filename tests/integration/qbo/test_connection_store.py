"""DynamoConnectionStore against moto: item layout, KMS sealing, versioning, the refresh lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import ClientError
from pydantic import SecretStr

from qbo_sync.adapters.aws import dynamodb_table
from qbo_sync.adapters.store.keys import realm_gsi_pk, tenant_pk
from qbo_sync.domain.connection import Connection, ConnectionStatus, TokenSet

from .conftest import CA_REALM, US_REALM, Stack

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def pair(name: str) -> TokenSet:
    return TokenSet(
        access_token=SecretStr(f"access-{name}-secret"),
        refresh_token=SecretStr(f"refresh-{name}-secret"),
        access_expires_at=NOW + timedelta(hours=1),
        refresh_expires_at=NOW + timedelta(days=100),
    )


def connection(tenant: str, realm: str = US_REALM, **changes: object) -> Connection:
    base = Connection(
        tenant_id=tenant,
        realm_id=realm,
        status=ConnectionStatus.CONNECTED,
        connected_at=NOW,
        company_name="Acme",
        country="US",
        home_currency="USD",
        custom_txn_numbers=True,
    )
    return base.model_copy(update=changes)


def test_item_layout_and_round_trip(stack: Stack) -> None:
    saved = stack.store.save_connection(connection("t1"), pair("a"))
    assert saved.token_version == 1
    item = dynamodb_table(stack.settings.require("app_table_name")).get_item(
        Key={"pk": tenant_pk("t1"), "sk": "CONNECTION"}
    )["Item"]
    assert (item["gsi1pk"], item["gsi1sk"]) == (realm_gsi_pk(US_REALM), tenant_pk("t1"))
    assert isinstance(item["tokens"].value, bytes)
    assert b"secret" not in item["tokens"].value
    assert "status_reason" not in item and "last_sync_at" not in item
    loaded = stack.store.get_tokens("t1")
    assert loaded is not None
    assert loaded[0] == saved
    assert loaded[1] == pair("a")
    assert stack.store.tenant_for_realm(US_REALM) == "t1"
    assert stack.store.tenant_for_realm(CA_REALM) is None


def test_ciphertext_is_bound_to_tenant_and_realm(stack: Stack) -> None:
    stack.store.save_connection(connection("t1"), pair("a"))
    table = dynamodb_table(stack.settings.require("app_table_name"))
    blob = table.get_item(Key={"pk": tenant_pk("t1"), "sk": "CONNECTION"})["Item"]["tokens"].value
    kms = boto3.client("kms")
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant_id": "t2", "realm_id": US_REALM})
    plain = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"tenant_id": "t1", "realm_id": US_REALM})
    assert b"access-a-secret" in plain["Plaintext"]


def test_swap_is_a_compare_and_swap_on_the_version(stack: Stack) -> None:
    stack.store.save_connection(connection("t1"), pair("a"))
    assert stack.store.swap_tokens("t1", 1, pair("b"))
    assert not stack.store.swap_tokens("t1", 1, pair("c"))  # a loser of the race
    loaded = stack.store.get_tokens("t1")
    assert loaded is not None
    assert (loaded[0].token_version, loaded[1]) == (2, pair("b"))


def test_reconnect_bumps_the_version_and_replaces_the_realm(stack: Stack) -> None:
    stack.store.save_connection(connection("t1"), pair("a"))
    stack.store.mark_needs_reconnect("t1", "invalid_grant")
    again = stack.store.save_connection(connection("t1", CA_REALM, company_name="Acme CA"), pair("b"))
    assert (again.token_version, again.realm_id, again.status, again.status_reason) == (
        2,
        CA_REALM,
        ConnectionStatus.CONNECTED,
        None,
    )
    assert stack.store.tenant_for_realm(CA_REALM) == "t1"
    assert stack.store.tenant_for_realm(US_REALM) is None


def test_needs_reconnect_disconnect_sync_and_listing(stack: Stack) -> None:
    stack.store.save_connection(connection("t1"), pair("a"))
    stack.store.save_connection(connection("t2", CA_REALM), pair("b"))
    stack.store.save_connection(connection("t3", "9130350000000099"), pair("c"))
    stack.store.mark_needs_reconnect("t2", "Intuit OAuth HTTP 400: invalid_grant")
    stack.store.disconnect("t3")
    stack.store.record_sync("t1", NOW)
    assert [c.tenant_id for c in stack.store.list_connected()] == ["t1"]
    first = stack.store.get("t1")
    assert first is not None and first.last_sync_at == NOW
    parked = stack.store.get("t2")
    assert parked is not None
    assert (parked.status, parked.status_reason) == (
        ConnectionStatus.NEEDS_RECONNECT,
        "Intuit OAuth HTTP 400: invalid_grant",
    )
    assert not stack.store.swap_tokens("t2", parked.token_version, pair("x"))  # parked: no swap
    gone = stack.store.get("t3")
    assert gone is not None and gone.status == ConnectionStatus.DISCONNECTED and gone.token_version == 2
    assert stack.store.get_tokens("t3") is None
    with pytest.raises(ClientError):
        stack.store.record_sync("nobody", NOW)


def test_refresh_lease_admits_one_owner_until_released_or_expired(stack: Stack) -> None:
    assert stack.store.try_lease_refresh("t1", "a", 30)
    assert not stack.store.try_lease_refresh("t1", "b", 30)
    stack.store.release_lease("t1", "b")  # not b's: stays
    assert not stack.store.try_lease_refresh("t1", "b", 30)
    stack.store.release_lease("t1", "a")
    assert stack.store.try_lease_refresh("t1", "b", -1)  # already expired lease
    assert stack.store.try_lease_refresh("t1", "c", 30)


def test_tenants_for_many_realms_in_one_call(stack: Stack) -> None:
    realms = [f"91300000{n:04d}" for n in range(25)]
    for n, realm in enumerate(realms[:20]):
        stack.store.save_connection(connection(f"t{n}", realm), pair(str(n)))
    stack.store.save_connection(
        connection("t-left", realms[0], status=ConnectionStatus.DISCONNECTED), pair("x")
    )

    found = stack.store.tenants_for_realms([*realms, *realms[:5], "x" * 3000])

    # The realm's connected tenant wins over one that left it; unknown and impossible realms are absent.
    assert found == {realm: f"t{n}" for n, realm in enumerate(realms[:20])}
    assert stack.store.tenant_for_realm("x" * 3000) is None  # no key that long can exist
