"""Everything the emulator remembers, behind one lock: companies, app registration, limits, tokens,
the request log, per-realm statistics, injected faults and the requestid replay store."""

import re
import threading
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from local.qbo_sandbox.clock import EmulatorClock, response_time
from local.qbo_sandbox.seed import FIRST_EXTRA_REALM, seed_company, seed_default_companies
from local.qbo_sandbox.store import Company
from local.qbo_sandbox.tokens import OAuthStore
from local.qbo_sandbox.wire import Response

REQUEST_LOG_LIMIT = 100_000  # a long `make dev` session must not grow without bound
SNAPSHOT_VERSION = 1


class ConfigError(ValueError):
    """A control-API value of the wrong type or out of range (answered as 400)."""


def _coerce(name: str, expected: object, value: object) -> object:
    """Check a control-API JSON value against a dataclass field's type."""
    if expected is bool and isinstance(value, bool):
        return value
    if expected is str and isinstance(value, str):
        return value
    if expected == (str | None) and (value is None or isinstance(value, str)):
        return value
    if expected == (list[str] | None) and (
        value is None or (isinstance(value, list) and all(isinstance(item, str) for item in value))
    ):
        return value
    if (
        expected in (int, float)
        and isinstance(value, int | float | Decimal)
        and not isinstance(value, bool)
        and value >= 0
    ):
        return int(value) if expected is int else float(value)
    raise ConfigError(f"{name}: invalid value {value!r}")


def _apply(target: "AppRegistration | Limits", changes: dict[str, Any]) -> None:
    """Validate everything first so one bad value leaves the configuration untouched."""
    types = {item.name: item.type for item in fields(target)}
    unknown = sorted(set(changes) - set(types))
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
    coerced = {name: _coerce(name, types[name], value) for name, value in changes.items()}
    for name, value in coerced.items():
        setattr(target, name, value)


@dataclass
class AppRegistration:
    name: str = "Local Sandbox App"
    client_id: str = "local-client-id"
    client_secret: str = "local-client-secret"  # noqa: S105 - the documented sandbox default
    # None: any http://127.0.0.1:*/ or http://localhost:*/ redirect URI is accepted.
    redirect_uris: list[str] | None = None
    webhook_url: str | None = None
    verifier_token: str = "local-verifier-token"  # noqa: S105 - the documented sandbox default
    webhook_format: str = "cloudevents"
    webhook_content_type: str = "application/json"
    webhooks_enabled: bool = True
    refresh_grace_seconds: float = 0.0
    access_token_ttl_seconds: int = 3600

    def update(self, changes: dict[str, Any]) -> None:
        if changes.get("webhook_format", self.webhook_format) not in ("cloudevents", "legacy"):
            raise ConfigError("webhook_format must be 'cloudevents' or 'legacy'")
        url = changes.get("webhook_url")
        if isinstance(url, str) and urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError("webhook_url must be an http(s) URL")
        _apply(self, changes)


@dataclass
class Limits:
    max_in_flight: int = 10
    max_per_minute: int = 500
    window_seconds: float = 60.0
    requestid_retention_seconds: float = 24 * 3600.0

    def update(self, changes: dict[str, Any]) -> None:
        _apply(self, changes)


@dataclass
class RealmStats:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    max_in_window: int = 0
    throttled: int = 0
    window: deque[datetime] = field(default_factory=deque)  # accepted requests, emulator time

    def to_json(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "max_in_flight": self.max_in_flight,
            "max_in_window": self.max_in_window,
            "throttled": self.throttled,
        }


@dataclass
class FaultRule:
    rule_id: str
    count: int
    status: int | None = None
    method: str | None = None
    path_regex: str | None = None
    realm_id: str | None = None
    delay_ms: int = 0
    after_commit: bool = False

    def matches(self, method: str, path: str, raw_query: str, realm_id: str) -> bool:
        if self.count <= 0 or (self.method and self.method.upper() != method):
            return False
        if self.realm_id and self.realm_id != realm_id:
            return False
        if self.path_regex:
            # Against the bare path or the path with its query, so "operation=void" can be targeted.
            with_query = f"{path}?{raw_query}" if raw_query else path
            return any(re.search(self.path_regex, candidate) for candidate in (path, with_query))
        return True

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.rule_id,
            "remaining": self.count,
            "status": self.status,
            "method": self.method,
            "path_regex": self.path_regex,
            "realmId": self.realm_id,
            "delay_ms": self.delay_ms,
            "after_commit": self.after_commit,
        }


