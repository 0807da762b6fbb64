"""Access tokens for one tenant's QBO connection, refreshed single-flight across Lambdas.

``RealmTokens`` implements ``AccessTokenSource``:

1. A cached token (keyed by ``token_version``) is used while it has more than ``REFRESH_MARGIN`` to
   live; reading the connection item again (no KMS call) tells whether the cache is still current.
2. Otherwise one caller per realm refreshes: the refresh lease in the store admits a single Lambda
   to Intuit's token endpoint (Intuit rotates refresh tokens, so two concurrent refreshes would
   leave one of them holding a dead token). Everyone else polls the connection until its
   ``token_version`` moves and then uses the winner's token.
3. The winner stores the new pair with a compare-and-swap on ``token_version`` *before* it hands out
   the new access token, so the newest refresh token is always persisted first.
4. ``invalid_grant`` marks the connection ``needs_reconnect`` and raises ``NeedsReconnect``, which the
   pipelines turn into "park, don't lose".
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from pydantic import SecretStr

from qbo_sync.domain.connection import Connection, ConnectionStatus, TokenSet
from qbo_sync.observability import logger
from qbo_sync.ports.tokens import ConnectionStore, InvalidGrant, NeedsReconnect, OAuthPort, OAuthUnavailable

REFRESH_MARGIN = timedelta(minutes=5)
_jitter = random.Random()  # noqa: S311 - spreads polling; not a security use


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RealmTokens:
    def __init__(
        self,
        tenant_id: str,
        store: ConnectionStore,
        oauth: Callable[[], OAuthPort],
        clock: Callable[[], datetime] = _utc_now,
        *,
        lease_seconds: float = 15.0,
        wait_seconds: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``oauth`` is asked for the Intuit client at each refresh, so a rotated client secret is picked up
        without a cold start. ``lease_seconds`` must outlast one token call (the OAuth timeout) plus the
        store write."""
        self._tenant_id = tenant_id
        self._store = store
        self._oauth = oauth
        self._clock = clock
        self._lease_seconds = lease_seconds
        self._wait_seconds = wait_seconds
        self._sleep = sleep
        self._lock = threading.Lock()  # threads of one process share one refresh
        self._cached: tuple[int, TokenSet] | None = None

    def current(self) -> SecretStr:
        return self._usable(lambda tokens: True)

    def refreshed_after_rejection(self, rejected: SecretStr) -> SecretStr:
        rejected_value = rejected.get_secret_value()
        return self._usable(lambda tokens: tokens.access_token.get_secret_value() != rejected_value)

    def _usable(self, acceptable: Callable[[TokenSet], bool]) -> SecretStr:
        def good(tokens: TokenSet) -> bool:
            return tokens.access_valid_at(self._clock(), REFRESH_MARGIN) and acceptable(tokens)

        with self._lock:
            if self._cached is not None and good(self._cached[1]):
                return self._cached[1].access_token
            deadline = time.monotonic() + self._wait_seconds
            while True:
                _, tokens = self._load()
                if good(tokens):
                    return tokens.access_token
                owner = uuid.uuid4().hex
                if self._store.try_lease_refresh(self._tenant_id, owner, self._lease_seconds):
                    try:
                        refreshed = self._refresh_as_leader(good)
                    finally:
                        self._store.release_lease(self._tenant_id, owner)
                    if refreshed is not None:
                        return refreshed
                    continue
                if time.monotonic() > deadline:
                    raise OAuthUnavailable(
                        f"QBO token refresh for tenant {self._tenant_id} by another process did not finish "
                        f"within {self._wait_seconds:g} s"
                    )
                self._sleep(_jitter.uniform(0.05, 0.2))

    def _refresh_as_leader(self, good: Callable[[TokenSet], bool]) -> SecretStr | None:
        """Refresh and store; None when the stored connection moved on and the caller should re-read."""
        connection, tokens = self._load()  # a peer may have finished just before we got the lease
        if good(tokens):
            return tokens.access_token
        try:
            fresh = self._oauth().refresh(tokens.refresh_token)
        except InvalidGrant as exc:
            if self._replaced_meanwhile(connection):  # we lost a race, not the grant
                return None
            self._park(connection, str(exc))
        if not self._store.swap_tokens(self._tenant_id, connection.token_version, fresh):
            logger.warning(
                "qbo token swap lost; connection changed during refresh",
                extra={"tenant_id": self._tenant_id, "realm_id": connection.realm_id},
            )
            return None
        self._cached = (connection.token_version + 1, fresh)
        logger.info(
            "qbo token refreshed",
            extra={
                "tenant_id": self._tenant_id,
                "realm_id": connection.realm_id,
                "token_version": connection.token_version + 1,
            },
        )
        return fresh.access_token

    def _replaced_meanwhile(self, connection: Connection) -> bool:
        latest = self._store.get(self._tenant_id)
        return latest is not None and latest.token_version != connection.token_version

    def _park(self, connection: Connection, reason: str) -> NoReturn:
        self._store.mark_needs_reconnect(self._tenant_id, reason)
        logger.warning(
            "qbo connection needs reconnect",
            extra={"tenant_id": self._tenant_id, "realm_id": connection.realm_id, "reason": reason},
        )
        raise NeedsReconnect(self._tenant_id, connection.realm_id, reason)

    def _load(self) -> tuple[Connection, TokenSet]:
        """The stored connection and tokens; KMS is only asked when the version changed."""
        connection = self._store.get(self._tenant_id)
        if connection is None:
            raise NeedsReconnect(self._tenant_id, None, "not connected to QBO")
        _require_connected(connection)
        if self._cached is not None and self._cached[0] == connection.token_version:
            return connection, self._cached[1]
        loaded = self._store.get_tokens(self._tenant_id)
        if loaded is None:
            raise NeedsReconnect(self._tenant_id, connection.realm_id, "no QBO tokens stored")
        connection, tokens = loaded
        _require_connected(connection)
        self._cached = (connection.token_version, tokens)
        return connection, tokens


def _require_connected(connection: Connection) -> None:
    if connection.status != ConnectionStatus.CONNECTED:
        reason = connection.status_reason or f"connection is {connection.status.value}"
        raise NeedsReconnect(connection.tenant_id, connection.realm_id, reason)
