"""One place that creates boto3 clients: shared session, timeouts and retry mode.

Endpoints come from the standard ``AWS_ENDPOINT_URL`` (the local stack points it at moto), so product
code cannot tell moto from AWS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_sqs import SQSClient

_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard", "max_attempts": 4})
# Calls in flight at once for one fan-out; within botocore's connection pool (10 per client), so every
# thread keeps its connection.
PARALLEL_CALLS = 8


@lru_cache(maxsize=1)
def _session() -> boto3.Session:
    return boto3.Session()


@lru_cache(maxsize=8)
def dynamodb_table(table_name: str) -> Table:
    return _session().resource("dynamodb", config=_CONFIG).Table(table_name)


@lru_cache(maxsize=1)
def kms_client() -> KMSClient:
    return _session().client("kms", config=_CONFIG)


@lru_cache(maxsize=1)
def sqs_client() -> SQSClient:
    return _session().client("sqs", config=_CONFIG)


def concurrently[T, R](call: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``call(item)`` for every item, ``PARALLEL_CALLS`` at a time, results in order. For calls on the
    low-level clients, which are thread-safe (boto3 resources such as ``Table`` are not). Every call
    finishes before the first error, if any, is raised."""
    if len(items) <= 1:
        return [call(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(PARALLEL_CALLS, len(items))) as pool:
        return list(pool.map(call, items))
