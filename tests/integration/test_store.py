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
from qbo_sync.adapters.store.requests import DynamoRequestLog
from qbo_sync.adapters.store.tenants import DynamoTenantStore
from qbo_sync.domain.audit import AuditRecord, Outcome
from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.onedesk import InvoiceStatus
from qbo_sync.domain.taxes import CatalogCode, CodeRate, OneDeskTax, SeenTaxes, TaxCatalog, TaxCombination
from qbo_sync.domain.tenant import TaxOverride, TaxSettings, Tenant, TenantSettings
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
    overrides = (TaxOverride(key="", code_id="5"), TaxOverride(key="gst@5% + pst@7%", code_id="6"))
    settings = TenantSettings(
        realm_id="r1", default_income_account_id="79", tax=TaxSettings(tax_code_id="2", overrides=overrides)
    )
    store.save_settings("t1", settings)
    assert store.get_settings("t1", "r1") == settings
    assert store.get_settings("t1", "r2") is None
    store.set_watermark("t1", "onedesk", NOW)
    assert store.get_watermark("t1", "onedesk") == NOW


def _seen(name: str, rate: str, number: str, at: datetime) -> SeenTaxes:
    combination = TaxCombination(taxes=(OneDeskTax(name=name, rate_percent=Decimal(rate)),))
    return SeenTaxes(combination=combination, first_invoice_number=number, first_seen_at=at)


def test_the_tax_catalog_keeps_codes_and_first_sightings_apart_from_the_settings(
    table_and_key: tuple[str, str],
) -> None:
    table_name, key_id = table_and_key
    store = DynamoTenantStore(dynamodb_table(table_name), KmsSealer(key_id, kms_client()))
    assert store.get_tax_catalog("t-tax", "r1") == TaxCatalog()

    # A copy may record a combination before any codes were stored (no item yet).
    store.record_taxes_seen("t-tax", "r1", _seen("HST", "13", "INV-1", NOW))
    store.record_taxes_seen("t-tax", "r1", _seen("HST", "13", "INV-2", NOW + timedelta(minutes=1)))
    gst_pst = CatalogCode(
        code_id="6",
        name="GST/PST BC",
        rates=(
            CodeRate(rate_id="1", name="GST", percent=Decimal(5)),
            CodeRate(rate_id="4", name="PST BC", percent=Decimal("7.000")),
        ),
    )
    store.save_tax_codes("t-tax", "r1", [gst_pst], NOW)
    store.record_taxes_seen("t-tax", "r1", _seen("GST", "5", "INV-3", NOW))
    store.save_tax_codes(
        "t-tax", "r1", [gst_pst], NOW + timedelta(minutes=5)
    )  # a refresh keeps the sightings

    catalog = store.get_tax_catalog("t-tax", "r1")
    assert catalog.codes == (gst_pst,)
    assert catalog.read_at == NOW + timedelta(minutes=5)
    assert sorted((s.combination.key, s.first_invoice_number) for s in catalog.seen) == [
        ("gst@5%", "INV-3"),
        ("hst@13%", "INV-1"),  # the first sighting stays
    ]
    assert store.get_tax_catalog("t-tax", "r2") == TaxCatalog()
    # Saving the admin's settings never touches the catalog, and the other way round.
    store.save_settings("t-tax", TenantSettings(realm_id="r1", tax=TaxSettings(tax_code_id="6")))
    assert store.get_tax_catalog("t-tax", "r1") == catalog


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


def test_an_invoices_audit_history_is_oldest_first_and_its_own(table_and_key: tuple[str, str]) -> None:
    log = DynamoAuditLog(dynamodb_table(table_and_key[0]))
    for minute, tenant, invoice in [
        (2, "t-h", "inv-1"),
        (0, "t-h", "inv-1"),
        (1, "t-h", "inv-2"),
        (3, "t-other", "inv-1"),
        (4, "t-h", None),
        (5, "t-h", "inv-1"),
    ]:
        log.record(
            AuditRecord(
                tenant_id=tenant,
                at=NOW + timedelta(minutes=minute),
                action="copy",
                outcome=Outcome.DONE,
                invoice_id=invoice,
                reason=f"#{minute}",
            )
        )
    assert [r.reason for r in log.invoice_history("t-h", "inv-1")] == ["#0", "#2", "#5"]
    assert [r.reason for r in log.invoice_history("t-h", "inv-2")] == ["#1"]
    assert log.invoice_history("t-h", "inv-3") == []


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
    table_and_key: tuple[str, str], monkeypatch_module: pytest.MonkeyPatch
) -> None:
    from onedesk_qbo.tenants import TenantExists, register_tenant  # noqa: PLC0415
    from qbo_sync import config, wiring  # noqa: PLC0415

    table_name, key_id = table_and_key
    monkeypatch_module.setenv("APP_TABLE_NAME", table_name)
    monkeypatch_module.setenv("KMS_KEY_ID", key_id)
    config.get_settings.cache_clear()
    wiring.tenant_store.cache_clear()
    wiring.sealer.cache_clear()

    registered = register_tenant("CLI Co", "od-cli-key-987", "t-cli")

    secret = registered.shared_secret.get_secret_value()
    stored = DynamoTenantStore(dynamodb_table(table_name), KmsSealer(key_id, kms_client())).get_tenant(
        "t-cli"
    )
    assert stored is not None and stored.name == "CLI Co"
    assert stored.onedesk_api_key.get_secret_value() == "od-cli-key-987"
    assert stored.shared_secret.get_secret_value() == secret
    raw = str(dynamodb_table(table_name).get_item(Key={"pk": "TENANT#t-cli", "sk": "TENANT"})["Item"])
    assert "od-cli-key-987" not in raw and secret not in raw
    with pytest.raises(TenantExists):
        register_tenant("Someone Else", "od-other-key", "t-cli")
    assert wiring.tenant_store().get_tenant("t-cli") == stored


def test_a_request_is_claimed_once_until_its_record_expires(table_and_key: tuple[str, str]) -> None:
    log = DynamoRequestLog(dynamodb_table(table_and_key[0]))
    until = NOW + timedelta(minutes=11)

    assert log.claim("t1", "r-1", NOW, until)
    assert not log.claim("t1", "r-1", NOW + timedelta(minutes=10), until)  # a replay
    assert log.claim("t2", "r-1", NOW, until)  # another tenant's request
    # TTL deletion lags: a record past its expiry no longer counts.
    assert log.claim("t1", "r-1", until + timedelta(seconds=1), until + timedelta(minutes=11))

    log.release("t1", "r-1")
    assert log.claim("t1", "r-1", NOW, until)
    item = dynamodb_table(table_and_key[0]).get_item(Key={"pk": "TENANT#t1", "sk": "REQUEST#r-1"})["Item"]
    assert item["expires_at"] == int(until.timestamp())  # the table's TTL attribute


def test_an_id_too_long_to_be_a_key_is_an_unknown_tenant(table_and_key: tuple[str, str]) -> None:
    table, key = table_and_key
    store = DynamoTenantStore(dynamodb_table(table), KmsSealer(key, kms_client()))
    assert store.get_tenant("t" * 5000) is None
    assert store.get_tenant("é" * 1100) is None  # 2,200 bytes


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
