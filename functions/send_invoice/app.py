"""send_invoice: consumes invoice-deliveries.fifo; has QBO email each invoice, once per send request
(Powertools idempotency on the second table, keyed on tenant, invoice and request id)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from qbo_sync import wiring
from qbo_sync.consumer import consume_fifo
from qbo_sync.domain.commands import DeliveryCommand
from qbo_sync.entrypoints import parse_or_reject
from qbo_sync.observability import logger, metrics, trace
from qbo_sync.usecases.send_invoice import Parked, handle_delivery

idempotency = IdempotencyConfig(
    event_key_jmespath="[tenant_id, invoice_id, request_id]",
    raise_on_no_idempotency_key=True,
    # A send request is honoured once for a month; a deliberate new send has a new request id.
    expires_after_seconds=int(timedelta(days=30).total_seconds()),
)
persistence = DynamoDBPersistenceLayer(table_name=wiring.settings().require("idempotency_table_name"))


@idempotent_function(  # type: ignore[untyped-decorator]  # Powertools' decorator factory is untyped
    data_keyword_argument="delivery", config=idempotency, persistence_store=persistence
)
def deliver(delivery: DeliveryCommand, outcome_unknown: bool) -> dict[str, str | None]:
    result = handle_delivery(delivery, wiring.delivery_ports(), outcome_unknown=outcome_unknown)
    metrics.add_metric(name=f"Send{result.outcome.value.capitalize()}", unit="Count", value=1)
    return {"outcome": result.outcome.value, "reason": result.reason, "intuit_tid": result.intuit_tid}


def record_handler(record: SQSRecord) -> None:
    delivery = parse_or_reject(record, DeliveryCommand)
    if delivery is None:
        return
    logger.append_keys(tenant_id=delivery.tenant_id, invoice_id=delivery.invoice_id)
    try:
        # A redelivered message may follow an attempt that died after QBO accepted the send.
        outcome = deliver(
            delivery=delivery, outcome_unknown=int(record.attributes.approximate_receive_count) > 1
        )
    except Parked:
        return
    logger.info("delivery handled", extra=outcome)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    idempotency.register_lambda_context(context)
    return consume_fifo(event, context, record_handler)
