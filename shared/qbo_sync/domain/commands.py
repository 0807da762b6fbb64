"""Messages on the queues. Every message names its tenant (invariant 3)."""

from __future__ import annotations

import zlib
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from qbo_sync.domain.onedesk import Invoice


class InvoiceAction(StrEnum):
    COPY = "copy"
    SEND = "send"


# QBO realm and entity ids are short numeric strings; the bound keeps any value usable as a table key.
type QboId = Annotated[str, StringConstraints(min_length=1, max_length=64)]
type EventId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
# OneDesk ids (tenants are OneDesk accounts): the same bound as the commands route's, so every id a
# message names is usable as a table key; a longer one is a malformed message, dead-lettered with why.
type OneDeskId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
type RequestId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class InvoiceCommand(BaseModel):
    """On ``invoice-commands.fifo``: copy (and for ``send``, then deliver) one OneDesk invoice."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: OneDeskId
    invoice_id: OneDeskId
    action: InvoiceAction
    request_id: RequestId = Field(description="identifies one user request")
    requested_at: datetime
    source: Literal["poller", "api", "parked"]
    snapshot: Invoice | None = None
    # Set when parked work is queued again: a new delivery of the same request, which FIFO
    # deduplication must not drop as a repeat of the message that was parked minutes ago.
    resumed_at: datetime | None = None


class DeliveryCommand(BaseModel):
    """On ``invoice-deliveries.fifo``: have QBO email an invoice that is already up to date in QBO."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: OneDeskId
    realm_id: QboId
    invoice_id: OneDeskId
    invoice_number: str
    qbo_invoice_id: QboId
    send_to: str
    request_id: RequestId
    requested_at: datetime


# The QBO entities whose changes can move what an invoice shows as paid.
type ChangedEntity = Literal["Payment", "Invoice", "CreditMemo"]


class QboChange(BaseModel):
    """On ``qbo-changes.fifo``: one QBO entity changed (from a webhook or from CDC)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    realm_id: QboId
    entity: ChangedEntity
    entity_id: QboId
    operation: Annotated[str, StringConstraints(max_length=64)]
    event_id: EventId
    occurred_at: datetime | None = None


def command_group_id(tenant_id: str, invoice_id: str, shards: int) -> str:
    """FIFO group: one invoice's commands stay ordered, and a tenant never has more than ``shards``
    groups (so at most that many copies) in flight at once."""
    return f"{tenant_id}#{zlib.crc32(invoice_id.encode()) % shards}"


def command_deduplication_id(command: InvoiceCommand) -> str:
    """The same change announced twice (poller overlap, double click) is one message."""
    version = command.snapshot.modified_at.isoformat() if command.snapshot else command.request_id
    resumed = f":resumed:{command.resumed_at.isoformat()}" if command.resumed_at else ""
    return f"{command.tenant_id}:{command.invoice_id}:{command.action.value}:{version}{resumed}"
