"""POST /qbo/webhooks: Intuit's change notifications. Verify intuit-signature over the raw body, queue the
changes that can move a paid amount on qbo-changes.fifo, answer fast: Intuit wants a 2xx within 3 s and
otherwise sends the whole batch again (0 s, 10 s, 20 s, 30 s, 5 min, ...)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.parameters import get_secret
from aws_lambda_powertools.utilities.typing import LambdaContext

from qbo_sync import wiring
from qbo_sync.domain.signing import verify_intuit
from qbo_sync.domain.webhooks import MalformedWebhook
from qbo_sync.entrypoints import json_error, raw_body
from qbo_sync.observability import logger, metrics, trace
from qbo_sync.usecases.payments import accept_webhook

# Intuit batches events; at ~300 bytes per CloudEvent this is ~3,500 events, all queued within the
# acknowledgement window (README, "Webhooks"). A larger body is refused before its signature is checked.
MAX_BODY_BYTES = 1024 * 1024
ACKNOWLEDGE_WITHIN_SECONDS = 3.0
VERIFIER_CACHE_SECONDS = 300
app = APIGatewayHttpResolver()


def _verifier_token() -> str:
    name = wiring.settings().require("qbo_webhook_verifier_secret_name")
    return str(get_secret(name, max_age=VERIFIER_CACHE_SECONDS))


@app.post("/qbo/webhooks")
def receive() -> Response[str]:
    started = time.monotonic()
    body = raw_body(app.current_event)
    if len(body) > MAX_BODY_BYTES:
        return json_error(413, f"body larger than {MAX_BODY_BYTES} bytes")
    if not verify_intuit(_verifier_token(), body, app.current_event.headers.get("intuit-signature")):
        metrics.add_metric(name="WebhookRejected", unit="Count", value=1)
        return json_error(401, "missing or invalid intuit-signature")
    try:
        result = accept_webhook(body, wiring.connection_store(), wiring.qbo_change_queue())
    except MalformedWebhook as malformed:
        return json_error(400, str(malformed))
    elapsed = time.monotonic() - started
    logger.info(
        "webhook acknowledged",
        extra={
            "queued": result.queued,
            "no_payment_news": result.no_payment_news,
            "unknown_realm": result.unknown_realm,
            "seconds": round(elapsed, 3),
        },
    )
    if elapsed > ACKNOWLEDGE_WITHIN_SECONDS:
        # Everything is queued; Intuit will send the batch again and SQS deduplication drops it.
        logger.warning("webhook acknowledged after Intuit's 3 s", extra={"seconds": round(elapsed, 3)})
    metrics.add_metric(name="WebhookChangesQueued", unit="Count", value=result.queued)
    return Response(status_code=200, content_type="application/json", body='{"status":"ok"}')


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
