"""Every HTTP route of template.yaml under hypothesis: thousands of requests each, from garbage to correctly
signed requests with hostile content behind the signature. None may answer 5xx, raise, or log a
traceback (see conftest); the JSON APIs must say why they refuse, as JSON.

Examples per route (``EXAMPLES``) are set so that the whole fuzz suite stays within about four minutes on
two shared cores: the routes whose cases cost milliseconds get thousands, those whose valid cases go
through QBO (the settings pages) a few hundred.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st

from local.stack import LocalStack
from qbo_sync.domain.signing import connect_link_signature, csrf_token, intuit_signature, session_value, sign
from tests.e2e.conftest import World, _world
from tests.e2e.fuzz import strategies as s
from tests.e2e.fuzz.conftest import HttpAnswer, HttpApi, assert_json_reason, fuzz, remove_messages

pytestmark = pytest.mark.fuzz

EXAMPLES = {
    "health": 500,  # it reads no input: the cases check that none of it matters
    "commands": 3000,
    "webhooks": 3000,
    "connect": 1500,
    "callback": 1500,
    "settings_page": 500,  # a signed-in case reads the company from QBO: ~30 ms each
    "save_settings": 200,  # a signed-in case saves through QBO (and re-renders): ~200 ms each
    "disconnect": 1000,
    "confirm_switch": 1000,
    "decisions": 500,  # each of the two admin decision routes
}
UNKNOWN_REALM = "9130359999999999"


@pytest.fixture
def consumer_paused(stack: LocalStack) -> Iterator[Callable[[str, str, Callable[[str], bool]], None]]:
    """Pause a queue's consumer for the test; what the test queued there (``ours``) is removed after it,
    so the product never works through thousands of fuzz messages in the background."""
    paused: list[tuple[str, str, Callable[[str], bool]]] = []

    def pause(function_id: str, queue_id: str, ours: Callable[[str], bool]) -> None:
        if not paused:  # called by every example of the test; once is what counts
            stack.runner.set_event_sources_enabled(function_id, False)
            paused.append((function_id, queue_id, ours))

    yield pause
    for function_id, queue_id, ours in paused:
        remove_messages(stack, queue_id, ours)
        stack.runner.set_event_sources_enabled(function_id, True)


def secret_of(world: World) -> str:
    return str(world.tenant.shared_secret.get_secret_value())


# ------------------------------------------------------------------------------------------ GET /health
@fuzz(EXAMPLES["health"])
@given(query=s.query_string(["verbose"]), headers=s.extra_headers(), body=st.binary(max_size=50))
def test_health(http: HttpApi, query: str, headers: list[tuple[str, str]], body: bytes) -> None:
    answer = http.call("GET", "/health", query=query, headers=headers, body=body)
    assert answer.status == 200
    assert answer.json()["status"] == "ok"


# ---------------------------------------------------------------------------------- POST /onedesk/commands
def command_bodies() -> st.SearchStrategy[bytes]:
    fields = st.fixed_dictionaries(
        {
            "invoice_id": st.one_of(
                st.text("0123456789", min_size=1, max_size=9), s.any_text, s.oversized_id
            ),
            "action": st.sampled_from(["copy", "send", "refund", ""]),
            "request_id": st.one_of(st.uuids().map(str), s.any_text, s.oversized_id),
        },
        optional={"snapshot": s.json_value},
    ).map(s.as_json)
    valid = s.as_json({"invoice_id": "1003", "action": "copy", "request_id": "r-1"})
    return s.weighted((3, fields), (2, s.hostile_bodies), (1, s.mutated(valid)))


@fuzz(EXAMPLES["commands"])
@given(data=st.data())
def test_onedesk_commands(
    http: HttpApi, fuzz_world: World, consumer_paused: Any, data: st.DataObject
) -> None:
    tenant_id = fuzz_world.tenant.tenant_id
    consumer_paused("CopyInvoiceFunction", "InvoiceCommandsQueue", lambda body: tenant_id in body)
    body = data.draw(command_bodies(), "body")
    now = int(time.time())
    timestamp = data.draw(
        s.weighted(
            (4, st.just(str(now))),
            (2, st.integers(-900, 900).map(lambda drift: str(now + drift))),
            (2, s.digit_strings),
            (1, s.any_text),
            (1, st.none()),
        ),
        "timestamp",
    )
    signable = timestamp is not None and timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12
    valid = st.just(sign(secret_of(fuzz_world), int(timestamp), body)) if signable else s.header_text
    signature = data.draw(
        s.weighted(
            (6, valid),
            (1, st.text("0123456789abcdef", min_size=64, max_size=64)),
            (1, s.header_text),
            (1, st.none()),
        ),
        "signature",
    )
    tenant = data.draw(
        s.weighted((6, st.just(tenant_id)), (1, s.any_text), (1, s.long_header), (1, st.none())), "tenant"
    )
    headers = [("Content-Type", data.draw(s.content_types, "content type")), *data.draw(s.extra_headers())]
    for name, value in (
        ("X-OneDesk-Tenant", tenant),
        ("X-OneDesk-Timestamp", timestamp),
        ("X-OneDesk-Signature", signature),
    ):
        if value is not None and "\r" not in value and "\n" not in value:
            headers.append((name, value))

    answer = http.call("POST", "/onedesk/commands", headers=headers, body=body)

    assert answer.status in {202, 400, 401}, answer
    assert_json_reason(answer)


# ---------------------------------------------------------------------------------- POST /qbo/webhooks
def cloud_events(realm: str) -> st.SearchStrategy[list[Any]]:
    """Batches of well-formed events (any entity, operation, realm ours or not, ids plausible or not),
    or of ragged ones mixed with any JSON."""
    entity = st.sampled_from(["payment", "invoice", "creditmemo", "customer", "Invoice", "bill", ""])
    operation = st.sampled_from(["created", "updated", "deleted", "voided", "emailed", "merged", ""])
    event_type = s.weighted(
        (
            4,
            st.tuples(entity, operation, st.sampled_from(["v1", "v2", "1"])).map(
                lambda t: "qbo.{}.{}.{}".format(*t)
            ),
        ),
        (1, s.any_text),
    )
    qbo_id = st.text("0123456789", min_size=1, max_size=12)
    identifier = s.weighted((4, qbo_id), (1, s.any_text), (1, s.oversized_id), (1, st.integers()))
    fields = {
        "specversion": st.just("1.0"),
        "id": s.weighted(
            (4, st.uuids().map(str)), (1, identifier), (1, st.integers(257, 3000).map(lambda n: "e" * n))
        ),
        "source": st.just("intuit.fuzz"),
        "type": event_type,
        "datacontenttype": st.just("application/json"),
        "time": s.weighted(
            (4, st.just("2026-11-26T12:00:00.123456789Z")), (1, s.any_text), (1, st.integers())
        ),
        "intuitentityid": identifier,
        "intuitaccountid": s.weighted((4, st.sampled_from([realm, UNKNOWN_REALM])), (1, identifier)),
        "data": st.just({}),
    }
    well_formed = st.fixed_dictionaries(fields, optional={"extension": s.json_value})
    ragged = st.fixed_dictionaries({}, optional={**fields, "data": s.json_value})
    return s.weighted(
        (4, st.lists(well_formed, max_size=10)),
        (1, st.lists(st.one_of(well_formed, ragged, s.json_value), max_size=10)),
    )


def legacy_notifications(realm: str) -> st.SearchStrategy[dict[str, Any]]:
    entity = st.fixed_dictionaries(
        {},
        optional={
            "name": st.sampled_from(["Payment", "Invoice", "CreditMemo", "Customer", ""]),
            "id": st.one_of(st.text("0123456789", min_size=1, max_size=6), s.any_text, s.oversized_id),
            "operation": st.sampled_from(["Create", "Update", "Delete", "Void", "Emailed", ""]),
            "lastUpdated": st.one_of(st.just("2026-11-26T12:00:00Z"), s.any_text),
        },
    )
    notification = st.fixed_dictionaries(
        {
            "realmId": st.one_of(st.sampled_from([realm, UNKNOWN_REALM]), s.any_text, s.oversized_id),
            "dataChangeEvent": st.fixed_dictionaries({"entities": st.lists(entity, max_size=5)}),
        }
    )
    return st.fixed_dictionaries({"eventNotifications": st.lists(notification, max_size=4)})


@pytest.fixture(scope="module")
def verifier(stack: LocalStack) -> str:
    """The verifier token of the app the QBO emulator signs for (Intuit's, on AWS)."""
    app = requests.get(f"{stack.components['qbo'].base_url}/_sandbox/app", timeout=10).json()
    return str(app["verifier_token"])


@fuzz(EXAMPLES["webhooks"])
@given(data=st.data())
def test_qbo_webhooks(
    http: HttpApi, verifier: str, fuzz_world: World, consumer_paused: Any, data: st.DataObject
) -> None:
    realm = fuzz_world.qbo.realm_id
    consumer_paused("SyncPaymentsFunction", "QboChangesQueue", lambda body: realm in body)
    body = data.draw(
        s.weighted(
            (5, cloud_events(realm).map(s.as_json)),
            (2, legacy_notifications(realm).map(s.as_json)),
            (2, s.hostile_bodies),
            (
                1,
                s.mutated(
                    s.as_json([{"id": "1", "type": "qbo.payment.updated.v1", "intuitaccountid": realm}])
                ),
            ),
        ),
        "body",
    )
    signature = data.draw(
        s.weighted(  # most bodies are signed: what lies behind the signature check is the target
            (8, st.just(intuit_signature(verifier, body))),
            (1, st.just(intuit_signature("another-app", body))),
            (1, s.header_text),
            (1, st.none()),
        ),
        "signature",
    )
    headers = [("Content-Type", data.draw(s.content_types, "content type"))]
    if signature is not None:
        headers.append(("intuit-signature", signature))

    answer = http.call("POST", "/qbo/webhooks", headers=headers, body=body)

    assert answer.status in {200, 400, 401, 413}, answer
    assert_json_reason(answer)


def test_a_webhook_body_over_the_limit_is_413_before_anything_else(http: HttpApi, verifier: str) -> None:
    body = b"[" + b" " * (1024 * 1024) + b"]"
    headers = [("Content-Type", "application/json"), ("intuit-signature", intuit_signature(verifier, body))]
    answer = http.call("POST", "/qbo/webhooks", headers=headers, body=body)
    assert answer.status == 413
    assert_json_reason(answer)


# ------------------------------------------------------------------------------------------ the admin's pages
def link_query(world: World, data: st.DataObject, extra: list[str]) -> str:
    """A signed link (valid, or with any part wrong) or anything else, plus other parameters."""
    tenant_id, now = world.tenant.tenant_id, int(time.time())
    expires = data.draw(
        st.one_of(st.integers(-100, 90_000).map(lambda ahead: str(now + ahead)), s.digit_strings, s.any_text),
        "expires",
    )
    parts: list[tuple[str, str]] = []
    if data.draw(st.booleans(), "with a link"):
        tenant = data.draw(st.one_of(st.just(tenant_id), s.any_text, s.long_header), "tenant")
        signable = expires.isascii() and expires.isdigit() and len(expires) <= 12
        sig = data.draw(
            st.one_of(
                st.just(connect_link_signature(secret_of(world), tenant, int(expires)))
                if signable
                else st.nothing(),
                s.field_value,
            ),
            "sig",
        )
        parts += [("tenant", tenant), ("expires", expires), ("sig", sig)]
    garbage = data.draw(s.query_string(["tenant", "expires", "sig", *extra]), "query")
    return "&".join(q for q in (urlencode(parts), garbage) if q)


def session_cookie(world: World, data: st.DataObject) -> tuple[list[tuple[str, str]], str]:
    """(headers, session value): the admin's valid session most of the time, else a forged one."""
    now = int(time.time())
    valid = session_value(secret_of(world), world.tenant.tenant_id, now + 3600)
    session = data.draw(
        s.weighted(
            (6, st.just(valid)),
            (1, st.just(session_value(secret_of(world), world.tenant.tenant_id, now - 1))),  # expired
            (1, st.builds(lambda t, e, h: f"{t}.{e}.{h}", s.any_text, s.digit_strings, s.any_text)),
            (1, s.header_text),
        ),
        "session",
    )
    cookie = data.draw(
        st.sampled_from(
            [f"qbo_session={session}", f"other=1; qbo_session={session}", f"qbo_session={session};;="]
        ),
        "cookie",
    )
    if any(c in cookie for c in "\r\n"):
        return [], session
    return [("Cookie", cookie)], session


def csrf_value(world: World, session: str, data: st.DataObject) -> str:
    return data.draw(
        s.weighted((5, st.just(csrf_token(secret_of(world), session))), (1, s.field_value)), "csrf"
    )


@fuzz(EXAMPLES["connect"])
@given(data=st.data())
def test_qbo_connect(http: HttpApi, fuzz_world: World, data: st.DataObject) -> None:
    headers, session = session_cookie(fuzz_world, data) if data.draw(st.booleans(), "signed in") else ([], "")
    query = link_query(fuzz_world, data, ["csrf"])
    if data.draw(st.booleans(), "reconnect button"):
        query = urlencode([("csrf", csrf_value(fuzz_world, session, data))])
    http.call("GET", "/qbo/connect", query=query, headers=headers)


def fresh_state(http: HttpApi, world: World) -> str:
    """The OAuth state of a sign-in just started from a signed link, as Intuit would send it back."""
    expires = int(time.time()) + 600
    link = {
        "tenant": world.tenant.tenant_id,
        "expires": str(expires),
        "sig": connect_link_signature(secret_of(world), world.tenant.tenant_id, expires),
    }
    started = http.call("GET", "/qbo/connect", query=urlencode(link))
    assert started.status == 302, started
    return parse_qs(urlsplit(started.headers["location"]).query)["state"][0]


@fuzz(EXAMPLES["callback"])
@given(data=st.data())
def test_qbo_callback(http: HttpApi, fuzz_world: World, data: st.DataObject) -> None:
    headers, _ = session_cookie(fuzz_world, data)
    state = s.weighted(
        (1, st.just("fresh")),  # a sign-in really started: the code exchange is reached
        (1, st.text("abcdefghijklmnopqrstuvwxyzABC0123456789_-", min_size=43, max_size=43)),
        (1, s.field_value),
    )
    pairs = data.draw(
        st.fixed_dictionaries(
            {},
            optional={
                "state": state,
                "code": s.field_value,
                "realmId": s.weighted(
                    (3, st.just(fuzz_world.qbo.realm_id)), (1, s.digit_strings), (1, s.field_value)
                ),
                "error": st.one_of(st.sampled_from(["access_denied", "invalid_scope"]), s.field_value),
            },
        ),
        "query",
    )
    if pairs.get("state") == "fresh":
        pairs["state"] = fresh_state(http, fuzz_world)
    http.call("GET", "/qbo/callback", query=urlencode(pairs), headers=headers)


@fuzz(EXAMPLES["settings_page"])
@given(data=st.data())
def test_qbo_settings_page(http: HttpApi, fuzz_world: World, data: st.DataObject) -> None:
    headers, _ = session_cookie(fuzz_world, data) if data.draw(st.booleans(), "signed in") else ([], "")
    query = link_query(fuzz_world, data, ["notice", "resumed"])
    http.call("GET", "/qbo/settings", query=query, headers=headers)


def posted_form(
    world: World, data: st.DataObject, fields: dict[str, st.SearchStrategy[str]]
) -> tuple[list[tuple[str, str]], bytes]:
    headers, session = session_cookie(world, data)
    csrf = csrf_value(world, session, data)
    body = data.draw(s.form_body(fields, required={"csrf": st.just(csrf)}), "form")
    headers.append(("Content-Type", data.draw(s.content_types, "content type")))
    return headers, body


@fuzz(EXAMPLES["save_settings"])
@given(data=st.data())
def test_qbo_save_settings(http: HttpApi, fuzz_world: World, data: st.DataObject) -> None:
    real = fuzz_world.settings
    headers, body = posted_form(
        fuzz_world,
        data,
        {
            "income_account_id": st.one_of(
                st.just(real["income_account_id"]), s.digit_strings, s.field_value
            ),
            "tax_code_id": st.one_of(st.just(real["tax_code_id"]), s.digit_strings, s.field_value),
            "copy_when_opened": st.sampled_from(["on", ""]),
            "send_when_marked_sent": st.sampled_from(["on", ""]),
        },
    )
    http.call("POST", "/qbo/settings", headers=headers, body=body)


@pytest.fixture(scope="module")
def leaving_world(stack: LocalStack) -> World:
    """Disconnected over and over by the fuzz of POST /qbo/disconnect (and asked to switch companies)."""
    return _world(stack, "US", "California")


@fuzz(EXAMPLES["disconnect"])
@given(data=st.data())
def test_qbo_disconnect(http: HttpApi, leaving_world: World, data: st.DataObject) -> None:
    headers, body = posted_form(leaving_world, data, {})
    answer: HttpAnswer = http.call("POST", "/qbo/disconnect", headers=headers, body=body)
    assert answer.status in {200, 403, 413}, answer


@fuzz(EXAMPLES["confirm_switch"])
@given(data=st.data())
def test_qbo_confirm_switch(http: HttpApi, leaving_world: World, data: st.DataObject) -> None:
    headers, body = posted_form(
        leaving_world, data, {"decision": st.one_of(st.sampled_from(["confirm", "cancel"]), s.field_value)}
    )
    http.call("POST", "/qbo/confirm-switch", headers=headers, body=body)


@fuzz(EXAMPLES["decisions"])
@given(data=st.data())
def test_qbo_admin_decisions(http: HttpApi, fuzz_world: World, data: st.DataObject) -> None:
    """The conflict and waiting-send choices: a known or made-up invoice, a known or made-up decision."""
    path, decisions = data.draw(
        st.sampled_from([("/qbo/conflicts", ["overwrite", "keep"]), ("/qbo/parked-sends", ["send", "drop"])]),
        "route",
    )
    headers, body = posted_form(
        fuzz_world,
        data,
        {
            "invoice_id": st.one_of(s.digit_strings, s.field_value),
            "decision": st.one_of(st.sampled_from(decisions), s.field_value),
        },
    )
    answer: HttpAnswer = http.call("POST", path, headers=headers, body=body)
    assert answer.status in {303, 400, 403, 404, 409, 413}, answer


def test_every_route_of_the_template_is_fuzzed(stack: LocalStack) -> None:
    fuzzed = {
        "GET /health",
        "POST /onedesk/commands",
        "POST /qbo/webhooks",
        "GET /qbo/connect",
        "GET /qbo/callback",
        "GET /qbo/settings",
        "POST /qbo/settings",
        "POST /qbo/disconnect",
        "POST /qbo/confirm-switch",
        "POST /qbo/conflicts",
        "POST /qbo/parked-sends",
    }
    assert {route for route, _ in stack.runner.routes()} == fuzzed
