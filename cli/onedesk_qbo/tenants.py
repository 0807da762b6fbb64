"""register-tenant: a OneDesk account becomes a tenant of the integration.

The tenant's OneDesk API key and the shared secret OneDesk signs its links and commands with are sealed
with KMS by the product's tenant store; the secret is printed once, for OneDesk's configuration.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import uuid
from getpass import getpass

from pydantic import SecretStr

from onedesk_qbo.console import err, out, print_json
from qbo_sync import wiring
from qbo_sync.domain.tenant import Tenant
from qbo_sync.ports.onedesk import OneDeskError


class TenantExists(Exception):
    pass


def register_tenant(name: str, onedesk_api_key: str, tenant_id: str | None = None) -> Tenant:
    """Store a new tenant with a fresh shared secret; an existing tenant id is never overwritten (its
    secret is what OneDesk signs with, and its key what the product reads OneDesk with)."""
    store = wiring.tenant_store()
    tenant_id = tenant_id or f"t-{uuid.uuid4().hex[:10]}"
    if store.get_tenant(tenant_id) is not None:
        raise TenantExists(f"tenant {tenant_id} already exists")
    tenant = Tenant(
        tenant_id=tenant_id,
        name=name,
        onedesk_api_key=SecretStr(onedesk_api_key),
        shared_secret=SecretStr(secrets.token_urlsafe(32)),
    )
    store.save_tenant(tenant)
    return tenant


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "register-tenant",
        help="register a OneDesk account as a tenant",
        description="Register a OneDesk account (its API key is checked against OneDesk first) and print the "
        "shared secret OneDesk signs its links and commands with.",
    )
    parser.add_argument("--name", required=True, help="the OneDesk account's name, as admins know it")
    parser.add_argument(
        "--onedesk-api-key", help="the account's OneDesk API key (asked for when omitted, never echoed)"
    )
    parser.add_argument("--tenant-id", help="default: a new random id")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(run=run)


def _read_api_key() -> str:
    if sys.stdin.isatty():
        return getpass("OneDesk API key: ").strip()
    return sys.stdin.readline().strip()


def run(args: argparse.Namespace) -> int:
    api_key = args.onedesk_api_key or _read_api_key()
    if not api_key:
        err.print("a OneDesk API key is required")
        return 2
    probe = Tenant(
        tenant_id="probe", name=args.name, onedesk_api_key=SecretStr(api_key), shared_secret=SecretStr("")
    )
    try:
        profile = wiring.onedesk_for(probe).get_account_profile()
    except OneDeskError as error:
        err.print(f"OneDesk refused the API key, nothing registered: {error}")
        return 1
    try:
        tenant = register_tenant(args.name, api_key, args.tenant_id)
    except TenantExists as exists:
        err.print(f"{exists}; nothing changed")
        return 1
    secret = tenant.shared_secret.get_secret_value()
    if args.json:
        print_json(
            {
                "tenant_id": tenant.tenant_id,
                "name": tenant.name,
                "onedesk_account": profile.account_id,
                "plan": profile.plan,
                "shared_secret": secret,
            }
        )
    else:
        out.print(
            f"tenant {tenant.tenant_id} registered: {tenant.name} (OneDesk account {profile.account_id}, "
            f"{profile.plan} plan)"
        )
        out.print(f"shared secret (give it to OneDesk, shown once): {secret}")
    return 0
