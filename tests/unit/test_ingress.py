"""Ingress: the poller's trigger policy and watermark, and signed command requests."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

import pytest

from qbo_sync.domain.commands import InvoiceAction, InvoiceCommand
from qbo_sync.domain.connection import ConnectionStatus
from qbo_sync.domain.onedesk import InvoiceStatus
from qbo_sync.domain.signing import REPLAY_MEMORY, SIGNATURE_WINDOW, sign
from qbo_sync.domain.tenant import Tenant, TriggerPolicy
from qbo_sync.usecases.ingress import (
    WATERMARK,
    CommandRequest,
    PollResult,
    Unauthorized,
    accept_command,
    authenticate,
    command_for,
    poll_paused,
    poll_tenant,
)
from tests.unit.builders import AT, SECRET, TENANT, make_invoice, settings, tenant
from tests.unit.fakes import (
    FakeCommandQueue,
    FakeConnectionStore,
    FakeOneDesk,
    FakeRequestLog,
    FakeTenantStore,
    FixedClock,
)
from tests.unit.test_invoice_commands import connection

NOW = AT + timedelta(minutes=10)
MINUTE = timedelta(minutes=1)


# ------------------------------------------------------------------------------------------ trigger policy


def test_open_invoice_is_copied_with_its_snapshot() -> None:
    invoice = make_invoice(status=InvoiceStatus.OPEN)

    command = command_for(invoice, TriggerPolicy(), TENANT, NOW)

    assert command == InvoiceCommand(
        tenant_id=TENANT,
        invoice_id="1003",
        action=InvoiceAction.COPY,
        request_id="auto-copy:1003:2026-11-02T09:30:00+00:00",
        requested_at=NOW,
        source="poller",
        snapshot=invoice,
    )


def test_sent_invoice_is_sent_with_one_request_id_per_invoice() -> None:
    first = command_for(make_invoice(status=InvoiceStatus.SENT), TriggerPolicy(), TENANT, NOW)
    later = command_for(
        make_invoice(status=InvoiceStatus.SENT, modified_at=AT + timedelta(hours=2)),
        TriggerPolicy(),
        TENANT,
        NOW,
    )

    assert first is not None and later is not None
    assert (first.action, later.action) == (InvoiceAction.SEND, InvoiceAction.SEND)
    assert first.request_id == later.request_id == "auto-send:1003"


@pytest.mark.parametrize(
    "status",
    [InvoiceStatus.DRAFT, InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.VOID],
)
def test_other_statuses_trigger_nothing(status: InvoiceStatus) -> None:
    assert command_for(make_invoice(status=status), TriggerPolicy(), TENANT, NOW) is None


def test_policy_switches_are_honoured() -> None:
    no_copy = TriggerPolicy(copy_when_opened=False)
    no_send = TriggerPolicy(send_when_marked_sent=False)

    assert command_for(make_invoice(status=InvoiceStatus.OPEN), no_copy, TENANT, NOW) is None
    assert command_for(make_invoice(status=InvoiceStatus.SENT), no_send, TENANT, NOW) is None
    sent = command_for(make_invoice(status=InvoiceStatus.SENT), no_copy, TENANT, NOW)
    assert sent is not None and sent.action is InvoiceAction.SEND
    opened = command_for(make_invoice(status=InvoiceStatus.OPEN), no_send, TENANT, NOW)
    assert opened is not None and opened.action is InvoiceAction.COPY


def test_request_id_fits_in_64_characters() -> None:
    command = command_for(make_invoice(invoice_id="9" * 80), TriggerPolicy(), TENANT, NOW)
    assert command is not None
    assert command.request_id == f"auto-copy:{'9' * 54}"


# ------------------------------------------------------------------------------------------ poll


class Poller:
    def __init__(self, *listing_modified: tuple[str, InvoiceStatus, int]) -> None:
        """``listing_modified``: (invoice id, status, minutes after AT) in the order OneDesk lists them."""
        self.onedesk = FakeOneDesk()
        self.onedesk.listing = [
            make_invoice(invoice_id=invoice_id, status=status, modified_at=AT + minutes * MINUTE)
            for invoice_id, status, minutes in listing_modified
        ]
        self.tenants = FakeTenantStore(tenant())
        self.queue = FakeCommandQueue()
        self.clock = FixedClock(NOW)

    def poll(self) -> PollResult:
        return poll_tenant(tenant(), self.onedesk, self.tenants, self.queue, self.clock)


def test_poll_keeps_the_newest_snapshot_of_each_invoice_and_enqueues_oldest_first() -> None:
    p = Poller(
        ("1003", InvoiceStatus.OPEN, 0),
        ("1004", InvoiceStatus.OPEN, 1),
        ("1003", InvoiceStatus.SENT, 2),
        ("1005", InvoiceStatus.DRAFT, 3),
    )
    p.tenants.set_watermark(TENANT, WATERMARK, AT)

    result = p.poll()

    assert [(c.invoice_id, c.action, c.snapshot.modified_at) for c in p.queue.commands if c.snapshot] == [
        ("1004", InvoiceAction.COPY, AT + MINUTE),
        ("1003", InvoiceAction.SEND, AT + 2 * MINUTE),
    ]
    assert result == PollResult(TENANT, invoices_seen=3, commands=2, watermark=AT + 3 * MINUTE)


def test_poll_keeps_the_newest_even_when_listed_after_an_older_one() -> None:
    p = Poller(("1003", InvoiceStatus.SENT, 2), ("1003", InvoiceStatus.OPEN, 1))
    p.tenants.set_watermark(TENANT, WATERMARK, AT)

    p.poll()

    [command] = p.queue.commands
    assert command.action is InvoiceAction.SEND
    assert command.snapshot is not None and command.snapshot.modified_at == AT + 2 * MINUTE


def test_poll_reads_from_five_minutes_before_the_watermark_and_advances_it() -> None:
    p = Poller(("1003", InvoiceStatus.OPEN, 4), ("1004", InvoiceStatus.OPEN, 7))
    p.tenants.set_watermark(TENANT, WATERMARK, AT + 6 * MINUTE)

    result = p.poll()

    assert p.onedesk.since_calls == [AT + MINUTE]
    assert [c.invoice_id for c in p.queue.commands] == ["1003", "1004"]  # the overlap is re-read
    assert p.tenants.get_watermark(TENANT, WATERMARK) == AT + 7 * MINUTE
    assert result.watermark == AT + 7 * MINUTE


def test_first_poll_looks_back_one_day() -> None:
    p = Poller(("1003", InvoiceStatus.OPEN, 0))

    p.poll()

    assert p.onedesk.since_calls == [NOW - timedelta(days=1)]
    assert p.tenants.get_watermark(TENANT, WATERMARK) == AT


def test_poll_with_nothing_new_keeps_the_watermark() -> None:
    p = Poller()
    p.tenants.set_watermark(TENANT, WATERMARK, AT)

    result = p.poll()

    assert p.tenants.get_watermark(TENANT, WATERMARK) == AT
    assert result == PollResult(TENANT, invoices_seen=0, commands=0, watermark=AT)
    assert p.queue.commands == []


def test_first_poll_with_nothing_starts_the_watermark_a_day_back() -> None:
    p = Poller()
    p.poll()
    assert p.tenants.get_watermark(TENANT, WATERMARK) == NOW - timedelta(days=1)


def test_watermark_never_moves_backwards() -> None:
    # The invoice modified at the watermark was deleted in OneDesk; only an older one is in the overlap.
    p = Poller(("1003", InvoiceStatus.OPEN, 3))
    p.tenants.set_watermark(TENANT, WATERMARK, AT + 5 * MINUTE)

    p.poll()

    assert p.tenants.get_watermark(TENANT, WATERMARK) == AT + 5 * MINUTE


# ------------------------------------------------------------------------------------------ signed commands

BODY = b'{"invoice_id":"1003","action":"send","request_id":"r-1"}'


def auth(
    tenant_id: str | None = TENANT, *, secret: str = SECRET, age: timedelta = timedelta(0), body: bytes = BODY
) -> Tenant:
    timestamp = int((NOW - age).timestamp())
    return authenticate(
        FakeTenantStore(tenant()),
        tenant_id=tenant_id,
        timestamp=str(timestamp),
        signature=sign(secret, timestamp, BODY),
        raw_body=body,
        now=NOW,
    )


def test_authenticate_accepts_a_good_signature() -> None:
    assert auth().tenant_id == TENANT
    assert auth(age=timedelta(minutes=4, seconds=59)).tenant_id == TENANT


@pytest.mark.parametrize(
    "call",
    [
        lambda: auth("someone-else"),
        lambda: auth(None),
        lambda: auth(secret="wrong"),
        lambda: auth(body=BODY.replace(b"r-1", b"r-2")),
        lambda: auth(age=timedelta(minutes=5, seconds=1)),
        lambda: auth(age=-timedelta(minutes=6)),
    ],
    ids=["unknown-tenant", "no-tenant", "wrong-secret", "tampered-body", "stale", "future"],
)
def test_authenticate_refuses(call: Callable[[], Tenant]) -> None:
    with pytest.raises(Unauthorized):
        call()


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        ("9" * 400, "0" * 64),  # int() of it would overflow as a float comparison
        ("²³", "0" * 64),  # isdigit() says yes, int() says no
        ("١٧٩٤٥٠٠٠٠٠", "0" * 64),  # Arabic-Indic digits
        ("-1", "0" * 64),
        ("", "0" * 64),
        ("now", "é" * 64),  # compare_digest refuses a non-ASCII str
        ("now", ""),
    ],
    ids=[
        "400-digits",
        "superscripts",
        "arabic-digits",
        "negative",
        "empty",
        "non-ascii-signature",
        "empty-sig",
    ],
)
def test_authenticate_refuses_odd_headers_without_raising_anything_else(
    timestamp: str, signature: str
) -> None:
    with pytest.raises(Unauthorized):
        authenticate(
            FakeTenantStore(tenant()),
            tenant_id=TENANT,
            timestamp=str(int(NOW.timestamp())) if timestamp == "now" else timestamp,
            signature=signature,
            raw_body=BODY,
            now=NOW,
        )


REQUEST = CommandRequest(invoice_id="1003", action="send", request_id="r-1")


def test_accepted_request_is_queued_without_snapshot() -> None:
    queue = FakeCommandQueue()

    accepted = accept_command(tenant(), REQUEST, queue, FakeRequestLog(), NOW)

    assert not accepted.replayed
    assert queue.commands == [accepted.command]
    assert accepted.command == InvoiceCommand(
        tenant_id=TENANT,
        invoice_id="1003",
        action=InvoiceAction.SEND,
        request_id="r-1",
        requested_at=NOW,
        source="api",
        snapshot=None,
    )


def test_a_replay_while_its_signature_is_valid_is_answered_alike_and_queues_nothing() -> None:
    queue, requests = FakeCommandQueue(), FakeRequestLog()
    first = accept_command(tenant(), REQUEST, queue, requests, NOW)

    # The latest a replay can still pass the signature check: signed 5 minutes ahead, replayed 5 after.
    replay = accept_command(tenant(), REQUEST, queue, requests, NOW + 2 * SIGNATURE_WINDOW)

    assert replay.replayed
    assert replay.command.model_dump(include={"tenant_id", "invoice_id", "action", "request_id"}) == (
        first.command.model_dump(include={"tenant_id", "invoice_id", "action", "request_id"})
    )
    assert queue.commands == [first.command]
    # Another tenant's request with the same id is its own request.
    other = tenant().model_copy(update={"tenant_id": "t-other"})
    assert not accept_command(other, REQUEST, queue, requests, NOW).replayed


def test_the_same_request_id_signed_again_after_the_replay_memory_is_queued_again() -> None:
    queue, requests = FakeCommandQueue(), FakeRequestLog()
    accept_command(tenant(), REQUEST, queue, requests, NOW)

    later = accept_command(tenant(), REQUEST, queue, requests, NOW + REPLAY_MEMORY + timedelta(seconds=1))

    assert not later.replayed
    assert len(queue.commands) == 2


class _BrokenQueue(FakeCommandQueue):
    def enqueue(self, command: InvoiceCommand) -> None:
        raise TimeoutError("SQS did not answer")


def test_a_request_that_could_not_be_queued_is_honoured_when_retried() -> None:
    queue, requests = FakeCommandQueue(), FakeRequestLog()
    with pytest.raises(TimeoutError):
        accept_command(tenant(), REQUEST, _BrokenQueue(), requests, NOW)

    retried = accept_command(tenant(), REQUEST, queue, requests, NOW + MINUTE)

    assert not retried.replayed
    assert [c.request_id for c in queue.commands] == ["r-1"]


class _FailingQueue(FakeCommandQueue):
    def __init__(self, fail_on_batch: int) -> None:
        super().__init__()
        self.batches = 0
        self.fail_on_batch = fail_on_batch

    def enqueue_many(self, commands: Sequence[InvoiceCommand]) -> None:
        self.batches += 1
        if self.batches == self.fail_on_batch:
            raise TimeoutError("the poll was cut short")
        super().enqueue_many(commands)


def test_a_poll_cut_short_resumes_after_the_last_enqueued_batch() -> None:
    p = Poller(*[(str(2000 + n), InvoiceStatus.OPEN, n) for n in range(25)])
    p.tenants.set_watermark(TENANT, WATERMARK, AT)
    p.queue = _FailingQueue(fail_on_batch=2)

    with pytest.raises(TimeoutError):
        p.poll()

    assert [c.invoice_id for c in p.queue.commands] == [str(2000 + n) for n in range(10)]
    assert p.tenants.get_watermark(TENANT, WATERMARK) == AT + 9 * MINUTE  # the first batch's newest


# ------------------------------------------------------------------------------------------ paused polls


@pytest.mark.parametrize(
    ("status", "paused"),
    [
        (None, "QuickBooks Online is not connected"),
        (ConnectionStatus.DISCONNECTED, "QuickBooks Online needs to be reconnected (it was disconnected)"),
        (
            ConnectionStatus.NEEDS_RECONNECT,
            "QuickBooks Online needs to be reconnected (authorization expired)",
        ),
        (ConnectionStatus.CONNECTED, None),
    ],
)
def test_the_poller_leaves_a_tenant_alone_while_its_work_could_only_wait(
    status: ConnectionStatus | None, paused: str | None
) -> None:
    tenants = FakeTenantStore(tenant())
    tenants.save_settings(TENANT, settings())
    connections = FakeConnectionStore(*([connection(status)] if status else []))

    assert poll_paused(tenant(), connections, tenants) == paused  # type: ignore[arg-type]


def test_the_poller_waits_for_complete_settings_too() -> None:
    tenants = FakeTenantStore(tenant())  # connected, nothing saved yet
    connections = FakeConnectionStore(connection(ConnectionStatus.CONNECTED))

    reason = poll_paused(tenant(), connections, tenants)  # type: ignore[arg-type]

    assert reason == "the integration settings (default income account and tax code) are not complete"
