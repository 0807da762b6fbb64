"""A local QuickBooks Online sandbox emulator: data API v3, Intuit OAuth 2.0 and a control API.

The interface contract is docs/qbo-sandbox-spec.md; behaviour follows docs/qbo-facts.md (cited as §N).
"""

from local.qbo_sandbox.sandbox import QboSandbox

__all__ = ["QboSandbox"]
