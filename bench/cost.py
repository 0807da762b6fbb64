"""What 1,000 invoices cost on AWS: copied, sent through QBO and paid in QBO, through the whole local stack.

Everything is counted, not assumed: every AWS API call the functions make (the moto server logs each
one), every Lambda invocation with its duration and configured memory (the runner's REPORT lines),
and the bytes each function logs (CloudWatch ingestion). The QBO emulator answers each request after
QBO_LATENCY_MS, roughly what QBO takes, so durations include the wait a real function is billed for.
Priced at AWS list prices (us-east-1, x86, on-demand; late 2026) and scaled to 1,000 invoices.

DynamoDB units are estimated from the calls: a PutItem is ceil(request bytes / 1 KB) write units (its
request carries the whole item), plus as many again when the item carries the index's key (the index is
written too); an UpdateItem or DeleteItem is 1 (our items stay under 1 KB); a read or query is 1 read
unit. SQS receives are counted as Lambda's event source makes them on AWS: one per batch delivered (the
local runner's empty one-second polls stand in for the event source's 20-second long polls, a fixed
cost per queue that does not grow with invoices, so they are left out).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from local.aws import CALL_LOG_ENV
from local.controls import wait_for
from local.operator import connect_new_tenant, send_command, use_product_environment
from local.stack import product_stack

INVOICES = 40
QBO_LATENCY_MS = 150
LOG_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "logs" / "bench-cost"
LINE = {"kind": "time", "description": "Support ticket", "serviceType": "Support", "hours": 1.5, "rate": 120}

# USD, us-east-1 list prices.
LAMBDA_GB_SECOND = Decimal("0.0000166667")
LAMBDA_REQUEST = Decimal("0.20") / 1_000_000
SQS_FIFO_REQUEST = Decimal("0.50") / 1_000_000
DYNAMODB_WRITE_UNIT = Decimal("0.625") / 1_000_000
DYNAMODB_READ_UNIT = Decimal("0.125") / 1_000_000
KMS_REQUEST = Decimal("0.03") / 10_000
SECRETS_MANAGER_CALL = Decimal("0.05") / 10_000
HTTP_API_REQUEST = Decimal("1.00") / 1_000_000
LOG_INGESTION_GB = Decimal("0.50")

_REPORT = re.compile(
    r"REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: (\d+) ms\tMemory Size: (\d+) MB"
)
_HTTP_FUNCTIONS = {"OneDeskCommandsFunction", "QboWebhookFunction", "QboConnectFunction", "HealthFunction"}
_SQS_FUNCTIONS = {"CopyInvoiceFunction", "SendInvoiceFunction", "SyncPaymentsFunction"}
_DYNAMODB_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
_DYNAMODB_READS = {"GetItem", "Query", "Scan", "BatchGetItem"}


@dataclass
class FunctionUse:
    invocations: int = 0
    gb_seconds: Decimal = Decimal(0)
    log_bytes: int = 0
    memory_mb: int = 0


def main() -> None:
    print(
        f"\nCost per 1,000 invoices copied + sent + paid (measured on {INVOICES} through the local stack, "
        f"QBO answering in {QBO_LATENCY_MS} ms)"
    )
    calls_path = LOG_DIR / "aws-calls.jsonl"
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    calls_path.unlink(missing_ok=True)
    os.environ[CALL_LOG_ENV] = str(calls_path)
    try:
        with product_stack(schedule_speed=None, log_dir=LOG_DIR) as stack:
            use_product_environment(stack)
            world = connect_new_tenant(stack)
            world.qbo.control("POST", "/faults", {"delay_ms": QBO_LATENCY_MS, "count": 1_000_000})
            logs_before = {path.name: path.stat().st_size for path in LOG_DIR.glob("*.log")}
            calls_before = _line_count(calls_path)
            started = time.monotonic()
            _copy_send_and_pay(stack, world)
            elapsed = time.monotonic() - started
            world.qbo.control("DELETE", "/faults")
    finally:
        os.environ.pop(CALL_LOG_ENV, None)
    functions = _function_use(logs_before)
    calls = _aws_calls(calls_path, calls_before)
    _report(functions, calls, elapsed)


def _copy_send_and_pay(stack: object, world: object) -> None:
    from local.operator import ConnectedTenant  # noqa: PLC0415 - typing only
    from local.stack import LocalStack  # noqa: PLC0415

    assert isinstance(stack, LocalStack) and isinstance(world, ConnectedTenant)
    organization = world.onedesk.organization(
        "Cost Bench Customer", contact="Pat Payer", email="ap@cost.test"
    )
    invoices = []
    for _ in range(INVOICES):
        created = world.onedesk.invoice(organization, [LINE])
        invoices.append(world.onedesk.move(created["id"], "Open"))
    for invoice in invoices:
        response = send_command(stack.http_url, world.tenant, invoice["id"], "send", uuid.uuid4().hex)
        assert response.status_code == 202, response.text
    wait_for(lambda: len(world.qbo.sends()) >= INVOICES, timeout=600, what="every invoice emailed by QBO")
    for invoice in invoices:
        record = wait_for(
            lambda invoice_id=invoice["id"]: (
                (r := world.onedesk.record(invoice_id))["externalReferences"].get("qbo") and r
            ),
            what="the QBO reference",
        )
        qbo_id = record["externalReferences"]["qbo"]["invoiceId"]
        customer = world.qbo.entity("Invoice", qbo_id)["CustomerRef"]["value"]
        line = {"Amount": str(record["total"]), "LinkedTxn": [{"TxnId": qbo_id, "TxnType": "Invoice"}]}
        body = {"CustomerRef": {"value": customer}, "TotalAmt": str(record["total"]), "Line": [line]}
        world.qbo.data("POST", "payment", body)
    wait_for(
        lambda: all(world.onedesk.record(i["id"])["status"] == "Paid" for i in invoices),
        timeout=600,
        what="every invoice paid in OneDesk",
    )
    sqs = stack.provisioned.client("sqs")
    queues = ["InvoiceCommandsQueue", "InvoiceDeliveriesQueue", "QboChangesQueue"]

    def drained() -> bool:
        for queue in queues:
            attributes = sqs.get_queue_attributes(
                QueueUrl=stack.provisioned.ref(queue),
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if int(attributes["ApproximateNumberOfMessages"]) + int(
                attributes["ApproximateNumberOfMessagesNotVisible"]
            ):
                return False
        return True

    wait_for(drained, timeout=300, what="every queue drained")
    time.sleep(2)  # the last REPORT lines trail their results


def _line_count(path: Path) -> int:
    return sum(1 for _ in path.open(encoding="utf-8")) if path.exists() else 0


def _function_use(logs_before: dict[str, int]) -> dict[str, FunctionUse]:
    used: dict[str, FunctionUse] = defaultdict(FunctionUse)
    for path in LOG_DIR.glob("*.log"):
        with path.open("rb") as log:
            log.seek(logs_before.get(path.name, 0))
            text = log.read()
        use = used[path.stem]
        use.log_bytes = len(text)
        for billed_ms, memory_mb in _REPORT.findall(text.decode("utf-8", errors="replace")):
            use.invocations += 1
            use.memory_mb = int(memory_mb)
            use.gb_seconds += Decimal(billed_ms) / 1000 * Decimal(memory_mb) / 1024
    return {name: use for name, use in used.items() if use.invocations}


def _aws_calls(path: Path, skip: int) -> Counter[tuple[str, str]]:
    calls: Counter[tuple[str, str]] = Counter()
    write_units = 0
    with path.open(encoding="utf-8") as log:
        for index, line in enumerate(log):
            if index < skip:
                continue
            call = json.loads(line)
            key = (call["service"], call["action"] + (f" {call['item']}" if "item" in call else ""))
            calls[key] += 1
            if call["action"] == "PutItem":
                units = max(1, math.ceil(call["bytes"] / 1024))
                write_units += units * (2 if call.get("indexed") else 1)
            elif call["action"] in _DYNAMODB_WRITES:
                write_units += 1
    calls[("dynamodb", "_write_units")] = write_units
    return calls


def _count(calls: Counter[tuple[str, str]], service: str, actions: set[str] | None = None) -> int:
    """Calls to ``service`` (of ``actions`` only, when given; the item kind after the action is ignored)."""
    return sum(
        n
        for (name, action), n in calls.items()
        if name == service
        and not action.startswith("_")
        and (actions is None or action.split()[0] in actions)
    )


def _report(functions: dict[str, FunctionUse], calls: Counter[tuple[str, str]], elapsed: float) -> None:
    scale = Decimal(1000) / INVOICES
    lines: list[tuple[str, str, Decimal]] = []
    for name, use in sorted(functions.items()):
        cost = use.gb_seconds * LAMBDA_GB_SECOND + use.invocations * LAMBDA_REQUEST
        detail = (
            f"{use.invocations * scale:>6.0f} invocations, {use.gb_seconds * scale:>6.1f} GB-s at "
            f"{use.memory_mb} MB, {use.log_bytes * scale / 1024**2:>5.2f} MB of logs"
        )
        lines.append((f"Lambda {name}", detail, cost * scale))
    log_bytes = sum(use.log_bytes for use in functions.values())
    log_cost = log_bytes / Decimal(1024**3) * LOG_INGESTION_GB
    lines.append(("CloudWatch Logs", f"{log_bytes * scale / 1024**2:.1f} MB ingested", log_cost * scale))
    http = sum(use.invocations for name, use in functions.items() if name in _HTTP_FUNCTIONS)
    lines.append(("API Gateway HTTP API", f"{http * scale:.0f} requests", http * HTTP_API_REQUEST * scale))
    delivered = sum(use.invocations for name, use in functions.items() if name in _SQS_FUNCTIONS)
    sent_or_deleted = _count(calls, "sqs") - _count(calls, "sqs", {"ReceiveMessage"})
    sqs = delivered + sent_or_deleted
    lines.append(("SQS FIFO", f"{sqs * scale:.0f} requests", sqs * SQS_FIFO_REQUEST * scale))
    writes = calls[("dynamodb", "_write_units")]
    reads = _count(calls, "dynamodb", _DYNAMODB_READS)
    detail = (
        f"{_count(calls, 'dynamodb') * scale:.0f} calls, ~{writes * scale:.0f} WRU, ~{reads * scale:.0f} RRU"
    )
    dynamodb = (writes * DYNAMODB_WRITE_UNIT + reads * DYNAMODB_READ_UNIT) * scale
    lines.append(("DynamoDB on-demand", detail, dynamodb))
    kms = _count(calls, "kms")
    lines.append(("KMS", f"{kms * scale:.0f} requests", kms * KMS_REQUEST * scale))
    secrets = _count(calls, "secretsmanager")
    lines.append(("Secrets Manager", f"{secrets * scale:.0f} calls", secrets * SECRETS_MANAGER_CALL * scale))
    total = sum((cost for _, _, cost in lines), Decimal(0))
    for what, detail, cost in lines:
        print(f"  {what:<32} {detail:<66} ${cost:.4f}")
    print(f"  {'total per 1,000 invoices':<32} {'':<66} ${total:.4f}   (target <= $0.02)")
    per_invoice = sorted(
        (
            (n / INVOICES, f"{service}.{action}")
            for (service, action), n in calls.items()
            if service == "dynamodb"
        ),
        reverse=True,
    )
    shown = ", ".join(
        f"{name} {n:.1f}" for n, name in per_invoice[:10] if not name.split(".")[1].startswith("_")
    )
    print(f"  DynamoDB calls per invoice: {shown}")
    print(f"  ({INVOICES} invoices took {elapsed:.0f} s end to end on this machine)")


if __name__ == "__main__":
    main()
