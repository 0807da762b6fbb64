"""The OneDesk port: everything the use cases read from or write to OneDesk, and how it fails.

Every write is an absolute "set" (or a tag keyed by its name), so repeating one after a crash or a
retry leaves OneDesk in the same state. Each write also bumps the invoice's modification time in
OneDesk, so the poller sees the product's own write-backs as changes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from qbo_sync.domain.onedesk import AccountProfile, Invoice, PaymentState, QboReference, SyncMessage, Tag


class OneDeskError(Exception):
    """OneDesk refused or could not serve a request; raised as such when retrying cannot help.

    Messages never contain the API key.
    """


class OneDeskNotFound(OneDeskError):
    """The invoice (or resource) does not exist for this account."""


class OneDeskAuthError(OneDeskError):
    """The API key is missing, wrong or revoked, or lacks access: permanent until the admin fixes it."""


class OneDeskUnavailable(OneDeskError):
    """A transient failure (HTTP 429, 5xx, timeout, connection error) left after the client's own retries."""


class OneDeskPort(Protocol):
    def get_account_profile(self) -> AccountProfile:
        """The account behind the API key, with its plan (P1)."""
        ...

    def list_invoices_modified_since(self, since: datetime) -> list[Invoice]:
        """Every invoice modified at or after ``since`` (tz-aware), all pages, oldest change first."""
        ...

    def get_invoice(self, invoice_id: str) -> Invoice:
        """Raises ``OneDeskNotFound`` when the account has no such invoice."""
        ...

    def set_qbo_reference(self, invoice_id: str, reference: QboReference) -> None:
        """Record which QBO invoice this one was copied to, and show the "Copied to QBO" tag (P7)."""
        ...

    def add_tag(self, invoice_id: str, tag: Tag) -> None:
        """Show ``tag`` next to the invoice's status; a tag with the same name is replaced."""
        ...

    def set_sync_message(self, invoice_id: str, message: SyncMessage) -> None:
        """Show the outcome of the last sync to the user, e.g. why an invoice was not sent (P10)."""
        ...

    def set_payment_state(self, invoice_id: str, state: PaymentState) -> None:
        """Write what is paid and what is still owed, as recomputed from QBO (P18)."""
        ...
