"""Queue ports: what use cases and the SQS consumers publish to, or change, on the FIFO queues."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from qbo_sync.domain.commands import DeliveryCommand, InvoiceCommand, QboChange


class CommandQueue(Protocol):
    """invoice-commands.fifo: copy (and maybe send) one OneDesk invoice."""

    def enqueue(self, command: InvoiceCommand) -> None: ...

    def enqueue_many(self, commands: Sequence[InvoiceCommand]) -> None: ...


class DeliveryQueue(Protocol):
    """invoice-deliveries.fifo: have QBO email an invoice that is up to date in QBO."""

    def enqueue(self, delivery: DeliveryCommand) -> None: ...


class ChangeQueue(Protocol):
    """qbo-changes.fifo: QBO entities whose changes may move what an invoice shows as paid."""

    def enqueue_many(self, changes: Sequence[QboChange]) -> None: ...


class MessageVisibility(Protocol):
    """The consuming function's own queue: when each failed record comes back."""

    def return_after(self, delays: Sequence[tuple[str, int]]) -> list[str]:
        """(receipt handle, seconds) pairs; returns why SQS refused any of them."""
        ...
