"""One Lambda execution environment: imports a handler once, then serves invocations.

Run as a script by the runner (`python -u -P worker.py CONFIG`), never imported: it must not put
`local/` on the handler's import path, so it uses the standard library only. It mirrors the Python
runtime interface client (awslambdaric): the same root log handler and format, the same context
attributes, the same error payloads and `[ERROR]` log lines, START/END/REPORT lines.

Protocol: invocation requests arrive as JSON lines on stdin; `ready` and `result` messages leave as
JSON lines on a dedicated pipe (CONFIG's `result_fd`), so the handler's stdout and stderr remain
plain logs for the runner to collect.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

Handler = Callable[[Any, Any], Any]

_current_request_id = ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = _current_request_id
        return True


class LambdaContext:
    """The attributes and methods of awslambdaric's context object."""

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, as on Lambda (the runtime copies the environment variable).
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.client_context = None
        self.identity = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message: str) -> None:
        sys.stdout.write(str(message))


def _setup_logging() -> None:
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging.getLevelNamesMapping():
        root.setLevel(level)


def _error(message: str, error_type: str, stack: list[str] | None = None) -> dict[str, Any]:
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": _current_request_id,
        "stackTrace": stack or [],
    }


def _exception_error(exc: BaseException) -> dict[str, Any]:
    frames = traceback.extract_tb(exc.__traceback__)
    # Like the runtime, start the trace at the handler's own frame.
    while frames and frames[0].filename == __file__:
        frames.pop(0)
    return _error(str(exc), type(exc).__name__, traceback.format_list(frames))


def _log_error(error: dict[str, Any]) -> None:
    lines = [f"[ERROR] {error['errorType']}: {error['errorMessage']}"]
    if error["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(line for frame in error["stackTrace"] for line in frame.rstrip("\n").splitlines())
    sys.stdout.write("\n".join(lines) + "\n")


def _load_handler(spec: str) -> tuple[Handler | None, dict[str, Any] | None]:
    module_name, _, function_name = spec.rpartition(".")
    if not module_name:
        return None, _error(
            f"Bad handler '{spec}': not enough values to unpack", "Runtime.MalformedHandlerName"
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, _error(f"Unable to import module '{module_name}': {exc}", "Runtime.ImportModuleError")
    except SyntaxError as exc:
        return None, _error(f"Syntax error in module '{module_name}': {exc}", "Runtime.UserCodeSyntaxError")
    except Exception as exc:
        return None, _exception_error(exc)
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, _error(
            f"Handler '{function_name}' missing on module '{module_name}'", "Runtime.HandlerNotFound"
        )
    return handler, None


def _invoke(handler: Handler, request: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None]:
    context = LambdaContext(request["request_id"], request["deadline_ms"], request["invoked_function_arn"])
    try:
        result = handler(request["event"], context)
    except Exception as exc:
        error = _exception_error(exc)
        _log_error(error)
        return None, error
    try:
        return json.dumps(result), None
    except (TypeError, ValueError) as exc:
        error = _error(f"Unable to marshal response: {exc}", "Runtime.MarshalError")
        _log_error(error)
        return None, error


def _max_memory_mb() -> int:
    # VmHWM is this program's peak; ru_maxrss would also count the runner's image from before exec.
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _send(channel: TextIO, message: dict[str, Any]) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def main() -> None:
    global _current_request_id  # noqa: PLW0603 - the log filter reads it, as in the runtime
    config = json.loads(sys.argv[1])
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    # The handler must not read the runner's requests by accident.
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    results = os.fdopen(config["result_fd"], "w", encoding="utf-8")
    sys.path[:0] = config["paths"]
    _setup_logging()

    started = time.perf_counter()
    handler, init_error = _load_handler(config["handler"])
    init_ms = (time.perf_counter() - started) * 1000
    if init_error is not None:
        _log_error(init_error)
    _send(results, {"type": "ready", "init_ms": init_ms, "error": init_error})
    if handler is None:
        return

    memory = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "")
    report_init = f"\tInit Duration: {init_ms:.2f} ms"
    for line in requests:
        request = json.loads(line)
        _current_request_id = request["request_id"]
        print(f"START RequestId: {_current_request_id} Version: $LATEST")
        started = time.perf_counter()
        payload, error = _invoke(handler, request)
        duration = (time.perf_counter() - started) * 1000
        used_mb = _max_memory_mb()
        print(f"END RequestId: {_current_request_id}")
        print(
            f"REPORT RequestId: {_current_request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {math.ceil(duration)} ms\tMemory Size: {memory} MB\t"
            f"Max Memory Used: {used_mb} MB{report_init}"
        )
        report_init = ""
        _send(results, {"type": "result", "payload": payload, "error": error})
        _current_request_id = ""


if __name__ == "__main__":
    main()
