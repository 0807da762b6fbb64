"""OneDesk adapter: the public API client that implements ``OneDeskPort``."""

from qbo_sync.adapters.onedesk.client import OneDeskClient

__all__ = ["OneDeskClient"]
