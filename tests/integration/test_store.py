"""The DynamoDB store adapters against moto, on tables provisioned from template.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr

from local.aws import LocalAws
from qbo_sync.adapters.aws import dynamodb_table, kms_client
from qbo_sync.adapters.crypto import KmsSealer
from qbo_sync.adapters.store.audit import DynamoAuditLog
from qbo_sync.adapters.store.mappings import DynamoMappingStore
from qbo_sync.adapters.store.parked import DynamoParkedWork
from qbo_sync.adapters.store.tenants import DynamoTenantStore
from qbo_sync.domain.audit import AuditRecord, Outcome
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.onedesk import InvoiceStatus
from qbo_sync.domain.tenant import TaxSettings, Tenant, TenantSettings
from qbo_sync.ports.store import InvoiceConflict, InvoiceLink, LinkState, QboGone, StaleLink

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def table_and_key(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[tuple[str, str]]:
    with LocalAws() as aws:
        provisioned = aws.provision(TEMPLATE, {"Stage": "local"})
        for name, value in aws.environment().items():
            monkeypatch_module.setenv(name, value)
        dynamodb_table.cache_clear()
        kms_client.cache_clear()
        yield provisioned.ref("AppTable"), provisioned.ref("DataKey")
        dynamodb_table.cache_clear()
        kms_client.cache_clear()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def _link(**changes: object) -> InvoiceLink:
    base = InvoiceLink(
        tenant_id="t1",
        realm_id="r1",
        invoice_id="inv-1",
        invoice_number="INV-1",
        state=LinkState.PENDING,
        create_request_id="rid-0",
        customer_id="c1",
    )
    return base.model_copy(update=changes)


def test_item_links_round_trip_exact_names_in_batches(table_and_key: tuple[str, str]) -> None:
    store = DynamoMappingStore(dynamodb_table(table_and_key[0]))
    names = {f"Service ’{i}' Zürich": str(i) for i in range(130)}  # more than one BatchGetItem page
    store.link_items("t1", "r1", names)
    assert store.item_ids("t1", "r1", [*names, "missing"]) == names
    assert store.item_ids("t1", "other-realm", names) == {}


def test_customer_links_are_per_tenant_and_realm(table_and_key: tuple[str, str]) -> None:
    store = DynamoMappingStore(dynamodb_table(table_and_key[0]))
    store.link_customer("t1", "r1", "org-1", "58")
    assert store.customer_id("t1", "r1", "org-1") == "58"
    assert store.customer_id("t1", "r2", "org-1") is None
    assert store.customer_id("t2", "r1", "org-1") is None


def test_invoice_link_pending_then_done_and_found_by_qbo_id(table_and_key: tuple[str, str]) -> None:
    store = DynamoMappingStore(dynamodb_table(table_and_key[0]))
    pending = _link()
    store.begin_create(pending, replaces=None)
    with pytest.raises(StaleLink):
        store.begin_create(pending, replaces=None)  # a second creator loses
    done = pending.model_copy(update={"state": LinkState.DONE, "qbo_invoice_id": "130", "sync_token": "0"})
    store.save_link(done)
    assert store.invoice_link("t1", "r1", "inv-1") == done
    assert store.link_for_qbo_invoice("r1", "130") == done
    recreated = done.model_copy(update={"state": LinkState.PENDING, "generation": 1})
    store.begin_create(recreated, replaces=done)
    with pytest.raises(StaleLink):
        store.begin_create(recreated, replaces=done)  # done is no longer current


def test_payment_invoices_are_remembered(table_and_key: tuple[str, str]) -> None:
    store = DynamoMappingStore(dynamodb_table(table_and_key[0]))
    assert store.payment_invoices("t1", "r1", "p9") == set()
    store.remember_payment_invoices("t1", "r1", "p9", {"130", "131"})
    store.remember_payment_invoices("t1", "r1", "p9", {"132"})  # a union, never a replacement
    assert store.payment_invoices("t1", "r1", "p9") == {"130", "131", "132"}


def test_unpaid_status_is_set_without_touching_the_rest_of_the_link(table_and_key: tuple[str, str]) -> None:
    store = DynamoMappingStore(dynamodb_table(table_and_key[0]))
    link = _link(invoice_id="inv-unpaid", state=LinkState.DONE, qbo_invoice_id="140", sync_token="3")
    store.save_link(link)
    store.remember_unpaid_status(link, InvoiceStatus.SENT)
    assert store.invoice_link("t1", "r1", "inv-unpaid") == link.model_copy(
        update={"unpaid_status": InvoiceStatus.SENT}
    )


def test_tenant_secrets_are_sealed_in_the_table(table_and_key: tuple[str, str]) -> None:
    table_name, key_id = table_and_key
    table = dynamodb_table(table_name)
    store = DynamoTenantStore(table, KmsSealer(key_id, kms_client()))
    tenant = Tenant(
        tenant_id="t-sealed",
        name="Sealed",
        onedesk_api_key=SecretStr("od-key-123456"),
        shared_secret=SecretStr("shared-secret-654321"),
    )
    store.save_tenant(tenant)
    assert store.get_tenant("t-sealed") == tenant
    assert "t-sealed" in [t.tenant_id for t in store.list_tenants()]
    raw = str(table.scan()["Items"])
    assert "od-key-123456" not in raw
    assert "shared-secret-654321" not in raw


def test_settings_and_watermarks(table_and_key: tuple[str, str]) -> None:
    table_name, key_id = table_and_key
    store = DynamoTenantStore(dynamodb_table(table_name), KmsSealer(key_id, kms_client()))
    settings = TenantSettings(realm_id="r1", default_income_account_id="79", tax=TaxSettings(tax_code_id="2"))
    store.save_settings("t1", settings)
    assert store.get_settings("t1", "r1") == settings
    assert store.get_settings("t1", "r2") is None
    store.set_watermark("t1", "onedesk", NOW)
    assert store.get_watermark("t1", "onedesk") == NOW


def test_audit_log_is_newest_first(table_and_key: tuple[str, str]) -> None:
    log = DynamoAuditLog(dynamodb_table(table_and_key[0]))
    for minute in range(3):
        log.record(
            AuditRecord(
                tenant_id="t-audit",
                at=NOW + timedelta(minutes=minute),
                action="copy",
                outcome=Outcome.DONE,
                reason=f"#{minute}",
            )
        )
    assert [r.reason for r in log.recent("t-audit", limit=2)] == ["#2", "#1"]


def test_parked_work_keeps_one_command_per_invoice_and_action(table_and_key: tuple[str, str]) -> None:
    parked = DynamoParkedWork(dynamodb_table(table_and_key[0]))
    command = InvoiceCommand(
        tenant_id="t-park",
        invoice_id="inv-7",
        action=InvoiceAction.COPY,
        request_id="r1",
        requested_at=NOW,
        source="api",
    )
    parked.park(command, "not connected")
    parked.park(command.model_copy(update={"request_id": "r2"}), "not connected")
    assert parked.count_parked("t-park") == 1
    assert [c.request_id for c in parked.parked("t-park")] == ["r2"]
    parked.unpark(parked.parked("t-park")[0])
    assert parked.count_parked("t-park") == 0


def test_operator_cli_registers_a_tenant_with_sealed_secrets(
    table_and_key: tuple[str, str], monkeypatch_module: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from local import operator  # noqa: PLC0415
    from qbo_sync import config, wiring  # noqa: PLC0415

    table_name, key_id = table_and_key
    monkeypatch_module.setenv("APP_TABLE_NAME", table_name)
    monkeypatch_module.setenv("KMS_KEY_ID", key_id)
    config.get_settings.cache_clear()
    wiring.tenant_store.cache_clear()
    wiring.sealer.cache_clear()

    operator.main(
        ["register-tenant", "--name", "CLI Co", "--onedesk-api-key", "od-cli-key-987", "--tenant-id", "t-cli"]
    )

    secret = capsys.readouterr().out.rsplit(": ", 1)[1].strip()
    stored = DynamoTenantStore(dynamodb_table(table_name), KmsSealer(key_id, kms_client())).get_tenant(
        "t-cli"
    )
    assert stored is not None and stored.name == "CLI Co"
    assert stored.onedesk_api_key.get_secret_value() == "od-cli-key-987"
    assert stored.shared_secret.get_secret_value() == secret


def test_a_link_keeps_what_qbo_looked_like_and_a_gone_mark_is_targeted(
    table_and_key: tuple[str, str],
) -> None:
    store = DynamoMappingStore(dynamodb_table(table_and_key[0]))
    done = _link(
        invoice_id="inv-gone",
        state=LinkState.DONE,
        qbo_invoice_id="130",
        sync_token="2",
        content_hash="h1",
        reported_hash="h1",
        qbo_fingerprint="f" * 64,
        qbo_total=Decimal("1234.50"),
        conflict_since=NOW,
    )
    store.save_link(done)
    assert store.invoice_link("t1", "r1", "inv-gone") == done

    store.mark_qbo_invoice_gone(done, QboGone.VOIDED)

    assert store.invoice_link("t1", "r1", "inv-gone") == done.model_copy(
        update={"qbo_gone": QboGone.VOIDED, "reported_hash": None}
    )
    # A late event about the QBO invoice this link pointed at before changes nothing.
    relinked = done.model_copy(update={"qbo_invoice_id": "131", "qbo_gone": None, "generation": 1})
    store.save_link(relinked)
    store.mark_qbo_invoice_gone(done, QboGone.DELETED)
    assert store.invoice_link("t1", "r1", "inv-gone") == relinked


def test_conflicts_are_listed_per_tenant_and_realm_and_closed(table_and_key: tuple[str, str]) -> None:
    store = DynamoMappingStore(dynamodb_table(table_and_key[0]))
    conflicts = [
        InvoiceConflict(
            tenant_id="t-conflicts",
            realm_id=realm,
            invoice_id=invoice_id,
            invoice_number=f"INV-{invoice_id}",
            qbo_invoice_id="77",
            detected_at=NOW + timedelta(minutes=minutes),
            qbo_sync_token="3",
            qbo_fingerprint="a" * 64,
            qbo_total=Decimal("200.00"),
            onedesk_total=Decimal("240.00"),
            onedesk_content_hash="b" * 64,
            differences="lines, total (QuickBooks Online 200.00, OneDesk 240.00)",
        )
        for realm, invoice_id, minutes in (("r1", "i2", 2), ("r1", "i1", 1), ("r2", "i3", 0))
    ]
    for conflict in conflicts:
        store.save_conflict(conflict)

    assert store.conflicts("t-conflicts", "r1") == [conflicts[1], conflicts[0]]  # oldest first
    assert store.conflict("t-conflicts", "r2", "i3") == conflicts[2]
    store.close_conflict(conflicts[1])
    assert store.conflicts("t-conflicts", "r1") == [conflicts[0]]
    assert store.conflict("t-conflicts", "r1", "i1") is None


def test_one_parked_command_is_read_by_invoice_and_action(table_and_key: tuple[str, str]) -> None:
    parked = DynamoParkedWork(dynamodb_table(table_and_key[0]))
    send = InvoiceCommand(
        tenant_id="t-parked-one",
        invoice_id="inv-9",
        action=InvoiceAction.SEND,
        request_id="r-9",
        requested_at=NOW,
        source="api",
    )
    parked.park(send, "not connected")

    assert parked.parked_command("t-parked-one", "inv-9", InvoiceAction.SEND) == send
    assert parked.parked_command("t-parked-one", "inv-9", InvoiceAction.COPY) is None
