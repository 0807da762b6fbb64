"""Lambda execution environments as worker subprocesses, and each function's log."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from local.runner.spec import FunctionSpec

_WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# Lambda gives the init phase (imports, module-level code) 10 seconds of its own.
INIT_TIMEOUT_SECONDS = 10.0
# The worker prints REPORT before it sends the result; its log line may trail the result by a moment.
_LOG_SETTLE_SECONDS = 2.0

Status = Literal["ok", "error", "timeout"]


@dataclass(frozen=True)
class InvocationResult:
    """The outcome of one invocation, as Lambda's Invoke API would report it, plus its log lines."""

    function: str
    request_id: str
    status: Status
    payload: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    init_duration_ms: float | None = None  # set on a cold start
    logs: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class FunctionLog:
    """A function's log group: a ring of recent lines, optionally a file, optionally the console."""

    def __init__(self, label: str, *, path: Path | None = None, echo: bool = False, capacity: int = 10_000):
        self._label = label
        self._lines: collections.deque[str] = collections.deque(maxlen=capacity)
        self._lock = threading.Lock()
        self._echo = echo
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8", buffering=1)

    def append(self, line: str) -> None:
        with self._lock:
            self._lines.append(line)
            if self._file is not None:
                self._file.write(line + "\n")
        if self._echo:
            print(f"{self._label} | {line}", flush=True)

    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class _InvocationLost(Exception):
    """The worker timed out or exited; `lines` holds what it logged meanwhile."""

    def __init__(self, *, timed_out: bool) -> None:
        super().__init__("timed out" if timed_out else "exited")
        self.timed_out = timed_out
        self.lines: list[str] = []


class _Worker:
    """One execution environment: a Python process that imported the handler (cold start)."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], log: FunctionLog) -> None:
        self._log = log
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._capture: list[str] | None = None
        self._report_prefix = ""
        self._report_seen = threading.Event()
        self._capture_lock = threading.Lock()
        read_fd, write_fd = os.pipe()
        config = {
            "handler": spec.handler,
            "paths": [str(spec.code_dir), *(str(folder) for folder in spec.layer_dirs)],
            "result_fd": write_fd,
        }
        # Each environment writes its own log stream, as on Lambda.
        stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-P", str(_WORKER_SCRIPT), json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**environment, "AWS_LAMBDA_LOG_STREAM_NAME": stream},
            cwd=spec.code_dir,
            pass_fds=(write_fd,),
            # Own process group: Ctrl-C reaches the runner, which ends its workers itself, and a
            # kill takes the handler's own child processes along.
            start_new_session=True,
        )
        os.close(write_fd)
        self._output_reader = threading.Thread(target=self._read_output, daemon=True)
        self._output_reader.start()
        threading.Thread(target=self._read_messages, args=(read_fd,), daemon=True).start()

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._log.append(line)
            with self._capture_lock:
                if self._capture is not None:
                    self._capture.append(line)
                    if self._report_prefix and line.startswith(self._report_prefix):
                        self._report_seen.set()

    def _read_messages(self, read_fd: int) -> None:
        with os.fdopen(read_fd, encoding="utf-8") as channel:
            for line in channel:
                self._messages.put(json.loads(line))
        self._messages.put(None)

    def wait_ready(self) -> tuple[float, dict[str, Any] | None, list[str]]:
        """(init duration in ms, init error or None, init log lines) once the handler is imported."""
        self._start_capture("")
        try:
            message = self._next_message(INIT_TIMEOUT_SECONDS)
        except _InvocationLost:
            self.kill()
            error = {
                "errorMessage": f"Init did not complete within {INIT_TIMEOUT_SECONDS:.0f} seconds",
                "errorType": "Runtime.InitError",
            }
            return INIT_TIMEOUT_SECONDS * 1000, error, self._stop_capture()
        if message["error"] is not None:
            # The worker logs the init error, then exits: collect all of it for the result.
            self._output_reader.join(_LOG_SETTLE_SECONDS)
        return float(message["init_ms"]), message["error"], self._stop_capture()

    def invoke(self, request: dict[str, Any], timeout: float) -> tuple[dict[str, Any], list[str]]:
        """The worker's result message and the log lines of this invocation."""
        self._start_capture(f"REPORT RequestId: {request['request_id']}")
        try:
            assert self.process.stdin is not None
            try:
                self.process.stdin.write(json.dumps(request).encode() + b"\n")
                self.process.stdin.flush()
            except OSError as exc:
                raise _InvocationLost(timed_out=False) from exc
            message = self._next_message(timeout)
        except _InvocationLost as exc:
            exc.lines = self._stop_capture()
            raise
        self._report_seen.wait(_LOG_SETTLE_SECONDS)
        return message, self._stop_capture()

    def _start_capture(self, report_prefix: str) -> None:
        with self._capture_lock:
            self._capture = []
            self._report_prefix = report_prefix
            self._report_seen.clear()

    def _stop_capture(self) -> list[str]:
        with self._capture_lock:
            lines, self._capture = self._capture or [], None
            return lines

    def _next_message(self, timeout: float) -> dict[str, Any]:
        try:
            message = self._messages.get(timeout=timeout)
        except queue.Empty:
            raise _InvocationLost(timed_out=True) from None
        if message is None:
            raise _InvocationLost(timed_out=False)
        return message

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()


