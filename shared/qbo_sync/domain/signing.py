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
# A signature is accepted up to 5 minutes either side of its timestamp, so a request first seen at t can
# be replayed until t + 10 minutes; what was honoured is remembered that long, plus a minute of slack.
REPLAY_MEMORY = 2 * SIGNATURE_WINDOW + timedelta(minutes=1)
# Unix seconds have 10 digits until the year 2286: a longer timestamp, expiry or session time is refused
# before int() (whose float comparison overflows) ever sees it.
_MAX_UNIX_DIGITS = 12


def _same(expected: str, given: str) -> bool:
    """Constant-time, on bytes: ``compare_digest`` raises for a str with non-ASCII characters, which any
    forged header, cookie or form field may hold."""
    return hmac.compare_digest(expected.encode(), given.encode(errors="surrogatepass"))


def _unix_seconds(value: str | None) -> int | None:
    """ASCII digits only (``str.isdigit`` also accepts "²", which ``int`` refuses), and not too many."""
    if not value or len(value) > _MAX_UNIX_DIGITS or not (value.isascii() and value.isdigit()):
        return None
    return int(value)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, "<timestamp>." + body)): the timestamp is signed, so it cannot be replayed
    later with a fresh one."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(secret: str, timestamp: str | None, body: bytes, signature: str | None, now: datetime) -> bool:
    signed_at = _unix_seconds(timestamp)
    if signed_at is None or not signature:
        return False
    if abs(now.timestamp() - signed_at) > SIGNATURE_WINDOW.total_seconds():
        return False
    return _same(sign(secret, signed_at, body), signature)


def intuit_signature(verifier_token: str, raw_body: bytes) -> str:
    """Intuit's intuit-signature header: base64(HMAC-SHA256(verifier token, raw body))."""
    digest = hmac.new(verifier_token.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_intuit(verifier_token: str, raw_body: bytes, signature: str | None) -> bool:
    return bool(signature) and _same(intuit_signature(verifier_token, raw_body), str(signature))


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
    expires_at = _unix_seconds(expires)
    if expires_at is None or not signature:
        return False
    if not now.timestamp() < expires_at <= (now + CONNECT_LINK_MAX_LIFETIME).timestamp():
        return False
    return _same(connect_link_signature(secret, tenant_id, expires_at), signature)


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
    expires = _unix_seconds(parts[1]) if len(parts) == 3 else None
    if expires is None or expires <= now.timestamp():
        return False
    tenant_id = unquote(parts[0])
    return _same(session_value(secret, tenant_id, expires), value)


def csrf_token(secret: str, session: str) -> str:
    """The hidden field of every POST form: only a page rendered for this session carries it."""
    return _hmac_hex(secret, f"qbo-csrf.{session}")


def verify_csrf(secret: str, session: str, token: str | None) -> bool:
    return bool(token) and _same(csrf_token(secret, session), str(token))
