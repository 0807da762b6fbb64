"""The one settings model: every environment variable the product reads is declared here.

Each function parses it once per cold start (``get_settings``); nothing else reads ``os.environ``.
Plain pydantic does the parsing: each variable is the upper-case name of a field (pydantic-settings
would add about 60 ms to every cold start for nothing more than that).
Resource names and URLs come from template.yaml, so a function that does not use a resource
simply does not receive it, and asking for it raises ``MissingSetting``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class MissingSetting(RuntimeError):
    """A function asked for a resource that template.yaml does not give it."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    stage: str = "local"
    build_version: str = "dev"
    metrics_namespace: str = "OneDeskQboSync"
    tracing_enabled: bool = False

    app_table_name: str | None = None
    idempotency_table_name: str | None = None
    kms_key_id: str | None = None
    invoice_commands_queue_url: str | None = None
    invoice_deliveries_queue_url: str | None = None
    qbo_changes_queue_url: str | None = None
    # The consuming function's own DLQ: malformed messages go there at once, with the reason.
    dead_letter_queue_url: str | None = None
    # The queue the consuming function reads: a failed record's visibility timeout is shortened there,
    # so it comes back after its own retry delay rather than the queue's.
    source_queue_url: str | None = None
    # Message groups per tenant on invoice-commands.fifo: at most this many copies run at once.
    command_shards: int = Field(default=8, ge=1)

    intuit_environment: Literal["sandbox", "production"] = "sandbox"
    qbo_api_base_url: str = "https://sandbox-quickbooks.api.intuit.com"
    intuit_authorize_url: str = "https://appcenter.intuit.com/connect/oauth2"
    intuit_token_url: str = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"  # noqa: S105 - a URL
    intuit_revoke_url: str = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke"
    qbo_app_secret_name: str | None = None
    qbo_webhook_verifier_secret_name: str | None = None
    qbo_minor_version: int = 75
    # Per-realm budget shared by every concurrent Lambda (QBO allows 10 in flight, 500 a minute).
    # 8 in flight leaves QBO's own bookkeeping room to lag our release (docs/qbo-rate-limits.md).
    qbo_max_in_flight: int = Field(default=8, ge=1)
    qbo_max_per_minute: int = Field(default=500, ge=1)
    qbo_rate_window_seconds: float = Field(default=60.0, gt=0)
    # How long a call may wait for the realm's budget before it fails as throttled.
    qbo_budget_wait_seconds: float = Field(default=20.0, gt=0)
    qbo_request_timeout_seconds: float = 30.0
    intuit_oauth_timeout_seconds: float = 10.0

    onedesk_api_base_url: str = "https://app.onedesk.com/rest/public"
    onedesk_request_timeout_seconds: float = 15.0
    public_base_url: str | None = None

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            raise MissingSetting(f"{name.upper()} is not set for this function (see template.yaml)")
        return str(value)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    fields = Settings.model_fields
    return Settings.model_validate(
        {name.lower(): value for name, value in os.environ.items() if name.lower() in fields}
    )
