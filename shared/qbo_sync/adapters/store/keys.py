"""Key layout of the single application table (pk/sk, gsi1pk/gsi1sk, TTL ``expires_at``).

Every item is keyed by tenant (invariant 3); items about a QBO company also carry its realm so
reconnecting a tenant to another company never reuses the old company's ids.
"""

from __future__ import annotations

GSI1 = "gsi1"
_MAX_PARTITION_KEY_BYTES = 2048  # DynamoDB's limit, for the table's and the index's partition keys


def usable_partition_key(value: str) -> bool:
    """False for a value no item can have as its partition key (too long, or not UTF-8). Asking DynamoDB
    for it would fail as a ValidationException; callers answer "not found" without asking, so an
    oversized id from outside is refused like an unknown one instead of failing as a 500."""
    try:
        return len(value.encode()) <= _MAX_PARTITION_KEY_BYTES
    except UnicodeEncodeError:
        return False


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def tenant_realm_pk(tenant_id: str, realm_id: str) -> str:
    return f"TENANT#{tenant_id}#REALM#{realm_id}"


def realm_gsi_pk(realm_id: str) -> str:
    return f"REALM#{realm_id}"


def rate_limit_pk(realm_id: str) -> str:
    return f"RATE#{realm_id}"
