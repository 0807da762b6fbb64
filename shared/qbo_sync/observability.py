"""The one observability module: Powertools Logger and Metrics, Tracer only when enabled.

The Tracer pulls in the X-Ray SDK (~700 ms of imports), so it is created lazily and only when
``TRACING_ENABLED`` is true; handlers decorate with ``trace`` which is a no-op otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools import Logger, Metrics

from qbo_sync.config import get_settings

logger = Logger()
metrics = Metrics(namespace=get_settings().metrics_namespace)


def trace[F: Callable[..., Any]](handler: F) -> F:
    """Wrap a handler with the Powertools Tracer when tracing is enabled; otherwise return it as is."""
    if not get_settings().tracing_enabled:
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - import cost only when tracing is on

    return cast("F", Tracer().capture_lambda_handler(handler))
