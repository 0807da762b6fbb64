"""`make demo`: the product's story end to end on the local stack, one table per step.

Every step goes through the real pieces: moto provisioned from template.yaml, the functions run by the
Lambda runner from real SQS FIFO queues and HTTP routes, the QBO and OneDesk emulators. Nothing here
calls product code to fake an effect; it only plays the people around the product (an operator, a
OneDesk admin, a bookkeeper in QBO) and reads what each side holds afterwards.
"""

from __future__ import annotations

import html
import json
import re
import sys
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

from local.controls import OneDeskControl, QboControl, wait_for
from local.operator import (
    ConnectedTenant,
    connect_new_tenant,
    send_command,
    signed_link,
    use_product_environment,
)
from local.stack import LocalStack, product_stack

LOG_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "logs" / "demo"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[str(c) for c in headers], *[[("" if c is None else str(c)) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(f"\n{title}\n{line}")
    for index, row in enumerate(cells):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |")
        if index == 0:
            print(line)
    print(line)


def money(value: Any) -> str:
    return f"{Decimal(str(value)):.2f}"


class Demo:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.api = stack.http_url
        self.connected: ConnectedTenant | None = None

    @property
    def qbo(self) -> QboControl:
        assert self.connected is not None, "connect first"
        return self.connected.qbo

    @property
    def onedesk(self) -> OneDeskControl:
        assert self.connected is not None, "connect first"
        return self.connected.onedesk

    @property
    def tenant(self) -> Any:
        assert self.connected is not None, "connect first"
        return self.connected.tenant

    # ---------------------------------------------------------------------------------------- steps
    def health(self) -> None:
        response = requests.get(f"{self.api}/health", timeout=30)
        report = response.json()
        rows = [[name, state] for name, state in report["checks"].items()]
        table(
            f"1. GET /health through the Lambda runner -> {response.status_code} {report['status']} "
            f"(version {report['version']})",
            ["dependency", "state"],
            rows,
        )

    def connect(self) -> None:
        self.connected = connect_new_tenant(self.stack, "US", "California")
        income, tax = self.connected.settings["income_account_id"], self.connected.settings["tax_code_id"]
        table(
            "2. The OneDesk admin connects QuickBooks Online (signed link -> Intuit consent page -> "
            "callback) and saves the settings",
            ["setting", "value"],
            [
                ["tenant", self.tenant.tenant_id],
                ["QBO company (realm)", self.qbo.realm_id],
                ["country (read from QBO)", "US"],
                ["default income account", f"Services (id {income})"],
                ["default tax code", f"California (id {tax})"],
                ["settings page", f"{self.api}/qbo/settings"],
            ],
        )

    def copy(self) -> str:
        org = self.onedesk.organization("O'Brien & Sons", contact="Pat O'Brien", email="ap@obrien.test")
        lines = [
            {
                "kind": "time",
                "description": "Fix login page (ticket #481)",
                "serviceType": "Support",
                "hours": 1.5,
                "rate": 120,
            },
            {
                "kind": "time",
                "description": "Onboarding call (task #77)",
                "serviceType": "Training",
                "hours": 1.333,
                "rate": 75,
            },
            {"kind": "discount", "description": "Loyalty discount", "amount": 20},
            {"kind": "tax", "description": "Sales tax 8.25%", "taxRatePercent": 8.25},
        ]
        invoice = self.onedesk.move(self.onedesk.invoice(org, lines)["id"], "Open")
        before = self.qbo.last_seq()
        self._command(invoice["id"], "copy")
        qbo_invoice = self._await_copy(invoice["id"], invoice["total"])
        requests_made = len(self.qbo.data_requests(before))
        self._show_invoice(
            "3. An Open invoice is copied: new customer, two new services, discount and tax "
            f"({requests_made} QBO requests)",
            invoice["id"],
            qbo_invoice,
        )

        first_token = qbo_invoice["SyncToken"]
        self.onedesk.move(invoice["id"], "Draft")
        self.onedesk.edit(invoice["id"], lines=[{**lines[0], "hours": 2}, *lines[1:]])
        edited = self.onedesk.move(invoice["id"], "Open")
        before = self.qbo.last_seq()
        self._command(invoice["id"], "copy")
        qbo_invoice = self._await_copy(invoice["id"], edited["total"])
        table(
            "4. Edited in OneDesk and copied again: the same QBO invoice is updated",
            ["", "QBO invoice id", "SyncToken", "TotalAmt", "QBO requests"],
            [
                ["first copy", qbo_invoice["Id"], first_token, money(invoice["total"]), ""],
                [
                    "after the edit",
                    qbo_invoice["Id"],
                    qbo_invoice["SyncToken"],
                    money(qbo_invoice["TotalAmt"]),
                    len(self.qbo.data_requests(before)),
                ],
            ],
        )

        before = self.qbo.last_seq()
        audit_before = self._audit_count(invoice["id"], "unchanged")
        self._command(invoice["id"], "copy")
        wait_for(
            lambda: self._audit_count(invoice["id"], "unchanged") > audit_before, what="unchanged re-copy"
        )
        table(
            "5. Copied again without a change (an explicit copy reads the QBO invoice once to check it is "
            "still there and unedited; the poller's unchanged copies make no request)",
            ["outcome", "QBO requests", "OneDesk message"],
            [
                [
                    "unchanged",
                    len(self.qbo.data_requests(before)),
                    (self.onedesk.record(invoice["id"])["syncMessage"] or {}).get("text", ""),
                ]
            ],
        )
        self.conflict(invoice["id"], lines)

        draft = self.onedesk.invoice(org, lines[:1])
        self._command(draft["id"], "copy")
        record = wait_for(
            lambda: (r := self.onedesk.record(draft["id"]))["syncMessage"] and r, what="refusal"
        )
        table(
            "7. A Draft invoice is refused, with the reason shown in OneDesk",
            ["OneDesk invoice", "status", "sync message"],
            [[record["number"], record["status"], record["syncMessage"]["text"]]],
        )
        return str(invoice["id"])

    def conflict(self, invoice_id: str, lines: list[dict[str, Any]]) -> None:
        """A bookkeeper edits the copied invoice in QBO, then it changes in OneDesk too: the next copy does
        not overwrite QBO's version; the admin decides on the settings page."""
        qbo_id = self.onedesk.record(invoice_id)["externalReferences"]["qbo"]["invoiceId"]
        current = self.qbo.entity("Invoice", qbo_id)
        kept = [line for line in current["Line"] if line["DetailType"] != "SubTotalLineDetail"]
        first = next(line for line in kept if line["DetailType"] == "SalesItemLineDetail")
        first["Description"] = f"{first['Description']} - agreed flat hour"
        first["SalesItemLineDetail"]["Qty"] = 1
        first["Amount"] = first["SalesItemLineDetail"]["UnitPrice"]
        body = {"Id": qbo_id, "SyncToken": current["SyncToken"], "sparse": True, "Line": kept}
        theirs = self.qbo.data("POST", "invoice", body)["Invoice"]
        self.onedesk.move(invoice_id, "Draft")
        self.onedesk.edit(invoice_id, lines=[{**lines[0], "hours": 2.5}, *lines[1:]])
        ours = self.onedesk.move(invoice_id, "Open")
        self._command(invoice_id, "copy")
        wait_for(
            lambda: (
                "changed there since the last copy"
                in (self.onedesk.record(invoice_id)["syncMessage"] or {}).get("text", "")
            ),
            what="the conflict on the OneDesk invoice",
        )
        after = self.qbo.entity("Invoice", qbo_id)
        assert self.connected is not None
        admin = self.connected.admin
        page = admin.open(signed_link(self.api, self.tenant)).text
        listed = re.search(r'<section aria-labelledby="conflicts">.*?<td>([^<]*)</td>', page, re.S)
        rows: list[list[object]] = [
            ["bookkeeper's edit in QBO", money(theirs["TotalAmt"]), theirs["SyncToken"], ""],
            ["OneDesk edited, copied again", money(ours["total"]), after["SyncToken"], "not overwritten"],
            ["OneDesk message", "", "", self.onedesk.record(invoice_id)["syncMessage"]["text"][:96] + "..."],
            ["settings page lists it", "", "", html.unescape(listed.group(1)) if listed else "(missing)"],
        ]
        admin.submit(action="/qbo/conflicts", decision="overwrite")
        resolved = self._await_copy(invoice_id, ours["total"])
        rows.append(
            ["admin: Overwrite from OneDesk", money(resolved["TotalAmt"]), resolved["SyncToken"], "copied"]
        )
        table(
            "6. Edited in QBO by a bookkeeper and in OneDesk: the conflict is detected, nothing is "
            "overwritten until the admin chooses",
            ["", "total", "QBO SyncToken", ""],
            rows,
        )

    def send(self) -> tuple[str, str]:
        with_email = self.onedesk.organization("Globex", contact="Hank Scorpio", email="ap@globex.test")
        without_email = self.onedesk.organization("Initech", contact="Bill Lumbergh", email=None)
        line = {
            "kind": "time",
            "description": "Monthly support",
            "serviceType": "Support",
            "hours": 4,
            "rate": 120,
        }
        sent = self.onedesk.move(self.onedesk.invoice(with_email, [line])["id"], "Open")
        copied_only = self.onedesk.move(self.onedesk.invoice(without_email, [line])["id"], "Open")
        self._command(sent["id"], "send")
        self._command(copied_only["id"], "send")
        wait_for(self.qbo.sends, what="QBO email sent")
        no_email = wait_for(
            lambda: (
                (r := self.onedesk.record(copied_only["id"]))["syncMessage"]
                and "not sent" in r["syncMessage"]["text"]
                and r
            ),
            what="not-sent reason",
        )
        sent_record = wait_for(
            lambda: (
                (r := self.onedesk.record(sent["id"]))["syncMessage"]
                and "Sent by" in r["syncMessage"]["text"]
                and r
            ),
            what="sent message",
        )
        qbo_sent = self.qbo.entity("Invoice", sent_record["externalReferences"]["qbo"]["invoiceId"])
        table(
            "8. Send invoice: QBO emails it only when OneDesk has a billing email",
            ["OneDesk invoice", "customer", "QBO EmailStatus", "OneDesk tags", "sync message"],
            [
                [
                    sent_record["number"],
                    "Globex",
                    qbo_sent.get("EmailStatus"),
                    ", ".join(t["name"] for t in sent_record["tags"]),
                    sent_record["syncMessage"]["text"],
                ],
                [
                    no_email["number"],
                    "Initech",
                    "(not sent)",
                    ", ".join(t["name"] for t in no_email["tags"]),
                    no_email["syncMessage"]["text"],
                ],
            ],
        )
        table(
            "   QBO's send log",
            ["invoice id", "to", "time"],
            [[s["invoiceId"], s["to"], s["time"]] for s in self.qbo.sends()],
        )
        return str(sent["id"]), str(copied_only["id"])

    def payments(self, full_id: str, partial_id: str) -> None:
        full = self.onedesk.record(full_id)
        partial = self.onedesk.record(partial_id)
        for record, amount in ((full, Decimal(str(full["total"]))), (partial, Decimal("100.00"))):
            qbo_id = record["externalReferences"]["qbo"]["invoiceId"]
            customer = self.qbo.entity("Invoice", qbo_id)["CustomerRef"]
            self.qbo.data(
                "POST",
                "payment",
                {
                    "CustomerRef": {"value": customer["value"]},
                    "TotalAmt": str(amount),
                    "Line": [{"Amount": str(amount), "LinkedTxn": [{"TxnId": qbo_id, "TxnType": "Invoice"}]}],
                },
            )
        started = time.monotonic()
        self.qbo.control("POST", "/webhooks/flush")
        rows = []
        for invoice_id in (full_id, partial_id):
            record = wait_for(
                lambda i=invoice_id: (
                    (r := self.onedesk.record(i))["status"] in ("Paid", "PartiallyPaid") and r
                ),
                what="payment in OneDesk",
            )
            qbo_invoice = self.qbo.entity("Invoice", record["externalReferences"]["qbo"]["invoiceId"])
            rows.append(
                [
                    record["number"],
                    money(record["total"]),
                    money(record["amountPaid"]),
                    money(record["balance"]),
                    record["status"],
                    money(qbo_invoice["Balance"]),
                ]
            )
        table(
            "9. A bookkeeper records a full and a partial payment in QBO: the webhook brings them to "
            f"OneDesk in {time.monotonic() - started:.1f} s",
            ["OneDesk invoice", "total", "paid", "owed", "status", "QBO Balance"],
            rows,
        )

    def bad_input(self) -> None:
        sqs = self.stack.provisioned.client("sqs")
        dlq = self.stack.provisioned.ref("InvoiceCommandsDLQ")
        body = json.dumps({"tenant_id": self.tenant.tenant_id, "invoice_id": "1", "action": "refund"})
        sqs.send_message(
            QueueUrl=self.stack.provisioned.ref("InvoiceCommandsQueue"),
            MessageBody=body,
            MessageGroupId="demo",
            MessageDeduplicationId=uuid.uuid4().hex,
        )
        unsigned = requests.post(f"{self.api}/qbo/webhooks", data=b'[{"id":"x"}]', timeout=10)
        malformed = self._signed_post("/onedesk/commands", b"{not json")

        def rejected() -> list[dict[str, Any]]:
            messages = sqs.receive_message(
                QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
            ).get("Messages", [])
            return [m for m in messages if m["Body"] == body]

        (message,) = wait_for(rejected, what="malformed command in the DLQ")
        table(
            "10. Bad input is rejected with a reason and nothing is lost",
            ["input", "result"],
            [
                [
                    "command with action 'refund' on invoice-commands.fifo",
                    "DLQ: " + message["MessageAttributes"]["error_reason"]["StringValue"][:90],
                ],
                ["unsigned POST /qbo/webhooks", f"HTTP {unsigned.status_code} {unsigned.text}"],
                [
                    "signed but malformed POST /onedesk/commands",
                    f"HTTP {malformed.status_code} {malformed.text}",
                ],
            ],
        )

    # ---------------------------------------------------------------------------------------- helpers
    def _signed_post(self, path: str, body: bytes) -> requests.Response:
        from qbo_sync.domain.signing import sign  # noqa: PLC0415

        timestamp = int(time.time())
        headers = {
            "X-OneDesk-Tenant": self.tenant.tenant_id,
            "X-OneDesk-Timestamp": str(timestamp),
            "X-OneDesk-Signature": sign(self.tenant.shared_secret.get_secret_value(), timestamp, body),
        }
        return requests.post(f"{self.api}{path}", data=body, headers=headers, timeout=10)

    def _command(self, invoice_id: str, action: str) -> None:
        response = send_command(self.api, self.tenant, invoice_id, action, uuid.uuid4().hex)
        response.raise_for_status()

    def _await_copy(self, invoice_id: str, total: Any) -> dict[str, Any]:
        def copied() -> dict[str, Any] | None:
            reference = self.onedesk.record(invoice_id)["externalReferences"].get("qbo")
            if not reference:
                return None
            found = self.qbo.entity("Invoice", reference["invoiceId"])
            reported = "Copied to QuickBooks Online" in (
                self.onedesk.record(invoice_id)["syncMessage"] or {}
            ).get("text", "")
            return found if reported and Decimal(str(found["TotalAmt"])) == Decimal(str(total)) else None

        return wait_for(copied, what=f"invoice {invoice_id} in QBO")

    def _audit_count(self, invoice_id: str, outcome: str) -> int:
        from qbo_sync import wiring  # noqa: PLC0415 - the audit log the product wrote

        records = wiring.audit_log().recent(self.tenant.tenant_id, limit=100)
        return sum(1 for r in records if r.invoice_id == invoice_id and r.outcome.value == outcome)

    def _show_invoice(self, title: str, invoice_id: str, qbo_invoice: dict[str, Any]) -> None:
        record = self.onedesk.record(invoice_id)
        customer = self.qbo.entity("Customer", qbo_invoice["CustomerRef"]["value"])
        rows: list[list[object]] = [
            [
                "number",
                record["number"],
                f"DocNumber {qbo_invoice.get('DocNumber')} (Id {qbo_invoice['Id']})",
            ],
            [
                "customer",
                record["organization"]["name"],
                f"{customer['DisplayName']} (Id {customer['Id']}, "
                f"{customer.get('PrimaryEmailAddr', {}).get('Address')})",
            ],
        ]
        # Text lines (the discounts' labels) carry no amount: shown on their own row below.
        qbo_lines = [
            line
            for line in qbo_invoice["Line"]
            if line["DetailType"] not in ("SubTotalLineDetail", "DescriptionOnly")
        ]
        onedesk_lines = [line for line in record["lines"] if line["kind"] != "tax"]
        for mine, theirs in zip(onedesk_lines, qbo_lines, strict=False):
            detail = theirs.get("SalesItemLineDetail", {})
            item = detail.get("ItemRef", {}).get("name", "discount")
            qty = (
                f"{detail.get('Qty')} x {detail.get('UnitPrice')} = " if detail.get("Qty") is not None else ""
            )
            rows.append(
                [
                    "line",
                    f"{mine['description']}: {money(mine['amount'])}",
                    f"{item}: {theirs.get('Description') or ''}: {qty}{money(theirs['Amount'])}",
                ]
            )
        texts = [
            line["Description"] for line in qbo_invoice["Line"] if line["DetailType"] == "DescriptionOnly"
        ]
        if texts:
            rows.append(["text lines", "", "; ".join(texts)])
        tax = next((line for line in record["lines"] if line["kind"] == "tax"), None)
        if tax:
            code = qbo_invoice["TxnTaxDetail"].get("TxnTaxCodeRef", {}).get("name", "")
            rows.append(
                ["tax", money(tax["amount"]), f"{money(qbo_invoice['TxnTaxDetail']['TotalTax'])} ({code})"]
            )
        rows.append(["total", money(record["total"]), money(qbo_invoice["TotalAmt"])])
        rows.append(["OneDesk tag", ", ".join(t["name"] for t in record["tags"]), ""])
        rows.append(["OneDesk message", (record["syncMessage"] or {}).get("text", ""), ""])
        table(title, ["", "OneDesk", "QuickBooks Online"], rows)


def main() -> int:
    print(
        "Starting the local stack (moto from template.yaml, the Lambda runner, QBO and OneDesk emulators)..."
    )
    started = time.monotonic()
    with product_stack(schedule_speed=None, log_dir=LOG_DIR) as stack:
        use_product_environment(stack)
        print(
            f"Stack up in {time.monotonic() - started:.1f} s: API {stack.http_url}, "
            f"QBO {stack.components['qbo'].base_url}"
        )
        demo = Demo(stack)
        demo.health()
        demo.connect()
        copied = demo.copy()
        sent, _copied_only = demo.send()
        demo.payments(sent, copied)
        demo.bad_input()
        print(f"\nDone in {time.monotonic() - started:.1f} s. Function logs: {LOG_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
