"""QBO adapters: the API client, Intuit OAuth, and ``qbo_client_for`` which wires them from Settings."""

from __future__ import annotations

from functools import lru_cache

from qbo_sync.adapters.aws import dynamodb_table, kms_client
from qbo_sync.adapters.crypto import KmsSealer
from qbo_sync.adapters.http import shared_session
from qbo_sync.adapters.qbo.client import QboClient
from qbo_sync.adapters.qbo.oauth import IntuitOAuth, load_intuit_app
from qbo_sync.adapters.store.connections import DynamoConnectionStore
from qbo_sync.adapters.store.rate_limit import DynamoRequestBudget
from qbo_sync.config import Settings
from qbo_sync.usecases.tokens import RealmTokens

# A request slot's lease must outlast the request it guards (see DynamoRequestBudget).
_LEASE_MARGIN_SECONDS = 5.0


def qbo_client_for(tenant_id: str, realm_id: str, settings: Settings) -> QboClient:
    """A client for ``realm_id`` on ``tenant_id``'s connection, limited by the realm's shared budget."""
    table = dynamodb_table(settings.require("app_table_name"))
    budget = DynamoRequestBudget(
        table,
        realm_id,
        settings.qbo_max_in_flight,
        settings.qbo_max_per_minute,
        window_seconds=settings.qbo_rate_window_seconds,
        lease_seconds=settings.qbo_request_timeout_seconds + _LEASE_MARGIN_SECONDS,
        max_wait_seconds=settings.qbo_budget_wait_seconds,
    )
    return QboClient(
        realm_id,
        settings.qbo_api_base_url,
        realm_tokens(tenant_id, settings),
        budget,
        shared_session(),
        minor_version=settings.qbo_minor_version,
        timeout_seconds=settings.qbo_request_timeout_seconds,
    )


@lru_cache(maxsize=64)
def realm_tokens(tenant_id: str, settings: Settings) -> RealmTokens:
    """One per tenant per process, so a warm Lambda reuses the decrypted token across invocations."""
    table = dynamodb_table(settings.require("app_table_name"))
    store = DynamoConnectionStore(table, KmsSealer(settings.require("kms_key_id"), kms_client()))
    app = load_intuit_app(settings)
    oauth = IntuitOAuth(
        app.client_id,
        app.client_secret,
        settings.intuit_authorize_url,
        settings.intuit_token_url,
        settings.intuit_revoke_url,
        shared_session(),
        settings.intuit_oauth_timeout_seconds,
    )
    return RealmTokens(tenant_id, store, oauth)
