"""The composition root: builds each adapter once per process from the settings, lazily, so a
function pays only for what it uses (and a warm Lambda reuses clients and connections).

Adapters are imported inside their factories: a function's cold start then imports only the adapters it
uses (the webhook receiver never loads the QBO or OneDesk HTTP clients, for instance).
"""

# ruff: noqa: PLC0415 - the lazy imports above are the point of this module

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from qbo_sync.config import Settings, get_settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table

    from qbo_sync.adapters.crypto import KmsSealer
    from qbo_sync.adapters.onedesk.plans import CachedAccountPlans
    from qbo_sync.adapters.qbo.client import QboClient
    from qbo_sync.adapters.queues.sqs import (
        DeadLetters,
        InvoiceCommandQueue,
        InvoiceDeliveryQueue,
        QboChangeQueue,
        SqsFifoQueue,
        SqsVisibility,
    )
    from qbo_sync.adapters.store.audit import DynamoAuditLog
    from qbo_sync.adapters.store.connect import DynamoOAuthStates, DynamoPendingConnections
    from qbo_sync.adapters.store.connections import DynamoConnectionStore
    from qbo_sync.adapters.store.mappings import DynamoMappingStore
    from qbo_sync.adapters.store.parked import DynamoParkedWork
    from qbo_sync.adapters.store.requests import DynamoRequestLog
    from qbo_sync.adapters.store.tenants import DynamoTenantStore
    from qbo_sync.domain.tenant import Tenant
    from qbo_sync.ports.onedesk import OneDeskPort
    from qbo_sync.ports.qbo import QboPort
    from qbo_sync.ports.tokens import OAuthPort
    from qbo_sync.usecases.connect import ConnectPorts
    from qbo_sync.usecases.invoice_commands import CommandPorts
    from qbo_sync.usecases.payments import ChangePorts
    from qbo_sync.usecases.send_invoice import DeliveryPorts
    from qbo_sync.usecases.tokens import RealmTokens


def utc_now() -> datetime:
    return datetime.now(UTC)


def settings() -> Settings:
    return get_settings()


@lru_cache(maxsize=1)
def sealer() -> KmsSealer:
    from qbo_sync.adapters.aws import kms_client
    from qbo_sync.adapters.crypto import KmsSealer

    return KmsSealer(settings().require("kms_key_id"), kms_client())


def _table() -> Table:
    from qbo_sync.adapters.aws import dynamodb_table

    return dynamodb_table(settings().require("app_table_name"))


@lru_cache(maxsize=1)
def tenant_store() -> DynamoTenantStore:
    from qbo_sync.adapters.store.tenants import DynamoTenantStore

    return DynamoTenantStore(_table(), sealer())


@lru_cache(maxsize=1)
def connection_store() -> DynamoConnectionStore:
    from qbo_sync.adapters.store.connections import DynamoConnectionStore

    return DynamoConnectionStore(_table(), sealer())


@lru_cache(maxsize=1)
def mapping_store() -> DynamoMappingStore:
    from qbo_sync.adapters.store.mappings import DynamoMappingStore

    return DynamoMappingStore(_table())


@lru_cache(maxsize=1)
def audit_log() -> DynamoAuditLog:
    from qbo_sync.adapters.store.audit import DynamoAuditLog

    return DynamoAuditLog(_table())


@lru_cache(maxsize=1)
def parked_work() -> DynamoParkedWork:
    from qbo_sync.adapters.store.parked import DynamoParkedWork

    return DynamoParkedWork(_table())


@lru_cache(maxsize=1)
def request_log() -> DynamoRequestLog:
    from qbo_sync.adapters.store.requests import DynamoRequestLog

    return DynamoRequestLog(_table())


def _queue(setting: str) -> SqsFifoQueue:
    from qbo_sync.adapters.aws import sqs_client
    from qbo_sync.adapters.queues.sqs import SqsFifoQueue

    return SqsFifoQueue(sqs_client(), settings().require(setting))


@lru_cache(maxsize=1)
def invoice_command_queue() -> InvoiceCommandQueue:
    from qbo_sync.adapters.queues.sqs import InvoiceCommandQueue

    return InvoiceCommandQueue(_queue("invoice_commands_queue_url"), settings().command_shards)


@lru_cache(maxsize=1)
def delivery_queue() -> InvoiceDeliveryQueue:
    from qbo_sync.adapters.queues.sqs import InvoiceDeliveryQueue

    return InvoiceDeliveryQueue(_queue("invoice_deliveries_queue_url"))


@lru_cache(maxsize=1)
def qbo_change_queue() -> QboChangeQueue:
    from qbo_sync.adapters.queues.sqs import QboChangeQueue

    return QboChangeQueue(_queue("qbo_changes_queue_url"))


@lru_cache(maxsize=1)
def dead_letters() -> DeadLetters:
    from qbo_sync.adapters.queues.sqs import DeadLetters

    return DeadLetters(_queue("dead_letter_queue_url"))


@lru_cache(maxsize=1)
def source_queue_visibility() -> SqsVisibility:
    from qbo_sync.adapters.aws import sqs_client
    from qbo_sync.adapters.queues.sqs import SqsVisibility

    return SqsVisibility(sqs_client(), settings().require("source_queue_url"))


def onedesk_for(tenant: Tenant) -> OneDeskPort:
    from qbo_sync.adapters.http import shared_session
    from qbo_sync.adapters.onedesk import OneDeskClient

    config = settings()
    return OneDeskClient(
        base_url=config.onedesk_api_base_url,
        api_key=tenant.onedesk_api_key,
        session=shared_session(),
        timeout_seconds=config.onedesk_request_timeout_seconds,
    )


