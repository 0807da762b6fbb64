"""GET /health: the build version and whether each dependency answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pydantic import BaseModel


class HealthReport(BaseModel):
    status: str
    version: str
    checks: dict[str, str]


def check_health(version: str, probes: Mapping[str, Callable[[], None]]) -> HealthReport:
    checks: dict[str, str] = {}
    for name, probe in probes.items():
        try:
            probe()
            checks[name] = "ok"
        except Exception as error:  # any failure means "unreachable"; its type is reported
            checks[name] = f"unreachable: {type(error).__name__}"
    healthy = all(value == "ok" for value in checks.values())
    return HealthReport(status="ok" if healthy else "degraded", version=version, checks=checks)
