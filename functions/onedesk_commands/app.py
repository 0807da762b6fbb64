"""POST /onedesk/commands: explicit "Copy to QuickBooks Online" / "Send invoice" requests from OneDesk,
signed with the tenant's shared secret. 401 bad signature, 400 bad body, 202 queued (a replay of a
request already honoured is answered 202 too, and queues nothing)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from qbo_sync import wiring
from qbo_sync.domain.json_body import MalformedJson, parse_json
from qbo_sync.entrypoints import describe, json_error, raw_body
from qbo_sync.observability import logger, metrics, trace
from qbo_sync.usecases.ingress import CommandRequest, Unauthorized, accept_command, authenticate

app = APIGatewayHttpResolver()


@app.post("/onedesk/commands")
def post_command() -> Response[str]:
    event = app.current_event
    body = raw_body(event)
    try:
        tenant = authenticate(
            wiring.tenant_store(),
            tenant_id=event.headers.get("x-onedesk-tenant"),
            timestamp=event.headers.get("x-onedesk-timestamp"),
            signature=event.headers.get("x-onedesk-signature"),
            raw_body=body,
            now=wiring.utc_now(),
        )
    except Unauthorized:
        return json_error(401, "missing or invalid signature")
    try:
        request = CommandRequest.model_validate(parse_json(body))
    except MalformedJson as malformed:
        return json_error(400, str(malformed))
    except ValidationError as invalid:
        return json_error(400, describe(invalid))
    accepted = accept_command(
        tenant, request, wiring.invoice_command_queue(), wiring.request_log(), wiring.utc_now()
    )
    command = accepted.command
    extra = {
        "tenant_id": tenant.tenant_id,
        "invoice_id": command.invoice_id,
        "request_id": command.request_id,
    }
    if accepted.replayed:
        metrics.add_metric(name="CommandsReplayed", unit="Count", value=1)
        logger.warning("replayed command ignored", extra=extra)
    else:
        metrics.add_metric(name="CommandsAccepted", unit="Count", value=1)
        logger.info("command queued", extra=extra)
    return Response(
        status_code=202,
        content_type="application/json",
        body=command.model_dump_json(include={"tenant_id", "invoice_id", "action", "request_id"}),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
