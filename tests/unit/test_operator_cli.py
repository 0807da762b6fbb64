"""The operator CLI's pure parts: pacing, the backfill's plan and cursor, message summaries, status rows,
formatting and the stack-output mapping. Its AWS side runs in tests/e2e/test_operator_cli.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from onedesk_qbo.audit import AUDIT_COLUMNS
from onedesk_qbo.backfill import (
    BACKFILL_POLICY,
    Pacer,
    cursor_name,
    estimated_requests,
    parse_since,
    plan_backfill,
    requests_per_second,
    run_backfill,
)
from onedesk_qbo.config import ConfigError, settings_from_outputs
from onedesk_qbo.console import when
from onedesk_qbo.queues import QUEUES, DeadLetter, summarize
from onedesk_qbo.replay import replay
from onedesk_qbo.status import TENANT_COLUMNS, tenant_status
from qbo_sync.config import Settings
from qbo_sync.domain.audit import AuditRecord, Outcome
from qbo_sync.domain.commands import (
    InvoiceAction,
    InvoiceCommand,
    QboChange,
    command_deduplication_id,
)
from qbo_sync.domain.connection import Connection, ConnectionStatus
from qbo_sync.domain.onedesk import AccountProfile, InvoiceStatus, Plan, QboReference
from qbo_sync.domain.tenant import TriggerPolicy
from qbo_sync.ports.onedesk import OneDeskAuthError
from qbo_sync.ports.store import InvoiceConflict
from qbo_sync.usecases.ingress import command_for
from tests.unit.builders import AT, TENANT, make_invoice, tenant
from tests.unit.fakes import (
    FakeCommandQueue,
    FakeConnectionStore,
    FakeMappingStore,
    FakeOneDesk,
    FakeParkedWork,
    FakeTenantStore,
)

NOW = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


class VirtualTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


# ---------------------------------------------------------------------------------------------- pacing


def test_pacer_lets_a_first_burst_through_without_waiting() -> None:
    time = VirtualTime()
    pacer = Pacer(rate=2.0, burst=40, clock=time.clock, sleep=time.sleep)
    pacer.take(40)
    assert time.sleeps == []


def test_pacer_never_exceeds_its_rate_after_the_burst() -> None:
    time = VirtualTime()
    pacer = Pacer(rate=4.0, burst=40, clock=time.clock, sleep=time.sleep)
    for _ in range(50):
        pacer.take(37)
    # 50 x 37 tokens, of which the first 40 were in the bucket: the rest at 4 a second.
    assert time.now == pytest.approx((50 * 37 - 40) / 4.0)


def test_pacer_refills_while_the_caller_is_busy() -> None:
    time = VirtualTime()
    pacer = Pacer(rate=1.0, burst=10, clock=time.clock, sleep=time.sleep)
    pacer.take(10)
    time.now += 6  # enqueuing took 6 s: 6 tokens came back meanwhile
    pacer.take(10)
    assert time.sleeps == [pytest.approx(4.0)]


def test_pacer_takes_more_than_its_burst_as_a_debt() -> None:
    time = VirtualTime()
    pacer = Pacer(rate=1.0, burst=10, clock=time.clock, sleep=time.sleep)
    pacer.take(30)  # a full bucket is enough to start; the 20 beyond it delay what follows
    assert time.now == 0
    pacer.take(1)
    assert time.now == pytest.approx(21.0)


def test_the_backfill_uses_its_share_of_the_realms_budget() -> None:
    settings = Settings(qbo_max_per_minute=500, qbo_rate_window_seconds=60)
    assert requests_per_second(settings, 0.5) == pytest.approx(500 / 60 / 2)
    compressed = Settings(qbo_max_per_minute=500, qbo_rate_window_seconds=15)
    assert requests_per_second(compressed, 1.0) == pytest.approx(500 / 15)


def test_an_invoice_already_copied_is_assumed_to_cost_one_request() -> None:
    reference = QboReference(realm_id="9130", qbo_invoice_id="55", qbo_doc_number=None, copied_at=AT)
    assert estimated_requests(make_invoice(), 4) == 4
    assert estimated_requests(make_invoice().model_copy(update={"qbo_reference": reference}), 4) == 1


# ---------------------------------------------------------------------------------------------- backfill


def _invoices() -> list:
    return [
        make_invoice(invoice_id="open-2", modified_at=SINCE + timedelta(days=2)),
        make_invoice(invoice_id="draft", status=InvoiceStatus.DRAFT, modified_at=SINCE + timedelta(days=3)),
        make_invoice(invoice_id="sent", status=InvoiceStatus.SENT, modified_at=SINCE + timedelta(days=4)),
        make_invoice(invoice_id="open-1", modified_at=SINCE + timedelta(days=1)),
        make_invoice(invoice_id="before", modified_at=SINCE - timedelta(days=1)),
    ]


def test_backfill_plans_copies_of_open_invoices_only_oldest_first() -> None:
    plan = plan_backfill(TENANT, FakeOneDesk(*_invoices()), FakeTenantStore(), SINCE, NOW)

    assert [p.invoice.id for p in plan.pending] == ["open-1", "open-2"]  # never sends the Sent one
    assert {p.command.action for p in plan.pending} == {InvoiceAction.COPY}
    assert not plan.resumed and plan.start == SINCE


def test_backfill_commands_are_the_pollers_so_sqs_deduplicates_them() -> None:
    invoice = make_invoice(modified_at=SINCE + timedelta(days=1))
    (pending,) = plan_backfill(TENANT, FakeOneDesk(invoice), FakeTenantStore(), SINCE, NOW).pending
    polled = command_for(invoice, tenant().trigger_policy, TENANT, NOW)
    assert polled is not None
    assert command_deduplication_id(pending.command) == command_deduplication_id(polled)
    assert pending.command.snapshot == invoice


def test_backfill_copies_even_when_the_tenant_turned_automatic_copies_off() -> None:
    invoice = make_invoice(modified_at=SINCE + timedelta(days=1))
    assert command_for(invoice, TriggerPolicy(copy_when_opened=False), TENANT, NOW) is None
    plan = plan_backfill(TENANT, FakeOneDesk(invoice), FakeTenantStore(), SINCE, NOW)
    assert [p.command.action for p in plan.pending] == [InvoiceAction.COPY]
    assert BACKFILL_POLICY.copy_when_opened and not BACKFILL_POLICY.send_when_marked_sent


def _open_invoices(count: int) -> list:
    return [
        make_invoice(invoice_id=f"inv-{n:02}", modified_at=SINCE + timedelta(hours=n)) for n in range(count)
    ]


class FailingQueue(FakeCommandQueue):
    def __init__(self, fail_on_call: int) -> None:
        super().__init__()
        self.calls = 0
        self.fail_on_call = fail_on_call

    def enqueue_many(self, commands: list[InvoiceCommand]) -> None:  # type: ignore[override]
        self.calls += 1
        if self.calls == self.fail_on_call:
            raise RuntimeError("SQS unavailable")
        super().enqueue_many(commands)


def _run(plan, store, queue, batches: list[int] | None = None) -> int:  # type: ignore[no-untyped-def]
    time = VirtualTime()
    return run_backfill(
        plan,
        store,
        queue,
        Pacer(rate=100, burst=40, clock=time.clock, sleep=time.sleep),
        requests_per_invoice=4,
        on_batch=(batches if batches is not None else []).append,
    )


def test_backfill_enqueues_in_batches_of_ten_and_moves_its_cursor_after_each() -> None:
    store, queue, batches = FakeTenantStore(), FakeCommandQueue(), []
    plan = plan_backfill(TENANT, FakeOneDesk(*_open_invoices(23)), store, SINCE, NOW)

    assert _run(plan, store, queue, batches) == 23

    assert batches == [10, 10, 3]
    assert [c.invoice_id for c in queue.commands] == [f"inv-{n:02}" for n in range(23)]
    assert store.get_watermark(TENANT, cursor_name(SINCE)) == SINCE + timedelta(hours=22)


def test_an_interrupted_backfill_resumes_from_its_cursor() -> None:
    store, onedesk = FakeTenantStore(), FakeOneDesk(*_open_invoices(25))
    first = plan_backfill(TENANT, onedesk, store, SINCE, NOW)
    with pytest.raises(RuntimeError):
        _run(first, store, FailingQueue(fail_on_call=2))
    assert store.get_watermark(TENANT, cursor_name(SINCE)) == SINCE + timedelta(hours=9)

    resumed = plan_backfill(TENANT, onedesk, store, SINCE, NOW)

    assert resumed.resumed and resumed.start == SINCE + timedelta(hours=9)
    # From the last enqueued one on (SQS drops it as a duplicate within 5 minutes; later, the copy
    # finds it unchanged).
    assert [p.invoice.id for p in resumed.pending] == [f"inv-{n:02}" for n in range(9, 25)]
    restarted = plan_backfill(TENANT, onedesk, store, SINCE, NOW, restart=True)
    assert not restarted.resumed and len(restarted.pending) == 25


def test_each_since_has_its_own_cursor() -> None:
    store, onedesk = FakeTenantStore(), FakeOneDesk(*_open_invoices(5))
    _run(plan_backfill(TENANT, onedesk, store, SINCE + timedelta(hours=3), NOW), store, FakeCommandQueue())
    earlier = plan_backfill(TENANT, onedesk, store, SINCE, NOW)
    assert not earlier.resumed and len(earlier.pending) == 5


def test_since_is_an_iso_date_or_date_time_in_utc_by_default() -> None:
    assert parse_since("2026-03-01") == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_since("2026-03-01T10:00:00+02:00") == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert cursor_name(parse_since("2026-03-01T10:00:00+02:00")) == "backfill:2026-03-01T08:00:00+00:00"


# ---------------------------------------------------------------------------------------------- replay-dlq


def _command_body(**changes: object) -> str:
    command = InvoiceCommand(
        tenant_id=TENANT,
        invoice_id="1003",
        action=InvoiceAction.SEND,
        request_id="r-1",
        requested_at=NOW,
        source="api",
    )
    return json.dumps(command.model_dump(mode="json") | changes)


def test_a_valid_command_is_summarized_by_tenant_invoice_and_action() -> None:
    summary = summarize(QUEUES["invoice-commands"], _command_body())
    assert (summary.owner, summary.subject, summary.action, summary.problem) == (TENANT, "1003", "send", None)


def test_a_malformed_command_still_shows_whose_it_is_and_why_it_does_not_parse() -> None:
    summary = summarize(QUEUES["invoice-commands"], _command_body(action="refund", request_id=None))
    assert summary.owner == TENANT and summary.action == "refund"
    assert summary.problem is not None
    assert "action" in summary.problem and "request_id" in summary.problem


@pytest.mark.parametrize(("body", "problem"), [("{not json", "not JSON"), ("[1, 2]", "not a JSON object")])
def test_a_body_that_is_not_an_object_says_so(body: str, problem: str) -> None:
    summary = summarize(QUEUES["invoice-commands"], body)
    assert (summary.owner, summary.problem) == (None, problem)


def test_a_qbo_change_belongs_to_its_realm() -> None:
    change = QboChange(realm_id="9130", entity="Payment", entity_id="77", operation="Update", event_id="e1")
    summary = summarize(QUEUES["qbo-changes"], change.model_dump_json())
    assert (summary.owner, summary.subject, summary.action, summary.problem) == (
        "9130",
        "Payment 77",
        "Update",
        None,
    )


def test_a_delivery_is_a_send() -> None:
    body = json.dumps({"tenant_id": TENANT, "invoice_id": "1003"})
    summary = summarize(QUEUES["invoice-deliveries"], body)
    assert (summary.owner, summary.subject, summary.action) == (TENANT, "1003", "send")
    assert summary.problem is not None and "qbo_invoice_id" in summary.problem


class FlakyTarget:
    def __init__(self, fail_on_call: int) -> None:
        self.published: list[tuple[str, str, str]] = []
        self.fail_on_call = fail_on_call

    def publish(self, body: str, *, group_id: str, deduplication_id: str) -> None:
        if len(self.published) + 1 == self.fail_on_call:
            raise RuntimeError("SQS unavailable")
        self.published.append((body, group_id, deduplication_id))


def _letter(n: int) -> DeadLetter:
    return DeadLetter(f"m{n}", f"h{n}", f"body{n}", f"group{n}", 3, None)


def test_replay_keeps_the_group_uses_fresh_deduplication_ids_and_deletes_only_what_was_sent() -> None:
    target, deleted = FlakyTarget(fail_on_call=3), []
    with pytest.raises(RuntimeError):
        replay([_letter(1), _letter(2), _letter(3)], target, deleted.append, lambda _letter: None)  # type: ignore[arg-type]

    assert [(body, group) for body, group, _ in target.published] == [
        ("body1", "group1"),
        ("body2", "group2"),
    ]
    assert len({dedup for _, _, dedup in target.published}) == 2
    assert [letter.message_id for letter in deleted] == ["m1", "m2"]  # m3 stays in the DLQ


# ---------------------------------------------------------------------------------------------- status


def _connection(**changes: object) -> Connection:
    base = Connection(
        tenant_id=TENANT,
        realm_id="9130",
        status=ConnectionStatus.CONNECTED,
        connected_at=AT,
        company_name="Acme Books",
        country="US",
        last_sync_at=NOW,
    )
    return base.model_copy(update=changes)


def _onedesk(plan: Plan) -> FakeOneDesk:
    onedesk = FakeOneDesk()
    onedesk.profile = AccountProfile(account_id="a-1", name="Acme", plan=plan)
    return onedesk


def test_status_row_of_a_connected_tenant() -> None:
    parked = FakeParkedWork()
    for invoice_id in ("1", "2"):
        command = InvoiceCommand(
            tenant_id=TENANT,
            invoice_id=invoice_id,
            action=InvoiceAction.COPY,
            request_id="r",
            requested_at=NOW,
            source="api",
        )
        parked.park(command, "settings incomplete")

    mappings = FakeMappingStore()
    for invoice_id in ("i1", "i2", "i3"):
        mappings.save_conflict(_conflict(invoice_id))
    row = tenant_status(
        tenant(), FakeConnectionStore(_connection()), parked, mappings, lambda _t: _onedesk(Plan.PREMIUM)
    )

    assert (row.connection, row.realm_id, row.country, row.company) == (
        "connected",
        "9130",
        "US",
        "Acme Books",
    )
    assert (row.plan, row.plan_error, row.parked, row.conflicts, row.last_sync_at) == (
        "Premium",
        None,
        2,
        3,
        NOW,
    )


def _premium(_tenant: object) -> FakeOneDesk:
    return _onedesk(Plan.PREMIUM)


def _conflict(invoice_id: str) -> InvoiceConflict:
    return InvoiceConflict(
        tenant_id=TENANT,
        realm_id="9130",
        invoice_id=invoice_id,
        invoice_number=f"INV-{invoice_id}",
        qbo_invoice_id="77",
        detected_at=NOW,
        qbo_sync_token="3",
        qbo_fingerprint="a" * 64,
        qbo_total=Decimal("200.00"),
        onedesk_total=Decimal("240.00"),
        onedesk_content_hash="b" * 64,
        differences="lines",
    )


def test_a_onedesk_error_leaves_the_rest_of_the_row() -> None:
    def refused(_tenant: object) -> FakeOneDesk:
        onedesk = FakeOneDesk()
        onedesk.get_account_profile = lambda: (_ for _ in ()).throw(OneDeskAuthError("API key revoked"))  # type: ignore[method-assign]
        return onedesk

    row = tenant_status(
        tenant(), FakeConnectionStore(_connection()), FakeParkedWork(), FakeMappingStore(), refused
    )

    assert row.plan is None and row.plan_error == "OneDeskAuthError: API key revoked"
    assert row.connection == "connected"
    cells = {column.header: column.cell(row) for column in TENANT_COLUMNS}
    assert cells["plan"] == "unknown: OneDeskAuthError: API key revoked"


def test_status_row_of_a_tenant_to_reconnect_and_of_one_never_connected() -> None:
    needs = _connection(status=ConnectionStatus.NEEDS_RECONNECT, status_reason="refresh token expired")
    row = tenant_status(
        tenant(),
        FakeConnectionStore(needs),
        FakeParkedWork(),
        FakeMappingStore(),
        lambda _t: _onedesk(Plan.PREMIUM),
    )
    cells = {column.header: column.cell(row) for column in TENANT_COLUMNS}
    assert cells["connection"] == "needs_reconnect (refresh token expired)"
    assert cells["last sync"] == "2026-11-03 08:00:00 UTC"

    never = tenant_status(
        tenant(),
        FakeConnectionStore(),
        FakeParkedWork(),
        FakeMappingStore(),
        lambda _t: _onedesk(Plan.PREMIUM),
    )
    cells = {column.header: column.cell(never) for column in TENANT_COLUMNS}
    assert (cells["connection"], cells["realm"], cells["last sync"]) == ("not connected", "—", "—")


# ---------------------------------------------------------------------------------------------- formatting


def test_moments_are_shown_in_utc_to_the_second() -> None:
    assert when(datetime(2026, 11, 3, 9, 15, 30, 123456, tzinfo=UTC)) == "2026-11-03 09:15:30 UTC"
    assert when(parse_since("2026-11-03T10:15:30+01:00")) == "2026-11-03 09:15:30 UTC"
    assert when(None) == "—"


def test_an_audit_row_shows_qbo_ids_and_the_sync_token_change() -> None:
    record = AuditRecord(
        tenant_id=TENANT,
        at=NOW,
        action="copy",
        outcome=Outcome.DONE,
        invoice_id="1003",
        realm_id="9130",
        qbo_invoice_id="55",
        intuit_tid="1-abc",
        request_id="req-9",
        sync_token_before="0",
        sync_token_after="1",
    )
    cells = {column.header: column.cell(record) for column in AUDIT_COLUMNS}
    assert (cells["intuit_tid"], cells["request id"], cells["SyncToken"]) == ("1-abc", "req-9", "0 → 1")
    assert cells["reason"] == "—"


# ---------------------------------------------------------------------------------------------- config


def test_stack_outputs_become_the_products_settings() -> None:
    outputs = {
        "AppTableName": "app",
        "DataKeyId": "key",
        "InvoiceCommandsQueueUrl": "https://sqs/commands.fifo",
        "InvoiceDeliveriesQueueUrl": "https://sqs/deliveries.fifo",
        "QboChangesQueueUrl": "https://sqs/changes.fifo",
        "ApiUrl": "https://api",
    }
    assert settings_from_outputs("prod", outputs) == {
        "APP_TABLE_NAME": "app",
        "KMS_KEY_ID": "key",
        "INVOICE_COMMANDS_QUEUE_URL": "https://sqs/commands.fifo",
        "INVOICE_DELIVERIES_QUEUE_URL": "https://sqs/deliveries.fifo",
        "QBO_CHANGES_QUEUE_URL": "https://sqs/changes.fifo",
    }


def test_a_stack_without_the_outputs_is_refused_naming_them() -> None:
    with pytest.raises(ConfigError, match="DataKeyId, QboChangesQueueUrl"):
        settings_from_outputs(
            "old", {"AppTableName": "app", "InvoiceCommandsQueueUrl": "u", "InvoiceDeliveriesQueueUrl": "u"}
        )
