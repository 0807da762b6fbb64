"""Forged, expired or replayed OAuth state, links signed for another tenant, CSRF, and tenant isolation:
each is a 400/403 that stores nothing (issue [connect] acceptance)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qbo_sync import wiring
from qbo_sync.domain.signing import session_value

from .conftest import Admin, World, hidden_fields, signed_link

US_REALM = "9130350000000001"


def assert_nothing_stored(world: World, *tenant_ids: str) -> None:
    for tenant_id in tenant_ids:
        assert wiring.connection_store().get(tenant_id) is None
    assert not [i for i in world.items() if str(i["sk"]) in {"CONNECTION", "PENDING_CONNECTION"}]
    assert world.token_calls() == []  # no code was even exchanged


def start(world: World, admin: Admin, tenant_link: dict[str, str]) -> dict[str, str]:
    """Connect -> consent: the callback query, not yet delivered."""
    reply = admin.get("/qbo/connect", tenant_link)
    assert reply.status == 302, reply.body
    return world.consent(reply.location, US_REALM)


@pytest.mark.parametrize(
    "state",
    ["", "forged", "A" * 43, "x" * 5000, "../../etc/passwd"],
    ids=["empty", "short", "unknown", "huge", "path"],
)
def test_forged_state_is_400_and_nothing_is_stored(world: World, state: str) -> None:
    tenant = world.tenant()
    admin = world.admin(tenant)
    callback = start(world, admin, signed_link(tenant))
    reply = admin.get("/qbo/callback", {**callback, "state": state})
    assert reply.status == 400
    assert "This sign-in has expired" in reply.body
    assert_nothing_stored(world, tenant.tenant_id)


def test_expired_state_is_400_and_nothing_is_stored(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant = world.tenant()
    admin = world.admin(tenant)
    callback = start(world, admin, signed_link(tenant))
    later = datetime.now(UTC) + timedelta(minutes=10, seconds=1)
    monkeypatch.setattr(wiring, "utc_now", lambda: later)
    reply = admin.get("/qbo/callback", callback)
    assert reply.status == 400
    assert_nothing_stored(world, tenant.tenant_id)


def test_replayed_state_is_400_and_the_second_code_is_never_exchanged(world: World) -> None:
    tenant = world.tenant()
    admin = world.admin(tenant)
    callback = start(world, admin, signed_link(tenant))
    assert admin.get("/qbo/callback", callback).status == 303
    exchanges = len(world.token_calls())
    version = wiring.connection_store().get(tenant.tenant_id)
    replay = admin.get("/qbo/callback", callback)
    assert replay.status == 400
    assert len(world.token_calls()) == exchanges
    assert wiring.connection_store().get(tenant.tenant_id) == version


def test_state_issued_for_another_tenant_is_403_in_this_session(world: World) -> None:
    victim, attacker = world.tenant("Victim"), world.tenant("Attacker")
    attacker_admin = world.admin(attacker)
    callback = start(world, attacker_admin, signed_link(attacker))
    victim_admin = world.admin(victim)  # the attacker lures the victim to the callback
    reply = victim_admin.get("/qbo/callback", callback)
    assert reply.status == 403
    assert_nothing_stored(world, victim.tenant_id, attacker.tenant_id)
    no_session = Admin(world.module).get("/qbo/callback", callback)  # the state is spent as well
    assert no_session.status == 400


def test_callback_without_a_session_is_403(world: World) -> None:
    tenant = world.tenant()
    admin = world.admin(tenant)
    callback = start(world, admin, signed_link(tenant))
    reply = Admin(world.module).get("/qbo/callback", callback)
    assert reply.status == 403
    assert_nothing_stored(world, tenant.tenant_id)


@pytest.mark.parametrize("path", ["/qbo/connect", "/qbo/settings"])
def test_link_signed_for_another_tenant_or_tampered_or_expired_is_403(world: World, path: str) -> None:
    a, b = world.tenant("A"), world.tenant("B")
    forged = {**signed_link(b, secret=a.shared_secret.get_secret_value())}
    expired = signed_link(a, lifetime=timedelta(seconds=-1))
    too_long = signed_link(a, lifetime=timedelta(days=30))
    tampered = {**signed_link(a), "tenant": b.tenant_id}
    huge = {**signed_link(a), "tenant": "x" * 5000}
    for link in (forged, expired, too_long, tampered, huge, {"tenant": a.tenant_id}):
        admin = Admin(world.module)
        reply = admin.get(path, link)
        assert reply.status == 403, (link, reply.body)
        assert "This link is not valid" in reply.body
        assert admin.cookies == {}
    assert not [i for i in world.items() if str(i["pk"]).startswith("OAUTHSTATE#")]
    assert_nothing_stored(world, a.tenant_id, b.tenant_id)


def test_a_session_of_tenant_a_cannot_read_or_change_tenant_b(world: World) -> None:
    a, b = world.tenant("Alpha Ltd"), world.tenant("Beta Inc")
    admin_b = world.admin(b)
    world.connect(admin_b, b, US_REALM)
    b_csrf = admin_b.csrf()
    admin_a = world.admin(a)

    page = admin_a.get("/qbo/settings")
    assert "Alpha Ltd" in page.body and "Beta Inc" not in page.body
    assert "Sandbox Company US" not in page.body  # B's company
    # A cannot switch to B with a link A signed, nor with a cookie forged for B with A's secret.
    forged_link = signed_link(b, secret=a.shared_secret.get_secret_value())
    assert admin_a.get("/qbo/settings", forged_link).status == 403
    expires = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    forged = Admin(world.module)
    forged.cookies["qbo_session"] = session_value(a.shared_secret.get_secret_value(), b.tenant_id, expires)
    assert forged.get("/qbo/settings").status == 403
    form = {"csrf": b_csrf, "income_account_id": "79", "tax_code_id": "2", "copy_when_opened": "on"}
    assert forged.post("/qbo/settings", form).status == 403
    assert forged.post("/qbo/disconnect", {"csrf": b_csrf}).status == 403
    # A's own session with B's CSRF token is refused too.
    assert admin_a.post("/qbo/settings", form).status == 403
    assert admin_a.post("/qbo/disconnect", {"csrf": b_csrf}).status == 403
    # A saving its own settings never touches B's.
    own = {**form, "csrf": admin_a.csrf()}
    assert admin_a.post("/qbo/settings", own).status == 409  # A is not connected: nothing saved
    assert wiring.tenant_store().get_settings(b.tenant_id, US_REALM) is None
    b_tenant = wiring.tenant_store().get_tenant(b.tenant_id)
    assert b_tenant is not None and b_tenant.trigger_policy.send_when_marked_sent is True
    b_connection = wiring.connection_store().get(b.tenant_id)
    assert b_connection is not None and b_connection.status.value == "connected"


def test_posts_need_the_sessions_csrf_token(world: World) -> None:
    tenant = world.tenant()
    admin = world.admin(tenant)
    world.connect(admin, tenant, US_REALM)
    for form in ({}, {"csrf": ""}, {"csrf": "0" * 64}):
        for path in (
            "/qbo/settings",
            "/qbo/disconnect",
            "/qbo/confirm-switch",
            "/qbo/conflicts",
            "/qbo/parked-sends",
        ):
            fields = {"income_account_id": "79", "tax_code_id": "2", "invoice_id": "1", "decision": "send"}
            reply = admin.post(path, {**form, **fields})
            assert reply.status == 403, (path, form)
    assert world.revokes() == []
    assert wiring.tenant_store().get_settings(tenant.tenant_id, US_REALM) is None
    # The reconnect link needs it too.
    assert admin.get("/qbo/connect").status == 403
    assert admin.get("/qbo/connect", {"csrf": "nope"}).status == 403
    assert (
        admin.get("/qbo/connect", {"csrf": hidden_fields(admin.get("/qbo/settings").body)["csrf"]}).status
        == 302
    )


def test_no_session_no_settings(world: World) -> None:
    reply = Admin(world.module).get("/qbo/settings")
    assert reply.status == 403
    assert "Open the QuickBooks Online settings again from OneDesk" in reply.body
    mangled = Admin(world.module)
    for cookie in ("x" * 4000 + ".1.2", "..", "%ZZ.1.x", "t.abc.def"):
        mangled.cookies["qbo_session"] = cookie
        assert mangled.get("/qbo/settings").status == 403
