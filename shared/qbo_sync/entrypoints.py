"""What every handler does the same way: parse an SQS record into its model or reject it to the DLQ
with a readable reason (nothing silently dropped, nothing retried that can never parse); read an HTTP
body byte for byte; answer errors as JSON."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING

from aws_lambda_powertools.event_handler import Response
from pydantic import BaseModel, ValidationError

from qbo_sync import wiring
from qbo_sync.observability import logger

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


def describe(error: ValidationError) -> str:
    """``field.path: message`` per problem, without echoing input values back."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors())


def reject(record: SQSRecord, reason: str) -> None:
    logger.error(
        "message rejected to its dead-letter queue", extra={"message_id": record.message_id, "reason": reason}
    )
    wiring.dead_letters().reject(record, reason)


def parse_or_reject[M: BaseModel](record: SQSRecord, model: type[M]) -> M | None:
    try:
        return model.model_validate_json(record.body)
    except ValidationError as invalid:
        reject(record, f"invalid {model.__name__}: {describe(invalid)}")
        return None


def raw_body(event: BaseProxyEvent) -> bytes:
    """The request body exactly as sent: signatures are computed over these bytes, never re-serialised."""
    if event.body is None:
        return b""
    return base64.b64decode(event.body) if event.is_base64_encoded else event.body.encode("utf-8")


def json_error(status: int, message: str) -> Response[str]:
    return Response(status_code=status, content_type="application/json", body=json.dumps({"error": message}))
