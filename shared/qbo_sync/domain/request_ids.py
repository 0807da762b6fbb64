"""Deterministic QBO ``requestid`` values: the same logical write always carries the same id, so a
retry after a lost response is replayed by QBO instead of performed twice (qbo-facts §7)."""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.UUID("6b3f7f0e-3d0a-4c55-9a55-1d3c1e7a0b42")


def request_id(*parts: object) -> str:
    """A 36-character UUID (QBO allows 50, batches 36) derived from the parts."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(str(part) for part in parts)))
