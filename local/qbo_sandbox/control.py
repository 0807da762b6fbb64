"""The control API (`/_sandbox/...`): JSON, no auth, for tests and the demo to steer the emulator."""

import re
from collections.abc import Callable
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from local.qbo_sandbox import entities
from local.qbo_sandbox.clock import response_time
from local.qbo_sandbox.money import loads
from local.qbo_sandbox.state import ConfigError, FaultRule, SandboxState
from local.qbo_sandbox.webhooks import WebhookDispatcher
from local.qbo_sandbox.wire import Request, Response, json_response

PREFIX = "/_sandbox"
COUNTRIES = ("US", "CA", "GB")
Handler = Callable[[Request], Any]


def _body(request: Request) -> dict[str, Any]:
    try:
        body = loads(request.body or b"{}")
    except ValueError as error:
        raise ConfigError(f"the body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise ConfigError("the body must be a JSON object")
    return body


def _number(body: dict[str, Any], key: str, *, minimum: float = 0.0, integer: bool = False) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or value < minimum:
        raise ConfigError(f"{key} must be a number >= {minimum}")
    if integer and value != int(value):
        raise ConfigError(f"{key} must be a whole number")
    return float(value)


class ControlApi:
    def __init__(self, state: SandboxState, webhooks: WebhookDispatcher) -> None:
        self._state = state
        self._webhooks = webhooks
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "/reset"): self._reset,
            ("GET", "/companies"): self._companies,
            ("POST", "/companies"): self._add_company,
            ("POST", "/tokens"): self._mint_tokens,
            ("POST", "/tokens/expire"): self._expire_tokens,
            ("GET", "/app"): self._app,
            ("PUT", "/app"): self._update_app,
            ("GET", "/limits"): self._limits,
            ("PUT", "/limits"): self._update_limits,
            ("GET", "/clock"): self._clock,
            ("PUT", "/clock"): self._update_clock,
            ("GET", "/faults"): self._faults,
            ("POST", "/faults"): self._add_fault,
            ("DELETE", "/faults"): self._clear_faults,
            ("GET", "/requests"): self._requests,
            ("GET", "/stats"): self._stats,
            ("GET", "/sends"): self._sends,
            ("GET", "/webhooks"): self._deliveries,
            ("POST", "/webhooks/flush"): self._flush,
        }

    def dispatch(self, request: Request) -> Response:
        path = request.path[len(PREFIX) :].rstrip("/")
        handler = self._routes.get((request.method, path))
        if handler is None and request.method == "GET" and path.startswith("/entities/"):
            handler = self._entities
        if handler is None:
            known = any(route_path == path for _, route_path in self._routes)
            return json_response(
                405 if known else 404, {"error": f"no control endpoint {request.method} {path}"}
            )
        try:
            return json_response(200, handler(request))
        except ConfigError as error:
            return json_response(400, {"error": str(error)})
        except LookupError as error:
            return json_response(404, {"error": str(error.args[0]) if error.args else "not found"})

    def _realm(self, realm_id: object) -> str:
        if not isinstance(realm_id, str) or realm_id not in self._state.companies:
            raise LookupError(f"unknown realmId {realm_id!r}")
        return realm_id

    def _reset(self, request: Request) -> dict[str, str]:
        self._state.reset()
        self._webhooks.reset()
        return {"status": "reset"}

    def _companies(self, request: Request) -> list[dict[str, str]]:
        with self._state.lock:
            return [
                {"realmId": company.realm_id, "name": company.name, "country": company.country}
                for company in self._state.companies.values()
            ]

    def _add_company(self, request: Request) -> dict[str, str]:
        body = _body(request)
        name, country = body.get("name"), body.get("country")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("name is required")
        if country not in COUNTRIES:
            raise ConfigError(f"country must be one of {', '.join(COUNTRIES)}")
        custom = body.get("custom_txn_numbers", country == "US")
        if not isinstance(custom, bool):
            raise ConfigError("custom_txn_numbers must be true or false")
        automated = body.get("automated_sales_tax", False)
        if not isinstance(automated, bool):
            raise ConfigError("automated_sales_tax must be true or false")
        if automated and country != "US":
            raise ConfigError("automated_sales_tax exists only for US companies")
        company = self._state.add_company(name.strip(), str(country), custom, automated)
        return {"realmId": company.realm_id}

    def _mint_tokens(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        state = self._state
        with state.lock:
            realm_id = self._realm(body.get("realmId"))
            app = state.app
            return state.oauth.mint(realm_id, app.client_id, state.clock.now(), app.access_token_ttl_seconds)

    def _expire_tokens(self, request: Request) -> dict[str, int]:
        body = _body(request)
        state = self._state
        with state.lock:
            realm_id = self._realm(body.get("realmId"))
            return {"expired": state.oauth.expire_access_tokens(realm_id, state.clock.now())}

    def _app(self, request: Request) -> dict[str, Any]:
        with self._state.lock:
            return asdict(self._state.app)

    def _update_app(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        with self._state.lock:
            self._state.app.update(body)
            result = asdict(self._state.app)
        self._webhooks.wake()
        return result

    def _limits(self, request: Request) -> dict[str, Any]:
        with self._state.lock:
            return asdict(self._state.limits)

    def _update_limits(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        with self._state.lock:
            self._state.limits.update(body)
            return asdict(self._state.limits)

    def _clock(self, request: Request) -> dict[str, Any]:
        clock = self._state.clock
        return {"now": response_time(clock.now()), "speed": clock.speed}

    def _update_clock(self, request: Request) -> dict[str, Any]:
        body = _body(request)
        unknown = set(body) - {"speed", "advance_seconds"}
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        speed = _number(body, "speed")
        advance = _number(body, "advance_seconds")
        if speed is not None and speed <= 0:
            raise ConfigError("speed must be greater than 0")
        with self._state.lock:
            if speed is not None:
                self._state.clock.set_speed(speed)
            if advance:
                self._state.clock.advance(advance)
        self._webhooks.wake()
        return self._clock(request)

    def _faults(self, request: Request) -> list[dict[str, Any]]:
        with self._state.lock:
            return [rule.to_json() for rule in self._state.fault_rules if rule.count > 0]

    def _add_fault(self, request: Request) -> dict[str, str]:
        body = _body(request)
        status = _number(body, "status", minimum=100, integer=True)
        if status is not None and status > 599:
            raise ConfigError("status must be an HTTP status code")
        delay_ms = _number(body, "delay_ms", integer=True) or 0.0
        count = _number(body, "count", minimum=1, integer=True) or 1.0
        after_commit = body.get("after_commit", False)
        if not isinstance(after_commit, bool):
            raise ConfigError("after_commit must be true or false")
        if status is None and not delay_ms:
            raise ConfigError("a fault needs a status, a delay_ms, or both")
        if after_commit and status is None:
            raise ConfigError("after_commit needs a status")
        strings = {key: body.get(key) for key in ("method", "path_regex", "realmId")}
        for key, value in strings.items():
            if value is not None and not isinstance(value, str):
                raise ConfigError(f"{key} must be a string")
        if strings["path_regex"]:
            try:
                re.compile(str(strings["path_regex"]))
            except re.error as error:
                raise ConfigError(f"path_regex does not compile: {error}") from None
        with self._state.lock:
            rule_id = f"fault-{self._state.next_fault_id}"
            self._state.next_fault_id += 1
            self._state.add_fault_rule(
                FaultRule(
                    rule_id=rule_id,
                    count=int(count),
                    status=int(status) if status is not None else None,
                    method=strings["method"],
                    path_regex=strings["path_regex"],
                    realm_id=strings["realmId"],
                    delay_ms=int(delay_ms),
                    after_commit=after_commit,
                )
            )
        return {"id": rule_id}

    def _clear_faults(self, request: Request) -> dict[str, int]:
        with self._state.lock:
            cleared = len(self._state.fault_rules)
            self._state.fault_rules = []
        return {"cleared": cleared}

    def _requests(self, request: Request) -> list[dict[str, Any]]:
        realm_id = request.query.get("realmId")
        since = request.query.get("since_seq", "0")
        if not since.isdigit():
            raise ConfigError("since_seq must be a whole number")
        with self._state.lock:
            return [
                dict(row)
                for row in self._state.request_log
                if row["seq"] > int(since) and (not realm_id or row["realmId"] == realm_id)
            ]

    def _stats(self, request: Request) -> dict[str, dict[str, int]]:
        with self._state.lock:
            realms = [*self._state.companies, *(realm for realm in self._state.stats if realm)]
            return {realm: self._state.realm_stats(realm).to_json() for realm in dict.fromkeys(realms)}

    def _sends(self, request: Request) -> list[dict[str, Any]]:
        realm_id = request.query.get("realmId")
        with self._state.lock:
            return [
                dict(sent)
                for company in self._state.companies.values()
                if not realm_id or company.realm_id == realm_id
                for sent in company.sends
            ]

    def _deliveries(self, request: Request) -> list[dict[str, object]]:
        return self._webhooks.deliveries()

    def _flush(self, request: Request) -> dict[str, int]:
        # Not under the state lock: receivers typically call back into the data API.
        return {"count": self._webhooks.flush()}

    def _entities(self, request: Request) -> list[dict[str, Any]]:
        parts = request.path[len(PREFIX) :].strip("/").split("/")
        if len(parts) != 3:
            raise LookupError("use /_sandbox/entities/{realmId}/{Entity}")
        entity = entities.lookup(parts[2])
        if entity is None:
            raise LookupError(f"unknown entity {parts[2]!r}")
        with self._state.lock:
            company = self._state.companies[self._realm(parts[1])]
            return entity.render(company, company.all(entity.name))
