"""RealmTokens decisions with an in-memory store: refresh once, losers wait, invalid_grant parks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from qbo_sync.domain.connection import Connection, ConnectionStatus, TokenSet
from qbo_sync.ports.tokens import InvalidGrant, NeedsReconnect
from qbo_sync.usecases.tokens import RealmTokens

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def tokens(name: str, expires_in: timedelta) -> TokenSet:
    return TokenSet(
        access_token=SecretStr(f"access-{name}"),
        refresh_token=SecretStr(f"refresh-{name}"),
        access_expires_at=NOW + expires_in,
    )


class MemoryStore:
    def __init__(self, pair: TokenSet) -> None:
        self.connection = Connection(
            tenant_id="t1",
            realm_id="r1",
            status=ConnectionStatus.CONNECTED,
            connected_at=NOW,
            company_name="Co",
            token_version=1,
        )
        self.pair = pair
        self.lease_owner: str | None = None
        self.token_reads = 0

    def get(self, tenant_id: str) -> Connection | None:
        return self.connection

    def get_tokens(self, tenant_id: str) -> tuple[Connection, TokenSet] | None:
        self.token_reads += 1
        return self.connection, self.pair

    def swap_tokens(self, tenant_id: str, expected_version: int, pair: TokenSet) -> bool:
        if expected_version != self.connection.token_version:
            return False
        self.pair = pair
        self.connection = self.connection.model_copy(update={"token_version": expected_version + 1})
        return True

    def mark_needs_reconnect(self, tenant_id: str, reason: str) -> None:
        self.connection = self.connection.model_copy(
            update={"status": ConnectionStatus.NEEDS_RECONNECT, "status_reason": reason}
        )

    def try_lease_refresh(self, tenant_id: str, owner: str, seconds: float) -> bool:
        if self.lease_owner is not None:
            return False
        self.lease_owner = owner
        return True

    def release_lease(self, tenant_id: str, owner: str) -> None:
        if self.lease_owner == owner:
            self.lease_owner = None


class FakeOAuth:
    def __init__(self, *, fail: Exception | None = None) -> None:
        self.refreshed_with: list[str] = []
        self.fail = fail

    def refresh(self, refresh_token: SecretStr) -> TokenSet:
        self.refreshed_with.append(refresh_token.get_secret_value())
        if self.fail:
            raise self.fail
        return tokens(f"new{len(self.refreshed_with)}", timedelta(hours=1))


def realm_tokens(store: MemoryStore, oauth: FakeOAuth, **kwargs: object) -> RealmTokens:
    return RealmTokens("t1", store, lambda: oauth, clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def test_valid_token_is_used_and_cached() -> None:
    store, oauth = MemoryStore(tokens("a", timedelta(minutes=30))), FakeOAuth()
    source = realm_tokens(store, oauth)
    assert source.current().get_secret_value() == "access-a"
    assert source.current().get_secret_value() == "access-a"
    assert oauth.refreshed_with == []
    assert store.token_reads == 1


def test_token_close_to_expiry_is_refreshed_and_persisted_first() -> None:
    store, oauth = MemoryStore(tokens("a", timedelta(minutes=4))), FakeOAuth()
    token = realm_tokens(store, oauth).current()
    assert token.get_secret_value() == "access-new1"
    assert oauth.refreshed_with == ["refresh-a"]
    assert store.pair.refresh_token.get_secret_value() == "refresh-new1"
    assert store.connection.token_version == 2
    assert store.lease_owner is None


def test_loser_waits_for_the_leaders_token_without_calling_intuit() -> None:
    store, oauth = MemoryStore(tokens("a", timedelta(0))), FakeOAuth()
    store.lease_owner = "someone else"

    def peer_finishes(seconds: float) -> None:
        store.swap_tokens("t1", 1, tokens("peer", timedelta(hours=1)))
        store.lease_owner = None

    token = realm_tokens(store, oauth, sleep=peer_finishes).current()
    assert token.get_secret_value() == "access-peer"
    assert oauth.refreshed_with == []


def test_invalid_grant_parks_the_connection() -> None:
    store = MemoryStore(tokens("a", timedelta(0)))
    oauth = FakeOAuth(fail=InvalidGrant("Intuit OAuth HTTP 400: invalid_grant (Token invalid)", status=400))
    source = realm_tokens(store, oauth)
    with pytest.raises(NeedsReconnect) as raised:
        source.current()
    assert raised.value.reason == "Intuit OAuth HTTP 400: invalid_grant (Token invalid)"
    assert (raised.value.tenant_id, raised.value.realm_id) == ("t1", "r1")
    assert store.connection.status == ConnectionStatus.NEEDS_RECONNECT
    assert store.lease_owner is None
    with pytest.raises(NeedsReconnect):
        source.current()
    assert len(oauth.refreshed_with) == 1


def test_rejected_token_is_replaced_even_before_its_expiry() -> None:
    store, oauth = MemoryStore(tokens("a", timedelta(minutes=50))), FakeOAuth()
    source = realm_tokens(store, oauth)
    rejected = source.current()
    assert source.refreshed_after_rejection(rejected).get_secret_value() == "access-new1"
    assert oauth.refreshed_with == ["refresh-a"]


def test_rejection_of_an_old_token_uses_the_newer_stored_one() -> None:
    store, oauth = MemoryStore(tokens("a", timedelta(minutes=50))), FakeOAuth()
    source = realm_tokens(store, oauth)
    old = source.current()
    store.swap_tokens("t1", 1, tokens("peer", timedelta(hours=1)))
    assert source.refreshed_after_rejection(old).get_secret_value() == "access-peer"
    assert oauth.refreshed_with == []


def test_connection_already_needing_reconnect_raises_without_refreshing() -> None:
    store, oauth = MemoryStore(tokens("a", timedelta(0))), FakeOAuth()
    store.mark_needs_reconnect("t1", "user revoked access")
    with pytest.raises(NeedsReconnect, match="user revoked access"):
        realm_tokens(store, oauth).current()
    assert oauth.refreshed_with == []
