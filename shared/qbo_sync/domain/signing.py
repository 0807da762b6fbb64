"""HMAC-SHA256 request signatures (OneDesk commands, signed settings links) and Intuit's webhook
signature. Comparisons are constant-time; a stale timestamp fails like a wrong signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

SIGNATURE_WINDOW = timedelta(minutes=5)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, "<timestamp>." + body)): the timestamp is signed, so it cannot be replayed
    later with a fresh one."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str | None, body: bytes, signature: str | None, now: datetime) -> bool:
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    signed_at = int(timestamp)
    if abs(now.timestamp() - signed_at) > SIGNATURE_WINDOW.total_seconds():
        return False
    return hmac.compare_digest(sign(secret, signed_at, body), signature)


def intuit_signature(verifier_token: str, raw_body: bytes) -> str:
    """QBO-FACTS §10: base64(HMAC-SHA256(verifier token, raw body))."""
    digest = hmac.new(verifier_token.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_intuit(verifier_token: str, raw_body: bytes, signature: str | None) -> bool:
    return bool(signature) and hmac.compare_digest(intuit_signature(verifier_token, raw_body), str(signature))
