"""What the admin's connect flow keeps between two browser requests: the OAuth ``state`` (CSRF for the
Intuit round trip) and a connection to a different QBO company waiting for the admin's confirmation.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from qbo_sync.domain.connection import TokenSet


class OAuthStates(Protocol):
    def put(self, state: str, tenant_id: str, expires_at: datetime) -> None: ...

    def consume(self, state: str, now: datetime) -> str | None:
        """The tenant the state was issued for, exactly once and only before it expires; else None."""
        ...


class PendingConnection(BaseModel):
    """Tokens for another QBO company than the tenant's current one, until the admin confirms."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    realm_id: str
    tokens: TokenSet


class PendingConnections(Protocol):
    def put(self, pending: PendingConnection, expires_at: datetime) -> None:
        """Keep ``pending`` (tokens sealed) until ``expires_at``; replaces an earlier one of the tenant."""
        ...

    def take(self, tenant_id: str, now: datetime) -> PendingConnection | None:
        """Remove and return the tenant's unexpired pending connection (once: a second take gets None)."""
        ...
