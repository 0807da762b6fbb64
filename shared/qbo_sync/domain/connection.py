"""A tenant's link to one QBO company, and the OAuth token pair that authorises it.

Tokens are ``SecretStr`` end to end: they print as ``**********`` in any repr, log line or exception.
``Connection`` carries no tokens at all; the store hands them out separately (``TokenSet``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, SecretStr


class TokenSet(BaseModel):
    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr
    access_expires_at: AwareDatetime
    refresh_expires_at: AwareDatetime | None = None

    def access_valid_at(self, moment: datetime, margin: timedelta) -> bool:
        """True when the access token is still good ``margin`` after ``moment``."""
        return self.access_expires_at - margin > moment


class ConnectionStatus(StrEnum):
    CONNECTED = "connected"
    NEEDS_RECONNECT = "needs_reconnect"
    DISCONNECTED = "disconnected"


class Connection(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    realm_id: str
    status: ConnectionStatus
    status_reason: str | None = None
    connected_at: AwareDatetime
    company_name: str
    country: str | None = None
    home_currency: str | None = None
    custom_txn_numbers: bool = False
    using_sales_tax: bool | None = None
    # US Automated Sales Tax (Preferences.TaxPrefs.PartnerTaxEnabled): QBO computes the tax itself.
    automated_sales_tax: bool = False
    # Bumped by every token write; single-flight refresh is a compare-and-swap on it.
    token_version: int = 0
    last_sync_at: AwareDatetime | None = None
