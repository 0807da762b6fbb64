"""The emulator clock and the timestamp formats QBO puts on the wire."""

import time
from datetime import UTC, date, datetime, timedelta, timezone

# Sandbox companies live in US Pacific time; QBO renders every timestamp with the company's
# offset. A fixed offset keeps emulator output reproducible (no DST jumps in the middle of a test).
COMPANY_TZ = timezone(timedelta(hours=-7))


class EmulatorClock:
    """Real time scaled by a speed factor plus explicit advances.

    Anchored to time.monotonic() so host clock adjustments never move emulator time backwards.
    The anchor is one tuple, replaced atomically, so readers never see a half-updated clock.
    """

    def __init__(self) -> None:
        self._anchor = (time.monotonic(), datetime.now(UTC), 1.0)

    def now(self) -> datetime:
        real0, emu0, speed = self._anchor
        return emu0 + timedelta(seconds=(time.monotonic() - real0) * speed)

    @property
    def speed(self) -> float:
        return self._anchor[2]

    def _reanchor(self, speed: float, extra_seconds: float) -> None:
        real0, emu0, old_speed = self._anchor
        real = time.monotonic()
        emu = emu0 + timedelta(seconds=(real - real0) * old_speed + extra_seconds)
        self._anchor = (real, emu, speed)

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._reanchor(speed, 0.0)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._reanchor(self.speed, seconds)

    def reset(self) -> None:
        self._anchor = (time.monotonic(), datetime.now(UTC), 1.0)

    def real_seconds(self, emulator_seconds: float) -> float:
        """How long to really wait for `emulator_seconds` to pass at the current speed."""
        return max(0.0, emulator_seconds) / self.speed


def meta_timestamp(moment: datetime) -> str:
    """MetaData/DeliveryInfo style: 2015-07-24T10:33:39-07:00."""
    return moment.astimezone(COMPANY_TZ).isoformat(timespec="seconds")


def response_time(moment: datetime) -> str:
    """Top-level `time` style: 2015-07-24T10:33:39.110-07:00."""
    return moment.astimezone(COMPANY_TZ).isoformat(timespec="milliseconds")


def company_date(moment: datetime) -> date:
    return moment.astimezone(COMPANY_TZ).date()


def utc_timestamp(moment: datetime, *, nanoseconds: bool = False) -> str:
    """Webhook style UTC time: milliseconds (legacy) or nanoseconds (CloudEvents), with a Z."""
    utc = moment.astimezone(UTC)
    if nanoseconds:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond:06d}000Z"
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(text: str) -> datetime | None:
    """A date or date-time as QBO clients send them; a missing offset means company time."""
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=COMPANY_TZ)
