"""Counts the DynamoDB calls the QBO request budget makes on its realm items (``pk=RATE#...``), as
botocore sends them: what each QBO request costs in reads and writes (tests and ``make bench``)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.service_resource import Table


@dataclass
class BudgetCalls:
    reads: int = 0
    conditional_writes: int = 0  # the acquires, won or lost
    lost_conditions: int = 0
    unconditional_writes: int = 0  # the releases

    def add(self, other: BudgetCalls) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def per_request(self, requests: int) -> str:
        return ", ".join(f"{name} {value / requests:.2f}" for name, value in asdict(self).items())


@contextmanager
def counting_budget_calls(table: Table) -> Iterator[BudgetCalls]:
    """Every call on ``table``'s client (so every thread of this process) while the block runs."""
    events = table.meta.client.meta.events
    calls = BudgetCalls()
    lock = threading.Lock()
    unique = uuid.uuid4().hex

    def before(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if b'"RATE#' in params["body"]:  # a key (or key condition) of a realm's budget
            context["budget_call"] = (model.name, b'"ConditionExpression"' in params["body"])

    def after(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if "budget_call" not in context:
            return
        operation, conditional = context["budget_call"]
        with lock:
            if operation in ("GetItem", "Query"):
                calls.reads += 1
            elif conditional:
                calls.conditional_writes += 1
                lost = parsed.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
                calls.lost_conditions += lost
            else:
                calls.unconditional_writes += 1

    events.register("before-call.dynamodb", before, unique_id=f"before-{unique}")
    events.register("after-call.dynamodb", after, unique_id=f"after-{unique}")
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb", unique_id=f"before-{unique}")
        events.unregister("after-call.dynamodb", unique_id=f"after-{unique}")
