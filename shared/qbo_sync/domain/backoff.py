"""The one retry schedule: exponential, capped, with "equal jitter"."""

from __future__ import annotations

import random
from collections.abc import Callable

_jitter = random.Random()  # noqa: S311 - spreads retries; not a security use


def backoff_delay(
    retry_number: int, base: float, cap: float, uniform: Callable[[float, float], float] = _jitter.uniform
) -> float:
    """Seconds before retry ``retry_number`` (1-based): exponential, capped, "equal jitter".

    Half the exponential step is fixed so retries never bunch at zero, the other half is random so
    concurrent callers that failed together do not retry together.
    """
    ceiling = min(cap, base * 2.0 ** (retry_number - 1))
    return ceiling / 2 + uniform(0, ceiling / 2)