@lru_cache(maxsize=1)
def account_plans() -> CachedAccountPlans:
    from qbo_sync.adapters.onedesk.plans import CachedAccountPlans

    return CachedAccountPlans(onedesk_for)


def qbo_for(tenant_id: str, realm_id: str) -> QboPort:
    return qbo_client_for(tenant_id, realm_id, settings())


# A realm budget's lease must outlast the request it guards (see DynamoRequestBudget).
_LEASE_MARGIN_SECONDS = 5.0


def qbo_client_for(tenant_id: str, realm_id: str, config: Settings) -> QboClient:
    """A client for ``realm_id`` on ``tenant_id``'s connection, limited by the realm's shared budget."""
    from qbo_sync.adapters.aws import dynamodb_table
    from qbo_sync.adapters.http import shared_session
    from qbo_sync.adapters.qbo.client import QboClient
    from qbo_sync.adapters.store.rate_limit import DynamoRequestBudget

    budget = DynamoRequestBudget(
        dynamodb_table(config.require("app_table_name")),
        realm_id,
        config.qbo_max_in_flight,
        config.qbo_max_per_minute,
        window_seconds=config.qbo_rate_window_seconds,
        lease_seconds=config.qbo_request_timeout_seconds + _LEASE_MARGIN_SECONDS,
        max_wait_seconds=config.qbo_budget_wait_seconds,
    )
    return QboClient(
        realm_id,
        config.qbo_api_base_url,
        realm_tokens(tenant_id, config),
        budget,
        shared_session(),
        minor_version=config.qbo_minor_version,
        timeout_seconds=config.qbo_request_timeout_seconds,
    )


@lru_cache(maxsize=64)
def realm_tokens(tenant_id: str, config: Settings) -> RealmTokens:
    """One per tenant per process, so a warm Lambda reuses the decrypted token across invocations; the
    Intuit client is built at each refresh from the secret (cached five minutes), never pinned here."""
    from qbo_sync.adapters.aws import dynamodb_table, kms_client
    from qbo_sync.adapters.crypto import KmsSealer
    from qbo_sync.adapters.store.connections import DynamoConnectionStore
    from qbo_sync.usecases.tokens import RealmTokens

    table = dynamodb_table(config.require("app_table_name"))
    store = DynamoConnectionStore(table, KmsSealer(config.require("kms_key_id"), kms_client()))
    return RealmTokens(tenant_id, store, lambda: intuit_oauth_for(config))


@lru_cache(maxsize=1)
def oauth_states() -> DynamoOAuthStates:
    from qbo_sync.adapters.store.connect import DynamoOAuthStates

    return DynamoOAuthStates(_table())


@lru_cache(maxsize=1)
def pending_connections() -> DynamoPendingConnections:
    from qbo_sync.adapters.store.connect import DynamoPendingConnections

    return DynamoPendingConnections(_table(), sealer())


def intuit_oauth() -> OAuthPort:
    return intuit_oauth_for(settings())


def intuit_oauth_for(config: Settings) -> OAuthPort:
    """Not cached here: ``load_intuit_app`` caches the secret for 5 minutes, so a rotation is picked up."""
    from qbo_sync.adapters.http import shared_session
    from qbo_sync.adapters.qbo.oauth import IntuitOAuth, load_intuit_app

    app = load_intuit_app(config)
    return IntuitOAuth(
        app.client_id,
        app.client_secret,
        config.intuit_authorize_url,
        config.intuit_token_url,
        config.intuit_revoke_url,
        shared_session(),
        config.intuit_oauth_timeout_seconds,
    )


def command_ports() -> CommandPorts:
    from qbo_sync.usecases.invoice_commands import CommandPorts

    return CommandPorts(
        tenants=tenant_store(),
        connections=connection_store(),
        parked=parked_work(),
        mappings=mapping_store(),
        audit=audit_log(),
        deliveries=delivery_queue(),
        onedesk_for=onedesk_for,
        qbo_for=qbo_for,
        plan_of=account_plans().plan_of,
        clock=utc_now,
    )


def delivery_ports() -> DeliveryPorts:
    from qbo_sync.usecases.send_invoice import DeliveryPorts

    return DeliveryPorts(
        tenants=tenant_store(),
        connections=connection_store(),
        parked=parked_work(),
        audit=audit_log(),
        onedesk_for=onedesk_for,
        qbo_for=qbo_for,
        clock=utc_now,
    )


def change_ports() -> ChangePorts:
    from qbo_sync.usecases.payments import ChangePorts

    return ChangePorts(
        connections=connection_store(),
        tenants=tenant_store(),
        mappings=mapping_store(),
        audit=audit_log(),
        onedesk_for=onedesk_for,
        qbo_for=qbo_for,
        clock=utc_now,
    )


def connect_ports() -> ConnectPorts:
    from qbo_sync.usecases.connect import ConnectPorts

    return ConnectPorts(
        tenants=tenant_store(),
        connections=connection_store(),
        parked=parked_work(),
        mappings=mapping_store(),
        audit=audit_log(),
        commands=invoice_command_queue(),
        states=oauth_states(),
        pending=pending_connections(),
        oauth=intuit_oauth,
        onedesk_for=onedesk_for,
        qbo_for=qbo_for,
        clock=utc_now,
    )
