"""Small DynamoDB helpers shared by the store adapters."""

from __future__ import annotations

from decimal import Decimal

from botocore.exceptions import ClientError


def condition_failed(error: ClientError) -> bool:
    """True when a conditional write lost (the expected state was not there)."""
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def as_int(value: object) -> int:
    """A DynamoDB number attribute (boto3 returns ``Decimal``) as an int."""
    if not isinstance(value, Decimal | int):
        raise TypeError(f"expected a number attribute, got {type(value).__name__}")
    return int(value)
