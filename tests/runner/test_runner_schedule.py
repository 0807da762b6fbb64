"""Schedules: EventBridge's Scheduled Event, fired on a sped-up clock or on demand."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from local.runner.schedules import parse_expression
from tests.runner.conftest import RunnerFactory, lines_starting, wait_for


def test_a_rate_schedule_fires_sped_up(make_runner: RunnerFactory) -> None:
    runner = make_runner(schedule_speed=120)  # rate(1 minute) -> every 0.5 s

    def two_ticks() -> list[str]:
        ticks = lines_starting(runner, "TickFunction", "TICK ")
        return ticks if len(ticks) >= 2 else []

    ticks = wait_for(two_ticks, timeout=5, message="two ticks")

    event = json.loads(ticks[0].removeprefix("TICK "))
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/runner-tests-TickFunctionTick"]
    assert event["detail"] == {}
    assert set(event) == {
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    }


def test_fire_schedule_invokes_now(make_runner: RunnerFactory) -> None:
    runner = make_runner()  # no automatic firing

    result = runner.fire_schedule("TickFunction")

    assert result.ok
    assert result.payload["ticked"].endswith("Z")
    assert runner.schedules() == [("rate(1 minute)", "TickFunction", False)]


def test_cron_expressions_follow_eventbridge() -> None:
    start = datetime(2026, 3, 6, 17, 58, 30, tzinfo=UTC)  # a Friday
    weekdays_at_8 = parse_expression("cron(0 8 ? * MON-FRI *)")
    quarter_hours = parse_expression("cron(0/15 * * * ? *)")

    assert weekdays_at_8.next_after(start) == datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert quarter_hours.next_after(start) == datetime(2026, 3, 6, 18, 0, tzinfo=UTC)
    assert parse_expression("rate(5 minutes)").next_after(start) == datetime(
        2026, 3, 6, 18, 3, 30, tzinfo=UTC
    )
