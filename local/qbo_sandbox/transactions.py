"""Transaction rules (§2, §3, §8): Invoice, CreditMemo and Payment, and how payments move balances."""

import copy
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from local.qbo_sandbox.automated_tax import automated_tax_code
from local.qbo_sandbox.clock import company_date, meta_timestamp, parse_timestamp
from local.qbo_sandbox.faults import (
    business_error,
    invalid_enumeration,
    invalid_reference,
    malformed_request,
    required_param,
)
from local.qbo_sandbox.invoice_math import (
    DISCOUNT_LINE,
    SALES_LINE,
    TaxCode,
    TaxRate,
    Totals,
    global_totals,
    us_totals,
)
from local.qbo_sandbox.money import HUNDRED, ZERO, round_cents
from local.qbo_sandbox.rules import (
    active_record,
    amount,
    check_date,
    check_length,
    drop_blank,
    line_quantity,
    merge_update,
    quantity,
    ref_id,
    text,
    valid_email,
)
from local.qbo_sandbox.seed import DISCOUNT_ACCOUNT, UNDEPOSITED_FUNDS_ACCOUNT
from local.qbo_sandbox.store import Company, CreateFn, OpContext, Record, RecordFn, UpdateFn

SALES_READ_ONLY = frozenset(
    {"TotalAmt", "Balance", "HomeBalance", "HomeTotalAmt", "DeliveryInfo", "InvoiceLink", "RemainingCredit"}
)
PAYMENT_READ_ONLY = frozenset({"UnappliedAmt", "HomeTotalAmt"})
# Server-maintained fields that survive every kind of update.
SALES_PRESERVED = ("DeliveryInfo",)
# Kept from the stored version when an update leaves them out (a full update would otherwise
# re-number the invoice or move it to today).
SALES_STICKY = ("DocNumber", "TxnDate", "DueDate")
# DocNumber is not blankable: QBO stores an explicit "" as an empty number (qbo-facts §13.6), it does
# not auto-number it; only an omitted DocNumber is auto-numbered.
BLANKABLE = ("TxnDate", "DueDate", "ShipDate", "TrackingNum", "PrivateNote", "InvoiceLink")
GLOBAL_TAX_CALCULATIONS = ("TaxExcluded", "TaxInclusive", "NotApplicable")
EMAIL_STATUSES = ("NotSet", "NeedToSend", "EmailSent")
# The non-US "every line needs a tax code" fault, in each country's words.
TAX_MISSING = {
    "CA": "Make sure all your transactions have a GST/HST rate before you save.",
    "GB": "Make sure all your transactions have a VAT rate before you save.",
}
DAILY_EMAIL_LIMIT = 40
DEFAULT_TERMS_DAYS = 30  # the sandbox's default sales term is Net 30
LINKABLE = ("Invoice", "CreditMemo")


# ---------------------------------------------------------------------------------------------
# Lines and totals


def _sales_item_line(company: Company, raw: dict[str, Any], global_calculation: str | None) -> dict[str, Any]:
    line_amount = amount(raw, "Amount", "Line.Amount")
    if line_amount is None:
        raise required_param("Line.Amount")
    detail = dict(raw.get(SALES_LINE) or {})
    drop_blank(detail, ("ServiceDate",))
    qty = line_quantity(detail, "Qty", "Line.Qty")
    unit_price = line_quantity(detail, "UnitPrice", "Line.UnitPrice")
    # python-quickbooks sends Qty=0 and UnitPrice=0 for lines that set neither: not "both given".
    if (
        qty is not None
        and unit_price is not None
        and not (qty.is_zero() and unit_price.is_zero())
        and round_cents(qty * unit_price) != line_amount
    ):
        raise business_error("Amount is not equal to UnitPrice * Qty", "Line.Amount")
    for field, value in (("Qty", qty), ("UnitPrice", unit_price)):
        if value is None:
            detail.pop(field, None)
        else:
            detail[field] = value

    item_id = ref_id(detail.get("ItemRef"))
    if item_id:
        item = active_record(company, "Item", item_id, "ItemRef")
        detail["ItemRef"] = {"value": item.id, "name": item.data["Name"]}
    else:
        detail.pop("ItemRef", None)

    code = ref_id(detail.get("TaxCodeRef"))
    if company.is_us:
        code = code or "NON"
        if code not in ("TAX", "NON"):
            raise invalid_reference("TaxCodeRef", code)
    elif global_calculation != "NotApplicable" and (
        not code or code in ("TAX", "NON") or not company.get("TaxCode", code)
    ):
        raise business_error(TAX_MISSING[company.country], "TaxCodeRef")
    if code:
        detail["TaxCodeRef"] = {"value": code}
    else:
        detail.pop("TaxCodeRef", None)

    line: dict[str, Any] = {"Amount": line_amount, "DetailType": SALES_LINE, SALES_LINE: detail}
    if text(raw, "Description"):
        check_length(raw, "Description", 4000)
        line = {"Description": raw["Description"], **line}
    return line


