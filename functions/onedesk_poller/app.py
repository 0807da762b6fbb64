"""onedesk_poller (every minute): per tenant, turns invoices changed in OneDesk into commands on
invoice-commands.fifo. One tenant's failure (e.g. a revoked OneDesk key) never blocks the others."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qbo_sync import wiring
from qbo_sync.observability import logger, metrics, trace
from qbo_sync.ports.onedesk import OneDeskError
from qbo_sync.usecases.ingress import poll_paused, poll_tenant


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    polled, failed, paused = 0, 0, 0
    for tenant in wiring.tenant_store().list_tenants():
        if (reason := poll_paused(tenant, wiring.connection_store(), wiring.tenant_store())) is not None:
            paused += 1  # one line per tenant and run, not one note per invoice
            logger.info("poll paused", extra={"tenant_id": tenant.tenant_id, "reason": reason})
            continue
        try:
            result = poll_tenant(
                tenant,
                wiring.onedesk_for(tenant),
                wiring.tenant_store(),
                wiring.invoice_command_queue(),
                wiring.utc_now,
            )
        except OneDeskError as error:
            failed += 1
            logger.error("poll failed", extra={"tenant_id": tenant.tenant_id, "error": str(error)})
            continue
        polled += 1
        metrics.add_metric(name="CommandsQueued", unit="Count", value=result.commands)
        logger.info(
            "polled",
            extra={"tenant_id": tenant.tenant_id, "seen": result.invoices_seen, "queued": result.commands},
        )
    if failed:
        metrics.add_metric(name="PollFailures", unit="Count", value=failed)
    metrics.add_metric(name="PollsPaused", unit="Count", value=paused)
    return {"tenants_polled": polled, "tenants_failed": failed, "tenants_paused": paused}
