"""Each tenant's OneDesk plan, checked on every invoice command (the integration needs Premium or higher)
but read from OneDesk at most every few minutes per warm Lambda: plans change rarely, commands often."""

from __future__ import annotations

import time
from collections.abc import Callable

from qbo_sync.domain.onedesk import Plan
from qbo_sync.domain.tenant import Tenant
from qbo_sync.ports.onedesk import OneDeskPort


class CachedAccountPlans:
    CACHE_SECONDS = 300.0  # an upgrade or a downgrade takes effect within five minutes

    def __init__(
        self, onedesk_for: Callable[[Tenant], OneDeskPort], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._onedesk_for = onedesk_for
        self._clock = clock
        self._cache: dict[str, tuple[float, Plan]] = {}

    def plan_of(self, tenant: Tenant) -> Plan:
        cached = self._cache.get(tenant.tenant_id)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        plan = self._onedesk_for(tenant).get_account_profile().plan
        self._cache[tenant.tenant_id] = (self._clock() + self.CACHE_SECONDS, plan)
        return plan
