"""A large Intuit batch on the whole local stack: one signed POST of 2,900 CloudEvents for several realms
(two of ours, two no tenant has), with repeats, invoice created/emailed events and entities we do not
follow, goes through the runner's HTTP API to the real receiver. It must be acknowledged with a 2xx, and
qbo-changes.fifo must then hold each distinct event that can move a paid amount, for our realms, exactly
once; Intuit sending the same batch again (its acknowledgement lost) must add nothing.

sync_payments' event source is disabled meanwhile, so the test reads the queue itself (the messages are
counted by body: moto gives a deduplicated FIFO send a MessageId of its own too). How fast the receiver
is belongs to `make bench` (bench/webhook_batch.py), not here.
"""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from local.stack import LocalStack
from qbo_sync.domain.signing import intuit_signature
from tests.e2e.conftest import World, sqs

BATCH_EVENTS = 2900
UNKNOWN_REALMS = ("9130359999999991", "9130359999999992")


def cloud_event(
    realm: str, entity: str, operation: str, entity_id: str, event_id: str | None = None
) -> dict[str, Any]:
    """Shaped as Intuit sends it (and as the QBO emulator does)."""
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": "intuit.dsnBgbseACLLRZnMd6OdFq6vtM2LaPZ0PL4+BLGaLJc=",
        "type": f"qbo.{entity}.{operation}.v1",
        "datacontenttype": "application/json",
        "time": "2026-11-26T12:00:00.123456789Z",
        "intuitentityid": entity_id,
        "intuitaccountid": realm,
        "data": {},
    }


def batch(ours: list[str], rng: random.Random) -> tuple[list[dict[str, Any]], set[str]]:
    """(the events in the order sent, the ids of those that must be queued)."""
    relevant = [("payment", "created"), ("payment", "updated"), ("payment", "deleted"), ("payment", "voided")]
    relevant += [
        ("invoice", "updated"),
        ("invoice", "deleted"),
        ("invoice", "voided"),
        ("creditmemo", "updated"),
    ]
    queued = [
        cloud_event(rng.choice(ours), *rng.choice(relevant), str(rng.randrange(1, 10**6)))
        for _ in range(1600)
    ]
    no_news = [
        cloud_event(rng.choice(ours), "invoice", rng.choice(["created", "emailed"]), str(n))
        for n in range(300)
    ]
    not_followed = [
        cloud_event(rng.choice(ours), rng.choice(["customer", "item", "estimate"]), "updated", str(n))
        for n in range(200)
    ]
    unknown_realm = [
        cloud_event(rng.choice(UNKNOWN_REALMS), *rng.choice([*relevant, ("invoice", "created")]), str(n))
        for n in range(300)
    ]
    repeats = [dict(rng.choice(queued)) for _ in range(BATCH_EVENTS - 2400)]  # the same event ids again
    events = [*queued, *no_news, *not_followed, *unknown_realm, *repeats]
    rng.shuffle(events)
    assert len(events) == BATCH_EVENTS
    return events, {event["id"] for event in queued}


@pytest.fixture
def sync_payments_paused(stack: LocalStack) -> Iterator[None]:
    stack.runner.set_event_sources_enabled("SyncPaymentsFunction", False)
    try:
        yield
    finally:
        stack.runner.set_event_sources_enabled("SyncPaymentsFunction", True)


def take_queued(stack: LocalStack, realms: set[str]) -> list[dict[str, Any]]:
    """Every message qbo-changes.fifo holds for ``realms``, received and deleted (sync_payments, paused,
    never sees them). Other realms' messages (earlier tests') are put back untouched."""
    client, url = sqs(stack), stack.provisioned.ref("QboChangesQueue")
    ours: list[dict[str, Any]] = []
    others: list[str] = []
    while messages := client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=120, WaitTimeSeconds=1
    ).get("Messages", []):
        mine = [m for m in messages if json.loads(m["Body"])["realm_id"] in realms]
        others += [m["ReceiptHandle"] for m in messages if m not in mine]
        ours += [json.loads(m["Body"]) for m in mine]
        if mine:
            client.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(mine)],
            )
    for handle in others:
        client.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return ours


def test_a_signed_batch_of_2900_events_queues_each_distinct_relevant_event_once(
    stack: LocalStack, us_world: World, ca_world: World, sync_payments_paused: None
) -> None:
    ours = [us_world.qbo.realm_id, ca_world.qbo.realm_id]
    events, expected = batch(ours, random.Random(2900))
    body = json.dumps(events, separators=(",", ":")).encode()
    verifier = us_world.qbo.control("GET", "/app")["verifier_token"]
    headers = {"Content-Type": "application/json", "intuit-signature": intuit_signature(verifier, body)}

    first = requests.post(f"{stack.http_url}/qbo/webhooks", data=body, headers=headers, timeout=60)
    # Intuit did not see the answer and sends the same bytes again.
    again = requests.post(f"{stack.http_url}/qbo/webhooks", data=body, headers=headers, timeout=60)

    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)
    queued = Counter(change["event_id"] for change in take_queued(stack, set(ours)))
    assert set(queued) == expected
    assert set(queued.values()) == {1}
