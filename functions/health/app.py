"""GET /health: reports the build version and checks that the table and the queues answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from qbo_sync import wiring
from qbo_sync.adapters.aws import dynamodb_table, sqs_client
from qbo_sync.observability import logger, trace
from qbo_sync.usecases.health import check_health

app = APIGatewayHttpResolver()


def _queue_probe(url: str) -> Callable[[], None]:
    return lambda: sqs_client().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"]) and None


@app.get("/health")
def health() -> Response[str]:
    settings = wiring.settings()
    probes: dict[str, Callable[[], None]] = {
        "table": lambda: dynamodb_table(settings.require("app_table_name")).load(),
    }
    for name in ("invoice_commands_queue_url", "invoice_deliveries_queue_url", "qbo_changes_queue_url"):
        url = getattr(settings, name)
        if url:
            probes[name.removesuffix("_queue_url").replace("_", "-")] = _queue_probe(url)
    report = check_health(settings.build_version, probes)
    return Response(
        status_code=200 if report.status == "ok" else 503,
        content_type="application/json",
        body=report.model_dump_json(),
    )


@logger.inject_lambda_context(clear_state=True)
@trace
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
