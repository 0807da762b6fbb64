"""sync_payments: consumes qbo-changes.fifo (group = realm); writes each mapped invoice's absolute payment
state (paid, balance, status, last payment date) to OneDesk."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from qbo_sync import wiring
from qbo_sync.consumer import consume_fifo
from qbo_sync.domain.commands import QboChange
from qbo_sync.entrypoints import parse_or_reject
from qbo_sync.observability import logger, metrics, trace
from qbo_sync.usecases.payments import apply_qbo_change


def record_handler(record: SQSRecord) -> None:
    change = parse_or_reject(record, QboChange)
    if change is None:
        return
    logger.append_keys(realm_id=change.realm_id, entity=change.entity, entity_id=change.entity_id)
    result = apply_qbo_change(change, wiring.change_ports())
    if result.ignored:
        logger.info("change ignored", extra={"reason": result.ignored})
    metrics.add_metric(name="OneDeskInvoicesUpdated", unit="Count", value=result.invoices_updated)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume_fifo(event, context, record_handler)