def _discount_line(company: Company, raw: dict[str, Any]) -> dict[str, Any]:
    detail = dict(raw.get(DISCOUNT_LINE) or {})
    line: dict[str, Any] = {"DetailType": DISCOUNT_LINE}
    if detail.get("PercentBased") is True:
        percent = quantity(detail, "DiscountPercent", "Line.DiscountPercent")
        if percent is None:
            raise required_param("Line.DiscountPercent")
        if not ZERO <= percent <= HUNDRED:
            raise business_error("A discount percentage must be between 0 and 100", "Line.DiscountPercent")
        detail["DiscountPercent"] = percent
        line["Amount"] = ZERO  # filled in by apply_discounts once the subtotal is known
    else:
        flat = amount(raw, "Amount", "Line.Amount")
        if flat is None:
            raise required_param("Line.Amount")
        if flat < ZERO:
            raise business_error("A discount amount cannot be negative", "Line.Amount")
        detail["PercentBased"] = False
        detail.pop("DiscountPercent", None)
        line["Amount"] = flat
    account_id = ref_id(detail.get("DiscountAccountRef")) or DISCOUNT_ACCOUNT
    account = active_record(company, "Account", account_id, "DiscountAccountRef")
    detail["DiscountAccountRef"] = {"value": account.id, "name": account.data["Name"]}
    line[DISCOUNT_LINE] = detail
    return line


def _description_line(raw: dict[str, Any]) -> dict[str, Any]:
    # A line without an item is documentation: any Amount sent is ignored (§2).
    check_length(raw, "Description", 4000)
    detail = dict(raw.get("DescriptionLineDetail") or {})
    drop_blank(detail, ("ServiceDate",))
    return {
        "Description": text(raw, "Description"),
        "DetailType": "DescriptionOnly",
        "DescriptionLineDetail": detail,
    }


def _normalize_lines(
    company: Company, raw_lines: list[Any], previous: list[dict[str, Any]], global_calculation: str | None
) -> list[dict[str, Any]]:
    """Validated lines with Id/LineNum: a known line Id updates that line, anything else is new."""
    known = {str(line["Id"]) for line in previous if "Id" in line}
    next_id = max((int(line_id) for line_id in known if line_id.isdigit()), default=0) + 1
    used: set[str] = set()
    lines: list[dict[str, Any]] = []
    for raw in raw_lines:
        if not isinstance(raw, dict):
            raise malformed_request("Every Line entry must be an object")
        detail_type = raw.get("DetailType")
        if detail_type == "SubTotalLineDetail":
            continue  # server-computed; SDKs echo it back on updates
        if not detail_type:
            raise required_param("Line.DetailType")
        if detail_type == SALES_LINE:
            line = _sales_item_line(company, raw, global_calculation)
        elif detail_type == DISCOUNT_LINE:
            line = _discount_line(company, raw)
        elif detail_type == "DescriptionOnly":
            line = _description_line(raw)
        elif detail_type == "GroupLineDetail":
            raise business_error("Group (bundle) lines are not supported by this sandbox", "Line.DetailType")
        else:
            raise invalid_enumeration("Line.DetailType", detail_type)
        line_id = str(raw.get("Id") or "")
        if line_id not in known or line_id in used:
            line_id = str(next_id)
            next_id += 1
        used.add(line_id)
        lines.append({"Id": line_id, "LineNum": len(lines) + 1, **line})
    return lines


def _tax_code(company: Company, code_id: str, element: str) -> TaxCode:
    record = company.get("TaxCode", code_id)
    if record is None or code_id in ("TAX", "NON"):
        raise invalid_reference(element, code_id)
    rates = []
    for detail in record.data.get("SalesTaxRateList", {}).get("TaxRateDetail", []):
        rate = company.require("TaxRate", ref_id(detail.get("TaxRateRef")), element)
        rates.append(TaxRate(rate.id, str(rate.data["Name"]), Decimal(rate.data["RateValue"])))
    return TaxCode(record.id, str(record.data["Name"]), tuple(rates))


