"""EventBridge schedules: `rate(...)` and `cron(...)` expressions fired as Scheduled Events.

Time can run faster than the wall clock (`speed`), so that a `rate(5 minutes)` poller can be
watched in seconds: the timer follows a virtual clock that starts at the wall-clock time and
advances `speed` times faster; each event still carries the real time.
"""

from __future__ import annotations

import calendar
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from local.cfn import ACCOUNT_ID
from local.runner.spec import ScheduleSource

_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): number for number, name in enumerate(calendar.month_abbr) if name}
_DAYS = {name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
# How far ahead a cron expression is searched for its next match.
_SEARCH_DAYS = 366 * 8


class ScheduleError(ValueError):
    """A schedule expression the local runner cannot evaluate."""


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def next_after(self, moment: datetime) -> datetime | None:
        return moment + self.period


@dataclass(frozen=True)
class Cron:
    """EventBridge's six-field cron: minutes hours day-of-month month day-of-week year (UTC)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None  # None: `?`
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # 1 = Sunday; None: `?`
    years: frozenset[int]

    def _day_matches(self, day: date) -> bool:
        if day.month not in self.months or day.year not in self.years:
            return False
        day_of_week = (day.weekday() + 1) % 7 + 1
        if self.days_of_month is not None and day.day not in self.days_of_month:
            return False
        return self.days_of_week is None or day_of_week in self.days_of_week

    def next_after(self, moment: datetime) -> datetime | None:
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(_SEARCH_DAYS):
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
                        if candidate >= start:
                            return candidate
            day += timedelta(days=1)
        return None


def _field(text: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        spec, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if spec == "*":
            first, last = low, high
        elif "-" in spec:
            first_text, last_text = spec.split("-", 1)
            first, last = _value(first_text, names), _value(last_text, names)
        else:
            first = _value(spec, names)
            last = high if step_text else first
        if not low <= first <= last <= high or step < 1:
            raise ScheduleError(f"cron field {text!r}: out of range {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _value(text: str, names: dict[str, int] | None) -> int:
    if names and text.upper() in names:
        return names[text.upper()]
    if not text.isdigit():
        raise ScheduleError(f"cron value {text!r} is not supported locally (L, W and # are not)")
    return int(text)


def parse_expression(expression: str) -> Rate | Cron:
    rate = _RATE.match(expression.strip())
    if rate is not None:
        unit = rate.group(2).removesuffix("s")
        return Rate(timedelta(seconds=int(rate.group(1)) * _UNIT_SECONDS[unit]))
    cron = _CRON.match(expression.strip())
    if cron is None:
        raise ScheduleError(f"not a rate() or cron() expression: {expression!r}")
    fields = cron.group(1).split()
    if len(fields) != 6:
        raise ScheduleError(f"cron needs six fields: {expression!r}")
    minutes, hours, days_of_month, months, days_of_week, years = fields
    return Cron(
        minutes=_field(minutes, 0, 59),
        hours=_field(hours, 0, 23),
        days_of_month=None if days_of_month == "?" else _field(days_of_month, 1, 31),
        months=_field(months, 1, 12, _MONTHS),
        days_of_week=None if days_of_week == "?" else _field(days_of_week, 1, 7, _DAYS),
        years=_field(years, 1970, 2199),
    )


def scheduled_event(source: ScheduleSource, region: str) -> Any:
    """The event EventBridge sends to the function (or the target's Input instead)."""
    if source.input is not None:
        try:
            return json.loads(source.input)
        except ValueError:
            return source.input
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT_ID,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [source.resource_arn],
        "detail": {},
    }


class ScheduleTimer:
    """Fires one schedule on a clock running `speed` times faster than real time."""

    def __init__(self, function_id: str, source: ScheduleSource, speed: float, fire: Callable[[], None]):
        if speed <= 0:
            raise ValueError("schedule speed must be positive")
        self.function_id = function_id
        self.source = source
        self._expression = parse_expression(source.expression)
        self._speed = speed
        self._fire = fire
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"schedule-{function_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join()

    def _run(self) -> None:
        real_start = time.monotonic()
        virtual_start = datetime.now(UTC)
        next_at = self._expression.next_after(virtual_start)
        while next_at is not None:
            virtual_now = virtual_start + timedelta(seconds=(time.monotonic() - real_start) * self._speed)
            if self._stopping.wait(max((next_at - virtual_now).total_seconds() / self._speed, 0)):
                return
            # Asynchronous, as EventBridge invokes: a slow function does not delay the next tick.
            threading.Thread(target=self._fire, daemon=True).start()
            next_at = self._expression.next_after(next_at)
