"""One place that creates boto3 clients: shared session, timeouts and retry mode.

Endpoints come from the standard ``AWS_ENDPOINT_URL`` (the local stack points it at moto), so product
code cannot tell moto from AWS.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_sqs import SQSClient

_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"mode": "standard", "max_attempts": 4})


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
