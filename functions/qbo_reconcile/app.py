"""qbo_reconcile (schedule): per connected realm, QBO change data capture since the watermark, queued
like webhook events, so lost webhooks never leave a OneDesk invoice wrong."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from qbo_sync import deadline, wiring
from qbo_sync.observability import logger, metrics, trace
from qbo_sync.usecases.payments import reconcile_realm


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@trace
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    with deadline.invocation(context):
        realms, changes, failed = _reconcile_every_realm()
    metrics.add_metric(name="ReconcileChangesQueued", unit="Count", value=changes)
    metrics.add_metric(name="ReconcileRealmFailures", unit="Count", value=failed)
    return {"realms": realms, "changes": changes, "failed": failed}


def _reconcile_every_realm() -> tuple[int, int, int]:
    realms = changes = failed = 0
    for connection in wiring.connection_store().list_connected():
        try:
            result = reconcile_realm(
                connection,
                wiring.qbo_for(connection.tenant_id, connection.realm_id),
                wiring.tenant_store(),
                wiring.qbo_change_queue(),
                wiring.utc_now,
            )
        except Exception:  # one company's bad data or outage must not stop reconcile for the others
            failed += 1
            logger.exception("reconcile failed for a realm", extra={"realm_id": connection.realm_id})
            continue
        realms += 1
        changes += result.changes
    return realms, changes, failed
