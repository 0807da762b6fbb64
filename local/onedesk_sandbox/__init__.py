"""A local stand-in for OneDesk's public API (our contract: docs/onedesk-contract.md), with a control API."""

from local.onedesk_sandbox.server import OneDeskSandbox

__all__ = ["OneDeskSandbox"]
