"""OAuth grants, codes and tokens (§11): issuing, rotation with a grace period, revocation."""

import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

# Intuit access tokens are compact JWE strings; refresh tokens are opaque "RT1-..." values.
ACCESS_TOKEN_PREFIX = "eyJlbmMiOiJBMTI4Q0JDLUhTMjU2IiwiYWxnIjoiZGlyIn0.."  # noqa: S105 - a format, not a secret
REFRESH_TOKEN_SECONDS = 8726400  # rolling ~100 days, renewed on every refresh
HARD_EXPIRY = timedelta(days=5 * 365)  # the 2025 absolute cap on a grant
CODE_LIFETIME = timedelta(minutes=10)
ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"


class TokenError(Exception):
    """An OAuth protocol error: `error` is the RFC 6749 code, `description` the detail."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description


@dataclass
class Grant:
    grant_id: str
    realm_id: str
    client_id: str
    scope: str
    created: datetime
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    grant_id: str
    expires_at: datetime


@dataclass
class RefreshToken:
    token: str
    grant_id: str
    expires_at: datetime
    rotated_at: datetime | None = None
    successor: dict[str, Any] | None = None  # the token response its rotation produced


@dataclass
class AuthCode:
    code: str
    realm_id: str
    client_id: str
    redirect_uri: str
    scope: str
    expires_at: datetime


def _datetimes_to_text(raw: dict[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in raw.items()}


def _text_to_datetimes(raw: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    return {
        key: datetime.fromisoformat(value) if key in fields and value else value for key, value in raw.items()
    }


class OAuthStore:
    def __init__(self) -> None:
        self.grants: dict[str, Grant] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.codes: dict[str, AuthCode] = {}

    def issue_code(self, realm_id: str, client_id: str, redirect_uri: str, scope: str, now: datetime) -> str:
        code = "AB11" + secrets.token_urlsafe(36)
        self.codes[code] = AuthCode(code, realm_id, client_id, redirect_uri, scope, now + CODE_LIFETIME)
        return code

    def _issue(self, grant: Grant, now: datetime, ttl_seconds: int, hard_expiry: bool) -> dict[str, Any]:
        access = ACCESS_TOKEN_PREFIX + secrets.token_urlsafe(96)
        refresh = "RT1-" + secrets.token_hex(4) + "-H0-" + secrets.token_hex(24)
        self.access_tokens[access] = AccessToken(access, grant.grant_id, now + timedelta(seconds=ttl_seconds))
        self.refresh_tokens[refresh] = RefreshToken(
            refresh, grant.grant_id, now + timedelta(seconds=REFRESH_TOKEN_SECONDS)
        )
        response: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": ttl_seconds,
            "refresh_token": refresh,
            "x_refresh_token_expires_in": REFRESH_TOKEN_SECONDS,
            "access_token": access,
        }
        if hard_expiry:
            response["x_refresh_token_hard_expires_in"] = int(
                (grant.created + HARD_EXPIRY - now).total_seconds()
            )
        return response

    def mint(self, realm_id: str, client_id: str, now: datetime, ttl_seconds: int) -> dict[str, Any]:
        """A fresh grant, as if the user had just completed the consent flow."""
        grant = Grant(secrets.token_hex(8), realm_id, client_id, ACCOUNTING_SCOPE, now)
        self.grants[grant.grant_id] = grant
        return self._issue(grant, now, ttl_seconds, hard_expiry=False)

    def exchange_code(
        self, code: str, client_id: str, redirect_uri: str, now: datetime, ttl_seconds: int, hard_expiry: bool
    ) -> tuple[Grant, dict[str, Any]]:
        issued = self.codes.pop(code, None)  # single use, whatever the outcome
        if issued is None:
            raise TokenError("invalid_grant", "Authorization code is invalid or has already been used")
        if issued.expires_at <= now:
            raise TokenError("invalid_grant", "Authorization code has expired")
        if issued.client_id != client_id or issued.redirect_uri != redirect_uri:
            raise TokenError(
                "invalid_grant", "redirect_uri or client does not match the authorization request"
            )
        grant = Grant(secrets.token_hex(8), issued.realm_id, client_id, issued.scope, now)
        self.grants[grant.grant_id] = grant
        return grant, self._issue(grant, now, ttl_seconds, hard_expiry)

    def grant_of(self, token: str) -> Grant | None:
        stored = self.refresh_tokens.get(token) or self.access_tokens.get(token)
        return self.grants.get(stored.grant_id) if stored else None

    def refresh(
        self,
        token: str,
        client_id: str,
        now: datetime,
        ttl_seconds: int,
        grace_seconds: float,
        hard_expiry: bool,
    ) -> tuple[Grant, dict[str, Any], bool]:
        """(grant, token response, replayed): every refresh rotates; a superseded token replays
        its successor pair within the grace period and is invalid_grant afterwards."""
        stored = self.refresh_tokens.get(token)
        grant = self.grants.get(stored.grant_id) if stored else None
        if stored is None or grant is None or grant.revoked:
            raise TokenError("invalid_grant", "Incorrect or invalid refresh token")
        if grant.client_id != client_id:
            raise TokenError("invalid_grant", "Refresh token was issued to another client")
        if stored.expires_at <= now or grant.created + HARD_EXPIRY <= now:
            raise TokenError("invalid_grant", "Token has been expired or revoked")
        if stored.rotated_at is not None and stored.successor is not None:
            if now - stored.rotated_at < timedelta(seconds=grace_seconds):
                return grant, stored.successor, True
            raise TokenError("invalid_grant", "Incorrect or invalid refresh token")
        response = self._issue(grant, now, ttl_seconds, hard_expiry)
        stored.rotated_at, stored.successor = now, response
        return grant, response, False

    def check_access_token(self, token: str, now: datetime) -> Grant:
        """The grant behind a bearer token; TokenError's description is the 401 detail."""
        stored = self.access_tokens.get(token)
        grant = self.grants.get(stored.grant_id) if stored else None
        if stored is None or grant is None:
            raise TokenError("invalid_token", "Token invalid")
        if grant.revoked:
            raise TokenError("invalid_token", "Token revoked")
        if stored.expires_at <= now:
            raise TokenError("invalid_token", f"Token expired: {token[len(ACCESS_TOKEN_PREFIX) :][:16]}")
        return grant

    def revoke(self, token: str) -> Grant | None:
        """Revoking either token of a grant disconnects the whole grant."""
        grant = self.grant_of(token)
        if grant is not None:
            grant.revoked = True
        return grant

    def expire_access_tokens(self, realm_id: str, now: datetime) -> int:
        expired = 0
        for stored in self.access_tokens.values():
            grant = self.grants.get(stored.grant_id)
            if grant is not None and grant.realm_id == realm_id and stored.expires_at > now:
                stored.expires_at = now
                expired += 1
        return expired

    def to_json(self) -> dict[str, Any]:
        return {
            "grants": [_datetimes_to_text(asdict(grant)) for grant in self.grants.values()],
            "access_tokens": [_datetimes_to_text(asdict(token)) for token in self.access_tokens.values()],
            "refresh_tokens": [_datetimes_to_text(asdict(token)) for token in self.refresh_tokens.values()],
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "OAuthStore":
        store = cls()
        for item in raw.get("grants", []):
            grant = Grant(**_text_to_datetimes(item, ("created",)))
            store.grants[grant.grant_id] = grant
        for item in raw.get("access_tokens", []):
            access = AccessToken(**_text_to_datetimes(item, ("expires_at",)))
            store.access_tokens[access.token] = access
        for item in raw.get("refresh_tokens", []):
            refresh = RefreshToken(**_text_to_datetimes(item, ("expires_at", "rotated_at")))
            store.refresh_tokens[refresh.token] = refresh
        return store