class RunnerStopped(RuntimeError):
    """The runner stopped while an invocation waited for an execution environment."""


class FunctionPool:
    """Up to `size` execution environments of one function, created on demand (cold starts)."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], log: FunctionLog, size: int):
        self.spec = spec
        self._environment = environment
        self._log = log
        self._size = size
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._condition = threading.Condition()
        self._closed = False

    @property
    def environment(self) -> dict[str, str]:
        return dict(self._environment)

    def invoke(self, event: Any) -> InvocationResult:
        request_id = str(uuid.uuid4())
        worker, init_ms, init_error, init_lines = self._acquire()
        if init_error is not None:
            self._discard(worker)
            return InvocationResult(
                self.spec.logical_id,
                request_id,
                "error",
                error=init_error,
                init_duration_ms=init_ms,
                logs=tuple(init_lines),
            )
        request = {
            "request_id": request_id,
            "deadline_ms": int(time.time() * 1000) + self.spec.timeout * 1000,
            "invoked_function_arn": self.spec.arn,
            "event": event,
        }
        started = time.perf_counter()
        try:
            message, lines = worker.invoke(request, self.spec.timeout)
        except _InvocationLost as exc:
            if exc.timed_out:
                self._discard(worker)
                return self._timed_out(request_id, exc.lines, init_ms)
            # Its results pipe closed: the process is exiting (sys.exit, a crash); report its status.
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(_LOG_SETTLE_SECONDS)
            self._discard(worker)
            error = {
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                f"exit status {worker.process.returncode}",
                "errorType": "Runtime.ExitError",
            }
            self._log.append(error["errorMessage"])
            return InvocationResult(
                self.spec.logical_id,
                request_id,
                "error",
                error=error,
                duration_ms=(time.perf_counter() - started) * 1000,
                init_duration_ms=init_ms,
                logs=(*exc.lines, error["errorMessage"]),
            )
        duration_ms = (time.perf_counter() - started) * 1000
        self._release(worker)
        error = message["error"]
        return InvocationResult(
            self.spec.logical_id,
            request_id,
            "ok" if error is None else "error",
            payload=None if message["payload"] is None else json.loads(message["payload"]),
            error=error,
            duration_ms=duration_ms,
            init_duration_ms=init_ms,
            logs=tuple(lines),
        )

    def _timed_out(self, request_id: str, lines: list[str], init_ms: float | None) -> InvocationResult:
        # Lambda's own lines for a timeout; the environment is destroyed, the next one starts cold.
        timeout = self.spec.timeout
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        ending = [
            f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds",
            f"END RequestId: {request_id}",
            f"REPORT RequestId: {request_id}\tDuration: {timeout * 1000:.2f} ms\t"
            f"Billed Duration: {timeout * 1000} ms\tMemory Size: {self.spec.memory_mb} MB\tStatus: timeout",
        ]
        for line in ending:
            self._log.append(line)
        return InvocationResult(
            self.spec.logical_id,
            request_id,
            "timeout",
            error={
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
                "errorType": "Sandbox.Timedout",
            },
            duration_ms=timeout * 1000.0,
            init_duration_ms=init_ms,
            logs=(*lines, *ending),
        )

    def _acquire(self) -> tuple[_Worker, float | None, dict[str, Any] | None, list[str]]:
        """(worker, init ms if it was just created, init error, init log lines)."""
        with self._condition:
            while not self._idle and len(self._all) >= self._size and not self._closed:
                self._condition.wait()
            if self._closed:
                raise RunnerStopped(self.spec.logical_id)
            if self._idle:
                return self._idle.pop(), None, None, []
            worker = _Worker(self.spec, self._environment, self._log)
            self._all.add(worker)
        init_ms, error, lines = worker.wait_ready()
        return worker, init_ms, error, lines

    def _release(self, worker: _Worker) -> None:
        with self._condition:
            if self._closed:
                worker.kill()
            else:
                self._idle.append(worker)
            self._condition.notify()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._condition:
            self._all.discard(worker)
            self._condition.notify()

    def close(self) -> None:
        with self._condition:
            self._closed = True
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._condition.notify_all()
        for worker in workers:
            worker.kill()
