"""copy_invoice: consumes invoice-commands.fifo; copies each OneDesk invoice to QBO (and queues the
delivery for a send). Partial batch failures keep the rest of the batch moving, and a failed record
comes back after its own retry delay (``qbo_sync.consumer``)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from qbo_sync import wiring
from qbo_sync.consumer import consume_fifo
from qbo_sync.domain.commands import InvoiceCommand
from qbo_sync.entrypoints import parse_or_reject
from qbo_sync.observability import logger, metrics, trace
from qbo_sync.usecases.invoice_commands import handle_invoice_command


def record_handler(record: SQSRecord) -> None:
    command = parse_or_reject(record, InvoiceCommand)
    if command is None:
        return
    logger.append_keys(
        tenant_id=command.tenant_id, invoice_id=command.invoice_id, action=command.action.value
    )
    result = handle_invoice_command(command, wiring.command_ports())
    metrics.add_metric(name=f"Copy{result.outcome.value.capitalize()}", unit="Count", value=1)
    logger.info("invoice command handled", extra={"outcome": result.outcome.value, "reason": result.reason})


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume_fifo(event, context, record_handler)
