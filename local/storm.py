"""A storm of QBO failures on one realm, as the resilience e2e test and `make bench` inject it.

Each rule answers the next matching data requests of the realm, in this order: invoice creates that QBO
performs but whose answer is lost (503 after the write: a retry must be replayed, never duplicated),
then 40 throttled requests (429), 15 internal errors (500) and 10 unavailable (503) on any request.
The storm ends when the last of them has been consumed.
"""

from __future__ import annotations

from typing import Any

from local.controls import QboControl

LOST_AFTER_WRITE = 6
STORM_RULES: tuple[dict[str, Any], ...] = (
    {
        "method": "POST",
        "path_regex": "/invoice$",
        "status": 503,
        "count": LOST_AFTER_WRITE,
        "after_commit": True,
    },
    {"status": 429, "count": 40},
    {"status": 500, "count": 15},
    {"status": 503, "count": 10},
)


def start_storm(qbo: QboControl) -> None:
    for rule in STORM_RULES:
        qbo.control("POST", "/faults", {**rule, "realmId": qbo.realm_id})


def faults_left(qbo: QboControl) -> int:
    """Faults of the storm not consumed yet (0: the storm is over)."""
    return sum(rule["remaining"] for rule in qbo.control("GET", "/faults") if rule["realmId"] == qbo.realm_id)
