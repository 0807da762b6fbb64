"""Key layout of the single application table (pk/sk, gsi1pk/gsi1sk, TTL ``expires_at``).

Every item is keyed by tenant (invariant 3); items about a QBO company also carry its realm so
reconnecting a tenant to another company never reuses the old company's ids.
"""

from __future__ import annotations

GSI1 = "gsi1"


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def tenant_realm_pk(tenant_id: str, realm_id: str) -> str:
    return f"TENANT#{tenant_id}#REALM#{realm_id}"


def realm_gsi_pk(realm_id: str) -> str:
    return f"REALM#{realm_id}"


def rate_limit_pk(realm_id: str) -> str:
    return f"RATE#{realm_id}"
