"""The Lambda runner: drives the template's functions the way AWS does (SQS, HTTP API, schedules)."""

from local.runner.pool import InvocationResult
from local.runner.runner import LambdaRunner

__all__ = ["InvocationResult", "LambdaRunner"]