@dataclass(frozen=True)
class StoredResponse:
    stored_at: datetime
    response: Response
    fault_code: str | None


class SandboxState:
    """Mutate only while holding `lock` (an RLock, so helpers can nest)."""

    # (Re)initialised by reset(): the seeded starting point.
    companies: dict[str, Company]
    next_realm: int
    app: AppRegistration
    limits: Limits
    oauth: OAuthStore
    next_seq: int
    stats: dict[str, RealmStats]
    fault_rules: list[FaultRule]
    request_ids: dict[tuple[str, str], StoredResponse]

    def __init__(self, clock: EmulatorClock) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.request_log: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)
        self.next_fault_id = 1  # never reset, so fault ids stay unique across resets
        self.reset()

    def reset(self) -> None:
        """Back to the seeded state: companies, app registration, limits, clock; logs and faults cleared."""
        with self.lock:
            self.clock.reset()
            self.companies = seed_default_companies(self.clock.now())
            self.next_realm = FIRST_EXTRA_REALM
            self.app = AppRegistration()
            self.limits = Limits()
            self.oauth = OAuthStore()
            self.request_log.clear()
            self.next_seq = 1
            self.stats = {}
            self.fault_rules = []
            self.request_ids = {}

    def add_company(
        self, name: str, country: str, custom_txn_numbers: bool, automated_sales_tax: bool = False
    ) -> Company:
        with self.lock:
            realm_id = str(self.next_realm)
            self.next_realm += 1
            company = seed_company(
                realm_id, name, country, custom_txn_numbers, self.clock.now(), automated_sales_tax
            )
            self.companies[realm_id] = company
            return company

    def realm_stats(self, realm_id: str) -> RealmStats:
        with self.lock:
            return self.stats.setdefault(realm_id, RealmStats())

    def log_request(self, **entry: Any) -> None:
        """One request-log row; every row has the same keys (absent ones are null)."""
        with self.lock:
            row = {
                "seq": self.next_seq,
                "time": response_time(self.clock.now()),
                "realmId": None,
                "method": None,
                "path": None,
                "query": "",
                "requestid": None,
                "status": None,
                "fault_code": None,
                "entity": None,
                "operation": None,
                "grant_type": None,
                "outcome": None,
            }
            row.update(entry)
            self.next_seq += 1
            self.request_log.append(row)

    def add_fault_rule(self, rule: FaultRule) -> None:
        with self.lock:
            self.fault_rules.append(rule)

    def take_fault_rule(self, method: str, path: str, raw_query: str, realm_id: str) -> FaultRule | None:
        """The first matching rule, with one of its uses consumed."""
        with self.lock:
            for rule in self.fault_rules:
                if rule.matches(method, path, raw_query, realm_id):
                    rule.count -= 1
                    return rule
            return None

    def replayable(self, realm_id: str, request_id: str) -> StoredResponse | None:
        with self.lock:
            key = (realm_id, request_id)
            stored = self.request_ids.get(key)
            retention = timedelta(seconds=self.limits.requestid_retention_seconds)
            if stored is not None and self.clock.now() - stored.stored_at > retention:
                del self.request_ids[key]
                return None
            return stored

    def remember(self, realm_id: str, request_id: str, response: Response, fault_code: str | None) -> None:
        with self.lock:
            self.request_ids[realm_id, request_id] = StoredResponse(self.clock.now(), response, fault_code)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": SNAPSHOT_VERSION,
                "companies": [company.to_json() for company in self.companies.values()],
                "next_realm": self.next_realm,
                "app": asdict(self.app),
                "limits": asdict(self.limits),
                "oauth": self.oauth.to_json(),
            }

    def restore(self, raw: dict[str, Any]) -> None:
        if raw.get("version") != SNAPSHOT_VERSION:
            raise ConfigError(f"unsupported snapshot version {raw.get('version')!r}")
        with self.lock:
            self.companies = {item["realm_id"]: Company.from_json(item) for item in raw["companies"]}
            self.next_realm = int(raw["next_realm"])
            self.app = AppRegistration()
            self.app.update(raw["app"])
            self.limits = Limits()
            self.limits.update(raw["limits"])
            self.oauth = OAuthStore.from_json(raw["oauth"])