def _compute_totals(
    ctx: OpContext, doc: dict[str, Any], lines: list[dict[str, Any]], customer: dict[str, Any]
) -> Totals:
    """Totals plus doc's TxnTaxDetail / GlobalTaxCalculation / ApplyTaxAfterDiscount settled."""
    company = ctx.company
    requested = doc.get("TxnTaxDetail")
    if not isinstance(requested, dict):
        requested = {}
    if company.is_us:
        doc.pop("GlobalTaxCalculation", None)  # "not applicable to US companies"
        after_discount = doc.setdefault("ApplyTaxAfterDiscount", False) is True
        code_id = ref_id(requested.get("TxnTaxCodeRef"))
        if company.automated_sales_tax:  # AST assigns the code, whatever the request sent
            code = automated_tax_code(company, doc, customer, ctx.now)
        else:
            code = _tax_code(company, code_id, "TxnTaxCodeRef") if code_id else None
        totals = us_totals(lines, code, after_discount)
        detail: dict[str, Any] = {"TxnTaxCodeRef": {"value": code.code_id, "name": code.name}} if code else {}
    else:
        doc.pop("ApplyTaxAfterDiscount", None)
        calculation = doc["GlobalTaxCalculation"]
        codes = {
            line[SALES_LINE]["TaxCodeRef"]["value"]: None
            for line in lines
            if line["DetailType"] == SALES_LINE and "TaxCodeRef" in line[SALES_LINE]
        }
        resolved = {code_id: _tax_code(company, code_id, "TaxCodeRef") for code_id in codes}
        totals = global_totals(lines, resolved, calculation)
        detail = {}
    if totals.discount > totals.subtotal:
        raise business_error("The discount is larger than the subtotal of the transaction", "Line.Amount")
    detail["TotalTax"] = totals.tax
    if totals.tax_lines:
        detail["TaxLine"] = totals.tax_lines
    doc["TxnTaxDetail"] = detail
    return totals


# ---------------------------------------------------------------------------------------------
# Payment links and balances


def _payment_links(data: dict[str, Any]) -> Iterator[tuple[str, str, Decimal]]:
    for line in data.get("Line", []):
        for link in line.get("LinkedTxn", []):
            yield str(link["TxnType"]), str(link["TxnId"]), line["Amount"]


def _applications(company: Company, exclude: str = "") -> dict[tuple[str, str], Decimal]:
    """Amount applied to each (TxnType, TxnId) by live (not voided) payments."""
    applied: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for payment in company.all("Payment"):
        if payment.id != exclude and not payment.voided:
            for txn_type, txn_id, line_amount in _payment_links(payment.data):
                applied[txn_type, txn_id] += line_amount
    return applied


def _paying_payments(company: Company, txn_type: str, txn_id: str) -> list[str]:
    """Ids of payments with a non-zero amount applied to this transaction."""
    return [
        payment.id
        for payment in company.all("Payment")
        if not payment.voided
        and any(t == txn_type and i == txn_id and a != ZERO for t, i, a in _payment_links(payment.data))
    ]


def _set_balance(doc: dict[str, Any], entity: str, applied: Decimal, voided: bool) -> None:
    balance = ZERO if voided else doc["TotalAmt"] - applied
    doc["Balance"] = balance
    if entity == "CreditMemo":
        doc["RemainingCredit"] = balance


def _set_payment_links(company: Company, doc: dict[str, Any], entity: str, txn_id: str) -> None:
    """LinkedTxn = the client's own links (estimates, ...) plus one entry per paying payment."""
    others = [
        link
        for link in doc.get("LinkedTxn", [])
        if isinstance(link, dict) and link.get("TxnType") != "Payment"
    ]
    payments = [
        {"TxnId": payment_id, "TxnType": "Payment"}
        for payment_id in _paying_payments(company, entity, txn_id)
    ]
    doc["LinkedTxn"] = others + payments


def _refresh_linked(ctx: OpContext, targets: Iterable[tuple[str, str]]) -> None:
    """Recompute Balance/LinkedTxn of invoices and credit memos a payment touched."""
    company = ctx.company
    applied = _applications(company)
    for txn_type, txn_id in sorted(set(targets)):
        record = company.get(txn_type, txn_id)
        if record is None:
            continue
        doc = copy.deepcopy(record.data)
        _set_balance(doc, txn_type, applied[txn_type, txn_id], record.voided)
        _set_payment_links(company, doc, txn_type, txn_id)
        if doc["Balance"] != record.data["Balance"] or doc["LinkedTxn"] != record.data.get("LinkedTxn"):
            company.replace(record, doc, ctx.now)


