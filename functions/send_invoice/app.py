"""send_invoice: consumes invoice-deliveries.fifo; has QBO email each invoice, once per send request
(Powertools idempotency on the second table, keyed on tenant, invoice and request id)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from qbo_sync import wiring
from qbo_sync.consumer import consume_fifo
from qbo_sync.domain.commands import DeliveryCommand
from qbo_sync.entrypoints import parse_or_reject
from qbo_sync.observability import logger, metrics, trace
from qbo_sync.usecases.send_invoice import Parked, handle_delivery

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

type Outcome = dict[str, str | None]


def deliver(delivery: DeliveryCommand, outcome_unknown: bool) -> Outcome:
    result = handle_delivery(delivery, wiring.delivery_ports(), outcome_unknown=outcome_unknown)
    metrics.add_metric(name=f"Send{result.outcome.value.capitalize()}", unit="Count", value=1)
    return {"outcome": result.outcome.value, "reason": result.reason, "intuit_tid": result.intuit_tid}


@cache
def once_per_send_request() -> tuple[IdempotencyConfig, Callable[..., Outcome]]:
    """``deliver`` under Powertools idempotency, built at the first invocation: the utility loads boto3
    and its DynamoDB client (~110 ms), which the import of this module then does not pay."""
    from aws_lambda_powertools.utilities.idempotency import (  # noqa: PLC0415 - see the docstring
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath="[tenant_id, invoice_id, request_id]",
        raise_on_no_idempotency_key=True,
        # A send request is honoured once for a month; a deliberate new send has a new request id.
        expires_after_seconds=int(timedelta(days=30).total_seconds()),
    )
    persistence = DynamoDBPersistenceLayer(table_name=wiring.settings().require("idempotency_table_name"))
    once: Callable[..., Outcome] = idempotent_function(
        data_keyword_argument="delivery", config=config, persistence_store=persistence
    )(deliver)
    return config, once


def record_handler(record: SQSRecord) -> None:
    delivery = parse_or_reject(record, DeliveryCommand)
    if delivery is None:
        return
    logger.append_keys(tenant_id=delivery.tenant_id, invoice_id=delivery.invoice_id)
    try:
        # A redelivered message may follow an attempt that died after QBO accepted the send.
        outcome = once_per_send_request()[1](
            delivery=delivery, outcome_unknown=int(record.attributes.approximate_receive_count) > 1
        )
    except Parked:
        return
    logger.info("delivery handled", extra=outcome)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    once_per_send_request()[0].register_lambda_context(context)
    return consume_fifo(event, context, record_handler)
