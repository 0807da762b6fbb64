"""`LambdaRunner`: drives the template's functions the way AWS does, against the local AWS."""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from local.aws import Provisioned
from local.runner.httpapi import HttpApi, HttpApiServer
from local.runner.pool import FunctionLog, FunctionPool, InvocationResult
from local.runner.schedules import ScheduleError, ScheduleTimer, scheduled_event
from local.runner.spec import FunctionSpec, load_functions
from local.runner.sqs import SqsPoller

# How long stop() lets batches in flight record their outcome after their workers are gone.
_STOP_GRACE_SECONDS = 2.0

logger = logging.getLogger(__name__)


def lambda_environment(
    spec: FunctionSpec, provisioned: Provisioned, overrides: Mapping[str, str]
) -> dict[str, str]:
    """A worker's environment: a clean one, as on Lambda, not the developer's shell.

    The template's variables come first, then the variables Lambda reserves (a template cannot set
    those), then the local AWS endpoint and credentials, and last the caller's overrides.
    """
    return {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        # Never the developer's ~/.aws profiles: only the local endpoint and dummy credentials.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        **spec.environment,
        "_HANDLER": spec.handler,
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(spec.timeout),
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        # What `sam local` sets: Powertools' Tracer then stays off instead of looking for X-Ray.
        "AWS_SAM_LOCAL": "true",
        **provisioned.environment(),
        **overrides,
    }


class LambdaRunner:
    """Runs the functions of a SAM template: SQS event sources, HTTP API routes and schedules.

    `schedule_speed` makes schedules fire that many times faster than real time (None: schedules
    fire only through `fire_schedule`).
    """

    def __init__(
        self,
        template_path: str | Path,
        provisioned: Provisioned,
        env_overrides: Mapping[str, str] | None = None,
        code_root: str | Path | None = None,
        *,
        http_port: int = 0,
        schedule_speed: float | None = 1.0,
        verbose: bool = False,
        log_dir: str | Path | None = None,
    ) -> None:
        self.provisioned = provisioned
        self.functions = load_functions(
            Path(template_path), provisioned, Path(code_root) if code_root is not None else None
        )
        self._logs = {
            fid: FunctionLog(
                fid,
                path=Path(log_dir) / f"{fid}.log" if log_dir is not None else None,
                echo=verbose,
            )
            for fid in self.functions
        }
        self._pools = {
            fid: FunctionPool(
                spec,
                lambda_environment(spec, provisioned, env_overrides or {}),
                self._logs[fid],
                spec.concurrency,
            )
            for fid, spec in self.functions.items()
        }
        self._http_port = http_port
        self._schedule_speed = schedule_speed
        self._http: HttpApiServer | None = None
        self._pollers: list[SqsPoller] = []
        self._timers: list[ScheduleTimer] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LambdaRunner:
        routes = [(fid, route) for fid, spec in self.functions.items() for route in spec.routes]
        if routes:
            self._http = HttpApiServer(HttpApi(routes, self.invoke), self._http_port)
            self._http.start()
        sqs = self.provisioned.client("sqs")
        for fid, spec in self.functions.items():
            for source in spec.sqs_sources:
                if source.enabled:
                    self._pollers.append(SqsPoller(fid, source, sqs, self.invoke, self.provisioned.region))
            if self._schedule_speed is not None:
                self._timers.extend(self._schedule_timers(fid, spec, self._schedule_speed))
        for poller in self._pollers:
            poller.start()
        for timer in self._timers:
            timer.start()
        return self

    def _schedule_timers(self, fid: str, spec: FunctionSpec, speed: float) -> list[ScheduleTimer]:
        timers: list[ScheduleTimer] = []
        for source in spec.schedules:
            if not source.enabled:
                continue
            try:
                fire = functools.partial(self._fire_async, fid, source.event_name)
                timers.append(ScheduleTimer(fid, source, speed, fire))
            except ScheduleError as exc:
                logger.warning("%s %s: %s; fire it with fire_schedule()", fid, source.event_name, exc)
        return timers

    def _fire_async(self, fid: str, event_name: str) -> None:
        result = self.fire_schedule(fid, event_name)
        if not result.ok:
            logger.info("%s: scheduled invocation failed: %s", fid, result.error)

    def stop(self) -> None:
        """Stop timers, pollers and the HTTP server, then end every worker."""
        for timer in self._timers:
            timer.stop()
        # All pollers at once: each may be in a long poll of up to a second.
        for poller in self._pollers:
            poller.stop()
        if self._http is not None:
            self._http.stop()
        for pool in self._pools.values():
            pool.close()
        for poller in self._pollers:
            poller.join(_STOP_GRACE_SECONDS)
        for log in self._logs.values():
            log.close()
        self._timers, self._pollers, self._http = [], [], None

    def __enter__(self) -> LambdaRunner:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ driving functions

    def invoke(self, function_id: str, event: Any) -> InvocationResult:
        """A synchronous invocation (RequestResponse), as the event sources make them."""
        return self._pools[function_id].invoke(event)

    def fire_schedule(self, function_id: str, event_name: str | None = None) -> InvocationResult:
        """Invoke a function with its schedule's event now (the first schedule unless named)."""
        schedules = self.functions[function_id].schedules
        source = next((item for item in schedules if event_name in {None, item.event_name}), None)
        if source is None:
            raise KeyError(f"{function_id} has no schedule {event_name or ''}".rstrip())
        return self.invoke(function_id, scheduled_event(source, self.provisioned.region))

    def set_event_sources_enabled(self, function_id: str, enabled: bool) -> None:
        """Enable or disable the function's SQS event sources (UpdateEventSourceMapping's Enabled): a
        test can then read what a queue holds, or drive the function with its messages itself."""
        for poller in self._pollers:
            if poller.function_id == function_id:
                poller.set_enabled(enabled)

    def environment(self, function_id: str) -> dict[str, str]:
        """The environment the function's workers run with."""
        return self._pools[function_id].environment

    def logs(self, function_id: str) -> list[str]:
        """The function's recent log lines (START/END/REPORT, handler output, errors, timeouts)."""
        return self._logs[function_id].lines()

    # ------------------------------------------------------------------ what is served where

    @property
    def http_url(self) -> str | None:
        """Base URL of the HTTP API (None when the template has no HttpApi routes)."""
        return self._http.url if self._http is not None else None

    def routes(self) -> list[tuple[str, str]]:
        """(route key, function logical id) for every HTTP API route, in matching order."""
        if self._http is None:
            return []
        return [(bound.route.route_key, bound.function_id) for bound in self._http.api.routes]

    def event_sources(self) -> list[tuple[str, str]]:
        """(queue URL, function logical id) for every running SQS event source."""
        return [(poller.queue_url, poller.function_id) for poller in self._pollers]

    def schedules(self) -> list[tuple[str, str, bool]]:
        """(expression, function logical id, fired automatically) for every schedule."""
        timed = {(timer.function_id, timer.source.event_name) for timer in self._timers}
        return [
            (source.expression, fid, (fid, source.event_name) in timed)
            for fid, spec in self.functions.items()
            for source in spec.schedules
        ]