# ---------------------------------------------------------------------------------------------
# Invoice and CreditMemo


def _build_sales_form(
    ctx: OpContext, entity: str, doc: dict[str, Any], existing: Record | None
) -> dict[str, Any]:
    company = ctx.company
    previous = existing.data if existing else {}
    drop_blank(doc, BLANKABLE)
    for field in SALES_PRESERVED:
        if field in previous:
            doc[field] = previous[field]
    for field in SALES_STICKY:
        if field not in doc and field in previous:
            doc[field] = previous[field]

    customer_id = ref_id(doc.get("CustomerRef"))
    if not customer_id:
        raise required_param("CustomerRef")
    customer = active_record(company, "Customer", customer_id, "CustomerRef")
    doc["CustomerRef"] = {"value": customer.id, "name": customer.data["DisplayName"]}
    raw_lines = doc.get("Line")
    if not isinstance(raw_lines, list) or not raw_lines:
        raise required_param("Line")

    check_length(doc, "DocNumber", 21)
    check_length(doc, "PrivateNote", 4000)
    for field in ("TxnDate", "DueDate", "ShipDate"):
        check_date(doc, field)

    if company.is_us:
        global_calculation = None
    else:
        global_calculation = doc.setdefault("GlobalTaxCalculation", "TaxExcluded")
        if global_calculation not in GLOBAL_TAX_CALCULATIONS:
            raise invalid_enumeration("GlobalTaxCalculation", global_calculation)
    lines = _normalize_lines(company, raw_lines, previous.get("Line", []), global_calculation)
    totals = _compute_totals(ctx, doc, lines, customer.data)
    doc["Line"] = [
        *lines,
        {"Amount": totals.subtotal, "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}},
    ]
    doc["TotalAmt"] = totals.total

    email = doc.get("BillEmail")
    if isinstance(email, dict) and not text(email, "Address"):
        del doc["BillEmail"]
    elif isinstance(email, dict) and not valid_email(text(email, "Address")):
        raise business_error(f"Invalid email address: {email['Address']}", "BillEmail")
    email_status = doc.setdefault("EmailStatus", "NotSet")
    if email_status not in EMAIL_STATUSES:
        raise invalid_enumeration("EmailStatus", email_status)
    if email_status == "NeedToSend" and "BillEmail" not in doc:
        raise business_error("BillEmail is required when EmailStatus is NeedToSend", "BillEmail")
    doc.setdefault("PrintStatus", "NotSet")
    for address in ("BillAddr", "ShipAddr"):
        if address not in doc and address in customer.data:
            doc[address] = customer.data[address]
    doc.setdefault("CurrencyRef", company.currency_ref)
    doc.setdefault("Deposit", ZERO)

    applied = _applications(company)[entity, existing.id] if existing else ZERO
    if applied > doc["TotalAmt"]:
        raise business_error(
            f"The new total {doc['TotalAmt']} is less than the {applied} already applied by payments", "Line"
        )
    _set_balance(doc, entity, applied, voided=False)
    _set_payment_links(company, doc, entity, existing.id if existing else "")

    doc.setdefault("TxnDate", company_date(ctx.now).isoformat())
    if entity == "Invoice":
        due = date.fromisoformat(doc["TxnDate"]) + timedelta(days=DEFAULT_TERMS_DAYS)
        doc.setdefault("DueDate", due.isoformat())
    # Last, once nothing can fail any more: a rejected request must not consume a number.
    if "DocNumber" not in doc and existing is None and not company.custom_txn_numbers:
        doc["DocNumber"] = company.allocate_doc_number()
    return doc


def _reject_voided(record: Record) -> None:
    if record.voided:
        raise business_error("This transaction has been voided and can no longer be changed")


def create_sales_form(entity: str) -> CreateFn:
    def create(ctx: OpContext, body: dict[str, Any]) -> Record:
        doc = _build_sales_form(ctx, entity, merge_update({}, body, False, SALES_READ_ONLY), None)
        return ctx.company.insert(entity, doc, ctx.now)

    return create


def update_sales_form(entity: str) -> UpdateFn:
    def update(ctx: OpContext, record: Record, body: dict[str, Any], sparse: bool) -> None:
        _reject_voided(record)
        doc = merge_update(record.data, body, sparse, SALES_READ_ONLY)
        ctx.company.replace(record, _build_sales_form(ctx, entity, doc, record), ctx.now)

    return update


def delete_sales_form(entity: str) -> RecordFn:
    def delete(ctx: OpContext, record: Record) -> None:
        payments = _paying_payments(ctx.company, entity, record.id)
        if payments:
            raise business_error(
                f"This transaction is linked to Payment {', '.join(payments)}: "
                "delete or change those payments before deleting it",
                "LinkedTxn",
            )
        ctx.company.delete(entity, record, ctx.now)

    return delete


def void_invoice(ctx: OpContext, record: Record) -> None:
    """Amounts and quantities zeroed, "Voided" prepended to PrivateNote; the invoice stays (§3)."""
    payments = _paying_payments(ctx.company, "Invoice", record.id)
    if payments:
        raise business_error(
            f"This invoice has Payment {', '.join(payments)} applied: unapply it before voiding the invoice",
            "LinkedTxn",
        )
    doc = copy.deepcopy(record.data)
    for line in doc["Line"]:
        if "Amount" in line:
            line["Amount"] = ZERO
        detail = line.get(SALES_LINE)
        if detail and "Qty" in detail:
            detail["Qty"] = Decimal(0)
    tax_detail = doc.get("TxnTaxDetail", {})
    tax_detail["TotalTax"] = ZERO
    for tax_line in tax_detail.get("TaxLine", []):
        tax_line["Amount"] = ZERO
    doc["TotalAmt"] = doc["Balance"] = ZERO
    note = text(doc, "PrivateNote")
    if not note.startswith("Voided"):
        doc["PrivateNote"] = f"Voided - {note}" if note else "Voided"
    record.voided = True
    ctx.company.replace(record, doc, ctx.now)


def _sent_on(sent: dict[str, Any]) -> date | None:
    moment = parse_timestamp(str(sent["time"]))
    return company_date(moment) if moment else None


def send_invoice(ctx: OpContext, record: Record, send_to: str) -> None:
    """§8: email through QBO; sendTo overwrites BillEmail; sandbox limit 40 emails/day/company."""
    company = ctx.company
    address = send_to or text(record.data.get("BillEmail") or {}, "Address")
    element = "sendTo" if send_to else "BillEmail"
    if not address:
        raise business_error(
            "The invoice has no BillEmail address and no sendTo address was given: "
            "there is no email to send it to",
            "BillEmail",
        )
    if not valid_email(address):
        raise business_error(f"Invalid email address: {address}", element)
    today = company_date(ctx.now)
    sent_today = sum(1 for sent in company.sends if _sent_on(sent) == today)
    if sent_today >= DAILY_EMAIL_LIMIT:
        raise business_error(
            f"The daily email limit of {DAILY_EMAIL_LIMIT} emails for this sandbox company has been reached; "
            "try again tomorrow"
        )
    doc = copy.deepcopy(record.data)
    if send_to:
        doc["BillEmail"] = {"Address": send_to}
    doc["EmailStatus"] = "EmailSent"
    doc["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": meta_timestamp(ctx.now)}
    company.replace(record, doc, ctx.now)
    company.sends.append(
        {
            "realmId": company.realm_id,
            "invoiceId": record.id,
            "to": address,
            "time": meta_timestamp(ctx.now),
        }
    )


# ---------------------------------------------------------------------------------------------
# Payment


def _build_payment(ctx: OpContext, doc: dict[str, Any], existing: Record | None) -> dict[str, Any]:
    company = ctx.company
    drop_blank(doc, ("TxnDate", "PrivateNote", "PaymentRefNum"))
    total = amount(doc, "TotalAmt")
    if total is None:
        raise business_error("You must set a transaction amount.", "TotalAmt")
    if total < ZERO:
        raise business_error("The payment amount cannot be negative", "TotalAmt")
    customer_id = ref_id(doc.get("CustomerRef"))
    if not customer_id:
        raise required_param("CustomerRef")
    customer = active_record(company, "Customer", customer_id, "CustomerRef")
    raw_lines = doc.get("Line", [])
    if not isinstance(raw_lines, list):
        raise malformed_request("Line must be a list")
    check_length(doc, "PrivateNote", 4000)
    check_date(doc, "TxnDate")

    applied_elsewhere = _applications(company, exclude=existing.id if existing else "")
    applying: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    lines = []
    for raw in raw_lines:
        if not isinstance(raw, dict):
            raise malformed_request("Every Line entry must be an object")
        line_amount = amount(raw, "Amount", "Line.Amount")
        if line_amount is None:
            raise required_param("Line.Amount")
        if line_amount < ZERO:
            raise business_error("A payment line amount cannot be negative", "Line.Amount")
        links = raw.get("LinkedTxn")
        if not isinstance(links, list) or len(links) != 1 or not isinstance(links[0], dict):
            raise business_error(
                "Each payment line must link exactly one Invoice or CreditMemo", "Line.LinkedTxn"
            )
        txn_type = links[0].get("TxnType")
        if txn_type not in LINKABLE:
            raise invalid_enumeration("Line.LinkedTxn.TxnType", txn_type)
        target = company.require(txn_type, ref_id(links[0].get("TxnId")), "Line.LinkedTxn")
        if ref_id(target.data.get("CustomerRef")) != customer.id:
            raise business_error(f"{txn_type} {target.id} belongs to another customer", "Line.LinkedTxn")
        applying[txn_type, target.id] += line_amount
        lines.append({"Amount": line_amount, "LinkedTxn": [{"TxnId": target.id, "TxnType": txn_type}]})

    for (txn_type, txn_id), wanted in applying.items():
        target = company.require(txn_type, txn_id)
        open_amount = ZERO if target.voided else target.data["TotalAmt"] - applied_elsewhere[txn_type, txn_id]
        if wanted > open_amount:
            raise business_error(
                f"The amount applied to {txn_type} {txn_id} ({wanted}) is more than "
                f"its open balance ({open_amount})",
                "Line.Amount",
            )
    used_credit = sum((value for (kind, _), value in applying.items() if kind == "CreditMemo"), ZERO)
    paid_invoices = sum((value for (kind, _), value in applying.items() if kind == "Invoice"), ZERO)
    unapplied = total - (paid_invoices - used_credit)
    if unapplied < ZERO:
        raise business_error(
            "The payment amount must be at least the amount applied to invoices less the credits used",
            "TotalAmt",
        )

    account_id = ref_id(doc.get("DepositToAccountRef")) or UNDEPOSITED_FUNDS_ACCOUNT
    account = active_record(company, "Account", account_id, "DepositToAccountRef")
    doc.update(
        TotalAmt=total,
        UnappliedAmt=unapplied,
        Line=lines,
        CustomerRef={"value": customer.id, "name": customer.data["DisplayName"]},
        DepositToAccountRef={"value": account.id, "name": account.data["Name"]},
    )
    doc.setdefault("TxnDate", company_date(ctx.now).isoformat())
    doc.setdefault("CurrencyRef", company.currency_ref)
    doc.setdefault("ProcessPayment", False)
    return doc


def _payment_targets(record: Record | None) -> set[tuple[str, str]]:
    return {(txn_type, txn_id) for txn_type, txn_id, _ in _payment_links(record.data)} if record else set()


def create_payment(ctx: OpContext, body: dict[str, Any]) -> Record:
    doc = _build_payment(ctx, merge_update({}, body, False, PAYMENT_READ_ONLY), None)
    record = ctx.company.insert("Payment", doc, ctx.now)
    _refresh_linked(ctx, _payment_targets(record))
    return record


def update_payment(ctx: OpContext, record: Record, body: dict[str, Any], sparse: bool) -> None:
    """Lines are all-or-nothing (§2): the sent set replaces the old one and balances follow."""
    _reject_voided(record)
    before = _payment_targets(record)
    doc = _build_payment(ctx, merge_update(record.data, body, sparse, PAYMENT_READ_ONLY), record)
    ctx.company.replace(record, doc, ctx.now)
    _refresh_linked(ctx, before | _payment_targets(record))


def delete_payment(ctx: OpContext, record: Record) -> None:
    targets = _payment_targets(record)
    ctx.company.delete("Payment", record, ctx.now)
    _refresh_linked(ctx, targets)


def void_payment(ctx: OpContext, record: Record) -> None:
    """Amounts 0 and PrivateNote "Voided"; the invoices it paid are open again."""
    doc = copy.deepcopy(record.data)
    for line in doc.get("Line", []):
        line["Amount"] = ZERO
    doc["TotalAmt"] = doc["UnappliedAmt"] = ZERO
    doc["PrivateNote"] = "Voided"
    record.voided = True
    ctx.company.replace(record, doc, ctx.now)
    _refresh_linked(ctx, _payment_targets(record))
