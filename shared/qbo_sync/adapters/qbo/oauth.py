"""Intuit OAuth 2.0 with plain ``requests`` against the fixed endpoints (implements ``OAuthPort``).

Not ``intuit-oauth``: its ``AuthClient`` fetches the OpenID discovery document on every construction,
i.e. on every cold start (docs/qbo-rate-limits.md, "Why not intuit-oauth"). The endpoints are stable
and come from Settings instead.

Client credentials go in the Basic header of each call and nowhere else; error messages carry
Intuit's ``error``/``error_description`` and ``intuit_tid``, never a token or the secret.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from aws_lambda_powertools.utilities import parameters
from pydantic import BaseModel, ConfigDict, SecretStr

from qbo_sync.config import Settings
from qbo_sync.domain.connection import TokenSet
from qbo_sync.ports.tokens import InvalidGrant, OAuthError, OAuthUnavailable

__all__ = [
    "IntuitApp",
    "IntuitOAuth",
    "InvalidGrant",
    "OAuthError",
    "OAuthUnavailable",
    "load_intuit_app",
]

ACCOUNTING_SCOPE = "com.intuit.quickbooks.accounting"
_NETWORK_ERRORS = (requests.Timeout, requests.ConnectionError)


class IntuitApp(BaseModel):
    """The Intuit app's client credentials (Secrets Manager: ``{"client_id", "client_secret"}``)."""

    model_config = ConfigDict(frozen=True)

    client_id: str
    client_secret: SecretStr


def load_intuit_app(settings: Settings) -> IntuitApp:
    """Read through Powertools' cache: one Secrets Manager call per cold start and per 5 minutes."""
    secret = parameters.get_secret(settings.require("qbo_app_secret_name"), transform="json", max_age=300)
    return IntuitApp.model_validate(secret)


class _TokenResponse(BaseModel):
    access_token: SecretStr
    refresh_token: SecretStr
    expires_in: int
    x_refresh_token_expires_in: int | None = None

    def token_set(self, issued_at: datetime) -> TokenSet:
        refresh_expires_at = None
        if self.x_refresh_token_expires_in is not None:
            refresh_expires_at = issued_at + timedelta(seconds=self.x_refresh_token_expires_in)
        return TokenSet(
            access_token=self.access_token,
            refresh_token=self.refresh_token,
            access_expires_at=issued_at + timedelta(seconds=self.expires_in),
            refresh_expires_at=refresh_expires_at,
        )


class IntuitOAuth:
    def __init__(  # noqa: PLR0917 - positional order is the documented wiring API
        self,
        client_id: str,
        client_secret: SecretStr,
        authorize_url: str,
        token_url: str,
        revoke_url: str,
        session: requests.Session,
        timeout: float,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._authorize_url = authorize_url
        self._token_url = token_url
        self._revoke_url = revoke_url
        self._session = session
        self._timeout = timeout

    def authorization_url(self, state: str, redirect_uri: str, scope: str = ACCOUNTING_SCOPE) -> str:
        query = {
            "client_id": self._client_id,
            "response_type": "code",
            "scope": scope,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        return f"{self._authorize_url}?{urlencode(query)}"

    def exchange_code(self, code: str, redirect_uri: str) -> TokenSet:
        return self._grant({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri})

    def refresh(self, refresh_token: SecretStr) -> TokenSet:
        return self._grant({"grant_type": "refresh_token", "refresh_token": refresh_token.get_secret_value()})

    def revoke(self, token: SecretStr) -> None:
        self._post(self._revoke_url, json={"token": token.get_secret_value()})

    def _grant(self, form: dict[str, str]) -> TokenSet:
        issued_at = datetime.now(UTC)
        response = self._post(self._token_url, data=form)
        return _TokenResponse.model_validate_json(response.content).token_set(issued_at)

    def _post(self, url: str, **body: Any) -> requests.Response:
        try:
            response = self._session.post(
                url,
                headers={"Accept": "application/json"},
                auth=(self._client_id, self._client_secret.get_secret_value()),
                timeout=self._timeout,
                **body,
            )
        except _NETWORK_ERRORS as exc:
            raise OAuthUnavailable(f"{type(exc).__name__} calling Intuit OAuth") from None
        if response.ok:
            return response
        raise _error_for(response)


def _error_for(response: requests.Response) -> OAuthError:
    intuit_tid = response.headers.get("intuit_tid")
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = str(body.get("error", "")) if isinstance(body, dict) else ""
    description = str(body.get("error_description", "")) if isinstance(body, dict) else ""
    message = f"Intuit OAuth HTTP {response.status_code}: {error or 'error'}"
    if description:
        message += f" ({description})"
    if error == "invalid_grant":
        return InvalidGrant(message, status=response.status_code, intuit_tid=intuit_tid)
    if response.status_code >= 500 or response.status_code == 429:
        return OAuthUnavailable(message, status=response.status_code, intuit_tid=intuit_tid)
    return OAuthError(message, status=response.status_code, intuit_tid=intuit_tid)
