"""Ports around QBO access: where tokens come from, how much of a realm's request budget we may use,
where connections live, and Intuit's OAuth endpoints.
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from pydantic import SecretStr

from qbo_sync.domain.connection import Connection, TokenSet


class AccessTokenSource(Protocol):
    def current(self) -> SecretStr:
        """An access token that is not about to expire (refreshing it first if needed)."""
        ...

    def refreshed_after_rejection(self, rejected: SecretStr) -> SecretStr:
        """A token other than ``rejected``, which QBO just answered with 401."""
        ...


class RequestBudget(Protocol):
    def acquire(self) -> AbstractContextManager[None]:
        """Hold one of the realm's request slots for the duration of one HTTP request.

        Waits while the realm is at its limits; raises ``QboThrottled`` when it cannot get
        capacity within its wait limit.
        """
        ...


class NeedsReconnect(Exception):
    """The tenant must authorise the app again; park its work, don't lose it."""

    def __init__(self, tenant_id: str, realm_id: str | None, reason: str) -> None:
        self.tenant_id = tenant_id
        self.realm_id = realm_id
        self.reason = reason
        super().__init__(f"tenant {tenant_id} realm {realm_id} needs to reconnect to QBO: {reason}")


class OAuthError(Exception):
    """The token endpoint refused for a reason that retrying will not fix (e.g. invalid_client)."""

    def __init__(self, message: str, *, status: int | None = None, intuit_tid: str | None = None) -> None:
        self.status = status
        self.intuit_tid = intuit_tid
        super().__init__(message)


class InvalidGrant(OAuthError):
    """The refresh token (or code) is no longer valid: only the user re-authorising can fix it."""


class OAuthUnavailable(OAuthError):
    """Timeout, connection error or 5xx from Intuit's OAuth endpoints: retry later."""


class OAuthPort(Protocol):
    def authorization_url(
        self, state: str, redirect_uri: str, scope: str = "com.intuit.quickbooks.accounting"
    ) -> str: ...

    def exchange_code(self, code: str, redirect_uri: str) -> TokenSet: ...

    def refresh(self, refresh_token: SecretStr) -> TokenSet: ...

    def revoke(self, token: SecretStr) -> None: ...


class ConnectionStore(Protocol):
    def get(self, tenant_id: str) -> Connection | None: ...

    def get_tokens(self, tenant_id: str) -> tuple[Connection, TokenSet] | None:
        """The connection and its decrypted tokens (strongly consistent); None when it has no tokens."""
        ...

    def tenant_for_realm(self, realm_id: str) -> str | None: ...

    def tenants_for_realms(self, realm_ids: Collection[str]) -> dict[str, str]:
        """realm -> tenant for those of ``realm_ids`` that belong to a tenant (the others are absent)."""
        ...

    def save_connection(self, connection: Connection, tokens: TokenSet) -> Connection:
        """Create or replace the connection; returns it with its new ``token_version``."""
        ...

    def swap_tokens(self, tenant_id: str, expected_version: int, tokens: TokenSet) -> bool:
        """Store ``tokens`` only if the stored version is still ``expected_version``."""
        ...

    def mark_needs_reconnect(self, tenant_id: str, reason: str) -> None: ...

    def disconnect(self, tenant_id: str) -> None: ...

    def record_sync(self, tenant_id: str, at: datetime) -> None: ...

    def list_connected(self) -> list[Connection]: ...

    def try_lease_refresh(self, tenant_id: str, owner: str, seconds: float) -> bool:
        """Take the tenant's short refresh lease unless someone else holds an unexpired one."""
        ...

    def release_lease(self, tenant_id: str, owner: str) -> None: ...
