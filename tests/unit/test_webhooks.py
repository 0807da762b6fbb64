"""Intuit webhook bodies: parsing (both formats, bounded, duplicates once) and what the receiver queues."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from qbo_sync.domain.commands import QboChange
from qbo_sync.domain.connection import Connection, ConnectionStatus
from qbo_sync.domain.payments import carries_payment_news
from qbo_sync.domain.webhooks import MalformedWebhook, parse_notifications
from qbo_sync.usecases.payments import accept_webhook
from tests.unit.builders import AT
from tests.unit.fakes import FakeChangeQueue, FakeConnectionStore

OURS, OTHER_TENANT_REALM, UNKNOWN = "9130001", "9130002", "9139999"


def event(
    entity: str = "payment", operation: str = "updated", entity_id: str = "7", realm: str = OURS, **extra: Any
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": extra.pop("id", f"{realm}-{entity}-{entity_id}-{operation}"),
        "source": "intuit.test",
        "type": f"qbo.{entity}.{operation}.v1",
        "datacontenttype": "application/json",
        "time": "2026-11-26T12:00:00.000000000Z",
        "intuitentityid": entity_id,
        "intuitaccountid": realm,
        "data": {},
        **extra,
    }


def body(*events: object) -> bytes:
    return json.dumps(list(events)).encode()


def connected(tenant_id: str, realm_id: str) -> Connection:
    return Connection(
        tenant_id=tenant_id,
        realm_id=realm_id,
        status=ConnectionStatus.CONNECTED,
        connected_at=AT - timedelta(days=1),
        company_name="Books",
    )


# ------------------------------------------------------------------------------------------ parsing


def test_cloud_events_become_changes_of_the_relevant_entities_only() -> None:
    changes = parse_notifications(
        body(
            event("payment", "created", "1"),
            event("customer", "updated", "2"),  # not an entity that moves a paid amount
            event("invoice", "voided", "3"),
            event("creditmemo", "updated", "4"),
        )
    )

    assert [(c.entity, c.entity_id, c.operation) for c in changes] == [
        ("Payment", "1", "created"),
        ("Invoice", "3", "voided"),
        ("CreditMemo", "4", "updated"),
    ]
    assert changes[0].event_id == f"{OURS}-payment-1-created"


def test_an_event_repeated_inside_a_batch_is_one_change_in_first_seen_order() -> None:
    first, second = event("payment", entity_id="1"), event("invoice", entity_id="2")

    changes = parse_notifications(body(first, second, first, second, first))

    assert [c.entity_id for c in changes] == ["1", "2"]


def test_events_of_other_types_need_only_the_envelope() -> None:
    other = {"id": "x-1", "type": "com.intuit.something.else", "data": {"nested": [1, 2]}}
    assert parse_notifications(body(other, event())) == [parse_notifications(body(event()))[0]]


def test_legacy_notifications_get_a_stable_identity() -> None:
    legacy = {
        "eventNotifications": [
            {
                "realmId": OURS,
                "dataChangeEvent": {
                    "entities": [
                        {
                            "name": "Payment",
                            "id": "5",
                            "operation": "Update",
                            "lastUpdated": "2026-11-26T12:00:00Z",
                        },
                        {"name": "Customer", "id": "6", "operation": "Create"},
                    ]
                },
            }
        ]
    }
    raw = json.dumps(legacy).encode()

    (change,) = parse_notifications(raw)

    assert (change.entity, change.entity_id, change.operation) == ("Payment", "5", "update")
    assert parse_notifications(raw) == [change]
    assert len(change.event_id) == 64


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "recursion limit"),
        (
            b'[{"id": "1", "type": "qbo.payment.updated.v1", "n": ' + b"9" * 5000 + b"}]",
            "number out of range",
        ),
        (b"[NaN]", "not JSON"),
        (b'["\xff"]', "not JSON"),
        (b"", "not JSON"),
        (b'{"hello": "world"}', "expected a CloudEvents array"),
        (b"[1]", "not an Intuit notification"),
        (body({"type": "qbo.payment.updated.v1"}), "not an Intuit notification"),  # no id
        (body(event(intuitaccountid="")), "not an Intuit notification"),
        (body(event(entity_id="9" * 65)), "not an Intuit notification"),  # longer than any QBO id
        (body(event(time="yesterday")), "not an Intuit notification"),
    ],
    ids=[
        "deep",
        "5000-digits",
        "nan",
        "bad-utf8",
        "empty",
        "object",
        "number",
        "no-id",
        "no-realm",
        "long-id",
        "time",
    ],
)
def test_what_is_not_a_notification_is_malformed(raw: bytes, reason: str) -> None:
    with pytest.raises(MalformedWebhook, match=reason):
        parse_notifications(raw)


# ------------------------------------------------------------------------------------------ the receiver


def test_invoice_created_or_emailed_carries_no_payment_news() -> None:
    def change(entity: str, operation: str) -> QboChange:
        return QboChange(realm_id=OURS, entity=entity, entity_id="1", operation=operation, event_id="e")  # type: ignore[arg-type]

    assert not carries_payment_news(change("Invoice", "created"))
    assert not carries_payment_news(change("Invoice", "emailed"))
    assert carries_payment_news(change("Invoice", "updated"))
    assert carries_payment_news(change("Invoice", "voided"))
    assert carries_payment_news(change("Payment", "created"))
    assert carries_payment_news(change("CreditMemo", "emailed"))


def test_the_receiver_queues_each_distinct_relevant_change_of_known_realms_in_one_call() -> None:
    connections = FakeConnectionStore(connected("t-1", OURS), connected("t-2", OTHER_TENANT_REALM))
    queue = FakeChangeQueue()
    events = [
        *(event("payment", "updated", str(n)) for n in range(30)),
        *(event("invoice", "updated", str(n), realm=OTHER_TENANT_REALM) for n in range(30)),
        *(event("invoice", "created", str(n)) for n in range(10)),  # no payment news
        *(event("invoice", "emailed", str(n), realm=UNKNOWN) for n in range(5)),  # no news, unknown
        *(event("payment", "deleted", str(n), realm=UNKNOWN) for n in range(7)),  # unknown realm
    ]

    result = accept_webhook(body(*events, *events[:40]), connections, queue)

    assert (result.queued, result.no_payment_news, result.unknown_realm) == (60, 15, 7)
    assert len(queue.batches) == 1
    assert [c.event_id for c in queue.changes] == [e["id"] for e in events[:60]]
    assert sorted(connections.realm_lookups) == sorted([OURS, OTHER_TENANT_REALM, UNKNOWN])


def test_a_batch_with_nothing_to_queue_is_still_acknowledged() -> None:
    queue = FakeChangeQueue()

    result = accept_webhook(body(event("invoice", "created")), FakeConnectionStore(), queue)

    assert (result.queued, result.no_payment_news, result.unknown_realm) == (0, 1, 0)
    assert queue.changes == []
