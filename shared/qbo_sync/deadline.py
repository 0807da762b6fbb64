"""How long the current invocation has left, so retry loops give up in time instead of being killed by
Lambda's timeout mid-request (a killed batch is retried whole; a failed record only by itself)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

# Kept back for recording the outcome (batch response, audit, logs) after the last attempt.
SAFETY_MARGIN_SECONDS = 5.0

_deadline: ContextVar[float | None] = ContextVar("invocation_deadline", default=None)


class _Context(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@contextmanager
def invocation(context: _Context) -> Iterator[None]:
    end = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - SAFETY_MARGIN_SECONDS
    token = _deadline.set(end)
    try:
        yield
    finally:
        _deadline.reset(token)


def seconds_left() -> float | None:
    """None outside an invocation (tests, scripts): no deadline."""
    end = _deadline.get()
    return None if end is None else end - time.monotonic()
