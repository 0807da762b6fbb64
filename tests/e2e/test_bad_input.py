"""Inputs that once made the HTTP routes fail with a 500, and a replayed signed command, on the whole local
stack through the runner's HTTP API. Each refusal is a 4xx with a JSON reason; a replay inside the
signature window is answered like the original and queues nothing. (The fuzz suite, tests/e2e/fuzz,
tries thousands more.)"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest
import requests

from local.stack import LocalStack
from qbo_sync.domain.signing import intuit_signature, sign
from tests.e2e.conftest import World, sqs


def _json_error(response: requests.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    reason = response.json()["error"]
    assert isinstance(reason, str) and reason
    return reason


def test_a_400_digit_timestamp_is_401_not_500(us_world: World) -> None:
    body = json.dumps({"invoice_id": "1", "action": "copy", "request_id": "r"}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-OneDesk-Tenant": us_world.tenant.tenant_id,
        "X-OneDesk-Timestamp": "9" * 400,
        "X-OneDesk-Signature": "0" * 64,
    }
    reply = requests.post(f"{us_world.api}/onedesk/commands", data=body, headers=headers, timeout=30)
    _json_error(reply, 401)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "recursion limit"),
        (
            b'[{"id": "1", "type": "qbo.payment.updated.v1", "intuitentityid": ' + b"9" * 5000 + b"}]",
            "out of range",
        ),
    ],
    ids=["nested-100000-deep", "5000-digit-number"],
)
def test_signed_webhook_bodies_that_broke_the_parser_are_400(
    stack: LocalStack, us_world: World, body: bytes, reason: str
) -> None:
    verifier = us_world.qbo.control("GET", "/app")["verifier_token"]
    headers = {"Content-Type": "application/json", "intuit-signature": intuit_signature(verifier, body)}
    reply = requests.post(f"{stack.http_url}/qbo/webhooks", data=body, headers=headers, timeout=30)
    assert reason in _json_error(reply, 400)


def test_a_signed_command_deep_inside_is_400(us_world: World) -> None:
    body = b'{"invoice_id": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-OneDesk-Tenant": us_world.tenant.tenant_id,
        "X-OneDesk-Timestamp": str(timestamp),
        "X-OneDesk-Signature": sign(us_world.tenant.shared_secret.get_secret_value(), timestamp, body),
    }
    reply = requests.post(f"{us_world.api}/onedesk/commands", data=body, headers=headers, timeout=30)
    _json_error(reply, 400)


@pytest.fixture
def copy_paused(stack: LocalStack) -> Iterator[None]:
    stack.runner.set_event_sources_enabled("CopyInvoiceFunction", False)
    try:
        yield
    finally:
        stack.runner.set_event_sources_enabled("CopyInvoiceFunction", True)


def _take_commands(stack: LocalStack, request_id: str) -> list[dict[str, object]]:
    """The queued commands of this request, removed from invoice-commands; others are put back."""
    client, url = sqs(stack), stack.provisioned.ref("InvoiceCommandsQueue")
    taken, others = [], []
    while messages := client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
        "Messages", []
    ):
        for message in messages:
            command = json.loads(message["Body"])
            if command.get("request_id") == request_id:
                taken.append(command)
                client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            else:
                others.append(message["ReceiptHandle"])
    for handle in others:
        client.change_message_visibility(QueueUrl=url, ReceiptHandle=handle, VisibilityTimeout=0)
    return taken


def test_a_replayed_signed_command_is_answered_alike_and_queued_once(
    stack: LocalStack, us_world: World, copy_paused: None
) -> None:
    request_id = uuid.uuid4().hex
    body = json.dumps({"invoice_id": "4242", "action": "send", "request_id": request_id}).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "X-OneDesk-Tenant": us_world.tenant.tenant_id,
        "X-OneDesk-Timestamp": str(timestamp),
        "X-OneDesk-Signature": sign(us_world.tenant.shared_secret.get_secret_value(), timestamp, body),
    }

    first = requests.post(f"{us_world.api}/onedesk/commands", data=body, headers=headers, timeout=30)
    queued = _take_commands(stack, request_id)
    # Someone captured the request and sends the same bytes again while the signature is still fresh. The
    # first message is gone from the queue, so SQS's own deduplication (5 minutes on AWS, while the
    # message waits on moto) cannot be what stops a second one: the replay record must.
    replays = [
        requests.post(f"{us_world.api}/onedesk/commands", data=body, headers=headers, timeout=30)
        for _ in range(2)
    ]

    assert [r.status_code for r in [first, *replays]] == [202, 202, 202]
    assert replays[0].json() == replays[1].json() == first.json()
    assert first.json()["request_id"] == request_id
    assert [(c["invoice_id"], c["action"]) for c in queued] == [("4242", "send")]
    assert _take_commands(stack, request_id) == []
