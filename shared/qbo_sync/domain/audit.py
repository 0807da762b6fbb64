"""The audit trail: one record per decision, so an admin and support can see what happened and why."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class Outcome(StrEnum):
    DONE = "done"
    UNCHANGED = "unchanged"
    REFUSED = "refused"
    PARKED = "parked"
    FAILED = "failed"
    WARNING = "warning"
    CONFLICT = "conflict"  # edited in QBO since our last write: waits for the admin's decision


class AuditRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str
    at: datetime
    action: str
    outcome: Outcome
    invoice_id: str | None = None
    invoice_number: str | None = None
    reason: str | None = None
    realm_id: str | None = None
    qbo_invoice_id: str | None = None
    intuit_tid: str | None = None
    request_id: str | None = None
    sync_token_before: str | None = None
    sync_token_after: str | None = None
