"""A per-process cache whose entries expire: what a warm Lambda may keep of rarely changing records."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class ExpiringCache[K, V]:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._seconds = seconds
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()  # a webhook batch looks realms up from several threads

    def get(self, key: K) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
        return entry[1] if entry is not None and entry[0] > self._clock() else None

    def put(self, key: K, value: V) -> V:
        with self._lock:
            self._entries[key] = (self._clock() + self._seconds, value)
        return value

    def discard(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)
