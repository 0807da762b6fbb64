"""HMAC-SHA256 request signatures (OneDesk commands, signed settings links, the admin's session and CSRF
tokens) and Intuit's webhook signature. Comparisons are constant-time; a stale timestamp fails like a
wrong signature."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from urllib.parse import quote, unquote

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


# ---------------------------------------------------------------- the admin's pages (qbo_connect)
# OneDesk links to /qbo/connect and /qbo/settings with ?tenant&expires&sig; the link opens a session
# (cookie) whose CSRF token is derived from it. Each HMAC has its own message format or purpose
# prefix, so no value can be replayed as another.

# A link that claims to stay valid longer than this is refused: a leaked link must not last for ever.
CONNECT_LINK_MAX_LIFETIME = timedelta(days=1)
SESSION_LIFETIME = timedelta(hours=8)


def _hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def connect_link_signature(secret: str, tenant_id: str, expires: int) -> str:
    """hex(HMAC-SHA256(tenant shared secret, "<tenant>.<expires>")), expires in unix seconds."""
    return _hmac_hex(secret, f"{tenant_id}.{expires}")


def verify_connect_link(
    secret: str, tenant_id: str, expires: str | None, signature: str | None, now: datetime
) -> bool:
    if not expires or not signature or not expires.isdigit():
        return False
    expires_at = int(expires)
    if not now.timestamp() < expires_at <= (now + CONNECT_LINK_MAX_LIFETIME).timestamp():
        return False
    return hmac.compare_digest(connect_link_signature(secret, tenant_id, expires_at), signature)


def session_value(secret: str, tenant_id: str, expires: int) -> str:
    """``<tenant, url-quoted>.<expires>.<hmac>``: cookie-safe, and names the tenant whose secret signs it."""
    quoted = quote(tenant_id, safe="")
    return f"{quoted}.{expires}.{_hmac_hex(secret, f'qbo-session.{quoted}.{expires}')}"


def session_tenant(value: str) -> str | None:
    """The tenant a session value claims (unverified: look up its secret, then ``verify_session``)."""
    parts = value.rsplit(".", 2)
    return unquote(parts[0]) if len(parts) == 3 and parts[0] else None


def verify_session(secret: str, value: str, now: datetime) -> bool:
    parts = value.rsplit(".", 2)
    if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) <= now.timestamp():
        return False
    tenant_id = unquote(parts[0])
    return hmac.compare_digest(session_value(secret, tenant_id, int(parts[1])), value)


def csrf_token(secret: str, session: str) -> str:
    """The hidden field of every POST form: only a page rendered for this session carries it."""
    return _hmac_hex(secret, f"qbo-csrf.{session}")


def verify_csrf(secret: str, session: str, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(secret, session), str(token))
