"""events/ holds a sample event per function (for `sam local invoke` where Docker exists): each one has
the shape its trigger delivers and a body the function's model accepts."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from qbo_sync.domain.commands import DeliveryCommand, InvoiceCommand, QboChange
from qbo_sync.domain.signing import verify_intuit
from qbo_sync.domain.webhooks import parse_notifications

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


def _event(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _routes() -> set[str]:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)
    return {
        f"{event['Properties']['Method'].upper()} {event['Properties']['Path']}"
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("copy_invoice.json", InvoiceCommand),
        ("send_invoice.json", DeliveryCommand),
        ("sync_payments.json", QboChange),
    ],
)
def test_sqs_samples_are_fifo_batches_whose_bodies_parse(name: str, model: type) -> None:
    (record,) = _event(name)["Records"]
    assert record["eventSource"] == "aws:sqs"
    assert {"MessageGroupId", "MessageDeduplicationId", "SequenceNumber", "ApproximateReceiveCount"} <= set(
        record["attributes"]
    )
    model.model_validate_json(record["body"])


@pytest.mark.parametrize(
    "name", ["onedesk_commands.json", "qbo_webhook.json", "health.json", "qbo_connect_settings.json"]
)
def test_http_samples_are_payload_v2_for_a_template_route(name: str) -> None:
    event = _event(name)
    assert event["version"] == "2.0"
    assert event["routeKey"] in _routes()


def test_webhook_sample_is_signed_with_the_local_verifier_and_parses() -> None:
    event = _event("qbo_webhook.json")
    body = base64.b64decode(event["body"]) if event["isBase64Encoded"] else event["body"].encode()
    assert verify_intuit("local-verifier-token", body, event["headers"]["intuit-signature"])
    (change,) = parse_notifications(body)
    assert change.entity == "Payment"


@pytest.mark.parametrize("name", ["onedesk_poller.json", "qbo_reconcile.json"])
def test_schedule_samples_are_scheduled_events(name: str) -> None:
    event = _event(name)
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
