"""Every queue consumer of template.yaml under hypothesis: batches of messages as Lambda's SQS source
delivers them, from bytes that are no JSON at all to well-formed messages that are wrong (a tenant we do
not have, a realm no tenant has, an invoice that does not exist, ids no table key can hold). The function
must never raise nor log a traceback, and must give every record its final outcome at once: processed,
ignored, or rejected to its dead-letter queue with the reason; a record reported back as failed (to be
retried) is only right for a passing fault, which none of these is.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from local.stack import LocalStack
from tests.e2e.conftest import World
from tests.e2e.fuzz import strategies as s
from tests.e2e.fuzz.conftest import Consumer, assert_handled, fuzz

pytestmark = pytest.mark.fuzz

# Batches per queue, each of 1 to the function's BatchSize messages (10, 5, 10): some 550, 450 and 800
# records. A record costs 50-100 ms here (one for our tenant goes through DynamoDB, OneDesk or QBO), so
# these fit the suite's few minutes; the HTTP routes, at milliseconds a case, get thousands.
EXAMPLES = {"copy_invoice": 100, "send_invoice": 150, "sync_payments": 150}
UNKNOWN_REALM = "9130359999999999"

# What an SQS message body may hold: XML 1.0 characters, at least one.
sqs_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r"),
    min_size=1,
    max_size=200,
)
timestamps = s.weighted(
    (4, st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat)),
    (1, s.any_text),
    (1, st.integers()),
)


def body_of(value: Any) -> str:
    return s.as_json(value).decode()


def message_bodies(
    well_formed: st.SearchStrategy[dict[str, Any]], batch_size: int
) -> st.SearchStrategy[list[str]]:
    body = s.weighted(
        (5, well_formed.map(body_of)),
        (1, sqs_text),
        (1, s.json_value.map(body_of)),
        (1, st.integers(150, 3000).map(lambda n: "[" * n + "]" * n)),
        (1, st.integers(4300, 6000).map(lambda n: '{"tenant_id": ' + "9" * n + "}")),
    )
    return st.lists(body, min_size=1, max_size=batch_size)


def tenants(world: World) -> st.SearchStrategy[Any]:
    return s.weighted(
        (4, st.just(world.tenant.tenant_id)),
        (2, st.uuids().map(lambda u: f"t-{u.hex[:10]}")),  # a tenant we do not have
        (1, s.oversized_id),
        (1, s.any_text),
        (1, st.integers()),
    )


def ids() -> st.SearchStrategy[Any]:
    return s.weighted((4, st.integers(10**6, 10**9).map(str)), (1, s.oversized_id), (1, s.any_text))


def invoice_commands(world: World) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "tenant_id": tenants(world),
            "invoice_id": ids(),  # no such invoice in the tenant's OneDesk account
            "action": s.weighted((4, st.sampled_from(["copy", "send"])), (1, s.any_text)),
            "request_id": s.weighted((4, st.uuids().map(str)), (1, s.any_text), (1, s.oversized_id)),
            "requested_at": timestamps,
            "source": s.weighted((4, st.sampled_from(["poller", "api", "parked"])), (1, s.any_text)),
        },
        optional={"snapshot": s.json_value, "resumed_at": timestamps},
    )


def delivery_commands(world: World) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "tenant_id": tenants(world),
            "realm_id": s.weighted((4, st.just(world.qbo.realm_id)), (1, st.just(UNKNOWN_REALM)), (1, ids())),
            "invoice_id": ids(),
            "invoice_number": s.weighted((3, st.integers(1, 99999).map(str)), (1, s.any_text)),
            "qbo_invoice_id": ids(),  # no such invoice in the QBO company
            "send_to": s.weighted((3, st.emails()), (1, s.any_text)),
            "request_id": s.weighted((4, st.uuids().map(str)), (1, s.any_text)),
            "requested_at": timestamps,
        },
        optional={"extra": s.json_value},
    )


def qbo_changes(world: World) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "realm_id": s.weighted(
                (4, st.just(world.qbo.realm_id)),
                (2, st.just(UNKNOWN_REALM)),
                (1, s.oversized_id),
                (1, s.any_text),
            ),
            "entity": s.weighted((4, st.sampled_from(["Payment", "Invoice", "CreditMemo"])), (1, s.any_text)),
            "entity_id": ids(),  # nothing with this id in the QBO company
            "operation": st.sampled_from(
                ["created", "updated", "deleted", "voided", "emailed", "merged", ""]
            ),
            "event_id": s.weighted((4, st.uuids().map(str)), (1, s.any_text), (1, s.oversized_id)),
        },
        optional={"occurred_at": timestamps},
    )


def deliver_and_check(consumer: Consumer, bodies: list[str]) -> None:
    result, failed = consumer.deliver(bodies)
    assert_handled(result)
    assert failed == [], f"{consumer.function_id} asked for a retry of {failed}"


@pytest.mark.parametrize(
    "consumer", [("CopyInvoiceFunction", "InvoiceCommandsQueue", "InvoiceCommandsDLQ")], indirect=True
)
@fuzz(EXAMPLES["copy_invoice"])
@given(data=st.data())
def test_copy_invoice(consumer: Consumer, fuzz_world: World, data: st.DataObject) -> None:
    deliver_and_check(
        consumer, data.draw(message_bodies(invoice_commands(fuzz_world), consumer.batch_size), "bodies")
    )


@pytest.mark.parametrize(
    "consumer", [("SendInvoiceFunction", "InvoiceDeliveriesQueue", "InvoiceDeliveriesDLQ")], indirect=True
)
@fuzz(EXAMPLES["send_invoice"])
@given(data=st.data())
def test_send_invoice(consumer: Consumer, fuzz_world: World, data: st.DataObject) -> None:
    deliver_and_check(
        consumer, data.draw(message_bodies(delivery_commands(fuzz_world), consumer.batch_size), "bodies")
    )


@pytest.mark.parametrize(
    "consumer", [("SyncPaymentsFunction", "QboChangesQueue", "QboChangesDLQ")], indirect=True
)
@fuzz(EXAMPLES["sync_payments"])
@given(data=st.data())
def test_sync_payments(consumer: Consumer, fuzz_world: World, data: st.DataObject) -> None:
    deliver_and_check(
        consumer, data.draw(message_bodies(qbo_changes(fuzz_world), consumer.batch_size), "bodies")
    )


def test_every_queue_consumer_is_fuzzed(stack: LocalStack) -> None:
    fuzzed = {"CopyInvoiceFunction", "SendInvoiceFunction", "SyncPaymentsFunction"}
    assert {function_id for _, function_id in stack.runner.event_sources()} == fuzzed
