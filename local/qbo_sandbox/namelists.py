"""Name-list rules (§2): Customer, Vendor, Item, Account, Preferences. Never hard-deleted."""

from collections import defaultdict
from decimal import Decimal
from typing import Any

from local.qbo_sandbox.faults import (
    business_error,
    duplicate_name,
    invalid_enumeration,
    malformed_request,
    required_param,
)
from local.qbo_sandbox.money import ZERO
from local.qbo_sandbox.rules import (
    active_record,
    check_length,
    check_name_characters,
    drop_blank,
    merge_update,
    quantity,
    ref_id,
    text,
    valid_email,
    writable,
)
from local.qbo_sandbox.store import Company, OpContext, Record

PERSON_READ_ONLY = frozenset({"FullyQualifiedName", "Balance", "BalanceWithJobs", "Level", "V4IDPseudonym"})
NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")
PERSON_LIMITS = {
    "DisplayName": 500,
    "Title": 16,
    "GivenName": 100,
    "MiddleName": 100,
    "FamilyName": 100,
    "Suffix": 16,
    "CompanyName": 100,
    "PrintOnCheckName": 110,
    "Notes": 2000,
}
PERSON_TEXT_FIELDS = (
    *PERSON_LIMITS,
    "ResaleNum",
    "PrimaryTaxIdentifier",
    "PreferredDeliveryMethod",
    "OpenBalanceDate",
)

ITEM_READ_ONLY = frozenset({"FullyQualifiedName", "Level"})
ITEM_TYPES = ("Service", "NonInventory", "Inventory", "Group", "Category")

ACCOUNT_READ_ONLY = frozenset(
    {"FullyQualifiedName", "Classification", "CurrentBalance", "CurrentBalanceWithSubAccounts"}
)
ACCOUNT_CLASSIFICATION = {
    "Bank": "Asset",
    "Other Current Asset": "Asset",
    "Fixed Asset": "Asset",
    "Other Asset": "Asset",
    "Accounts Receivable": "Asset",
    "Equity": "Equity",
    "Expense": "Expense",
    "Other Expense": "Expense",
    "Cost of Goods Sold": "Expense",
    "Accounts Payable": "Liability",
    "Credit Card": "Liability",
    "Long Term Liability": "Liability",
    "Other Current Liability": "Liability",
    "Income": "Revenue",
    "Other Income": "Revenue",
}


def _check_email(data: dict[str, Any], field: str) -> None:
    email = data.get(field)
    if not isinstance(email, dict):
        return
    address = text(email, "Address")
    if not address:
        del data[field]
    elif not valid_email(address):
        raise business_error(f"Invalid email address: {address}", field)


def _build_person(
    ctx: OpContext, entity: str, doc: dict[str, Any], existing: Record | None
) -> dict[str, Any]:
    company = ctx.company
    drop_blank(doc, PERSON_TEXT_FIELDS)
    # Before DisplayName is built from the parts, so the fault names the field the client sent.
    check_name_characters(doc, ("DisplayName", *NAME_PARTS, "PrintOnCheckName"))
    display = text(doc, "DisplayName")
    if not display:
        # Built from the name parts when omitted (§2); an update keeps the current name.
        display = " ".join(text(doc, part) for part in NAME_PARTS if text(doc, part))
    if not display and existing is not None:
        display = str(existing.data["DisplayName"])
    if not display:
        raise required_param("DisplayName")
    doc["DisplayName"] = display
    for field, maximum in PERSON_LIMITS.items():
        check_length(doc, field, maximum)
    if company.find_person(display, exclude=existing) is not None:
        raise duplicate_name("customer, vendor or employee")
    _check_email(doc, "PrimaryEmailAddr")

    doc.setdefault("PrintOnCheckName", display)
    doc.setdefault("Active", True)
    doc.setdefault("CurrencyRef", company.currency_ref)
    doc["FullyQualifiedName"] = display
    parent_id = ref_id(doc.get("ParentRef"))
    if entity == "Customer" and parent_id:
        parent = active_record(company, "Customer", parent_id, "ParentRef")
        doc["ParentRef"] = {"value": parent.id}
        doc["FullyQualifiedName"] = f"{parent.data['FullyQualifiedName']}:{display}"
        doc["Level"] = int(parent.data.get("Level", 0)) + 1
        doc["Job"] = True
    else:
        doc.pop("ParentRef", None)
    return doc


def create_customer(ctx: OpContext, body: dict[str, Any]) -> Record:
    doc = _build_person(ctx, "Customer", merge_update({}, body, False, PERSON_READ_ONLY), None)
    doc.setdefault("Taxable", ctx.company.is_us)
    doc.setdefault("Job", False)
    doc.setdefault("BillWithParent", False)
    return ctx.company.insert("Customer", doc, ctx.now)


def update_customer(ctx: OpContext, record: Record, body: dict[str, Any], sparse: bool) -> None:
    doc = _build_person(ctx, "Customer", merge_update(record.data, body, sparse, PERSON_READ_ONLY), record)
    ctx.company.replace(record, doc, ctx.now)


def create_vendor(ctx: OpContext, body: dict[str, Any]) -> Record:
    doc = _build_person(ctx, "Vendor", merge_update({}, body, False, PERSON_READ_ONLY), None)
    doc.setdefault("Vendor1099", False)
    return ctx.company.insert("Vendor", doc, ctx.now)


def customer_balances(company: Company) -> dict[str, Decimal]:
    """Open balance per customer: invoices owed minus unused credit and unapplied payments."""
    balances: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for entity, sign in (("Invoice", 1), ("CreditMemo", -1)):
        for record in company.all(entity):
            balances[ref_id(record.data.get("CustomerRef"))] += sign * record.data["Balance"]
    for record in company.all("Payment"):
        balances[ref_id(record.data.get("CustomerRef"))] -= record.data["UnappliedAmt"]
    return balances


def render_customers(company: Company, records: list[Record]) -> list[dict[str, Any]]:
    balances = customer_balances(company)
    rendered = []
    for record in records:
        balance = balances.get(record.id, ZERO)
        rendered.append({**record.data, "Balance": balance, "BalanceWithJobs": balance})
    return rendered


def _build_item(ctx: OpContext, doc: dict[str, Any], existing: Record | None) -> dict[str, Any]:
    company = ctx.company
    drop_blank(doc, ("Name", "Type", "Description", "Sku", "PurchaseDesc", "InvStartDate"))
    name = text(doc, "Name")
    if not name:
        raise required_param("Name")
    check_name_characters(doc, ("Name",))
    check_length(doc, "Name", 100)
    check_length(doc, "Description", 4000)
    item_type = doc.get("Type")
    if not item_type:
        raise required_param("Type")
    if item_type not in ITEM_TYPES:
        raise invalid_enumeration("Type", item_type)
    if item_type == "Group" and existing is None:
        raise business_error("Group items (bundles) cannot be created through the API", "Type")
    for field in ("IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"):
        account_id = ref_id(doc.get(field))
        if account_id:
            account = active_record(company, "Account", account_id, field)
            doc[field] = {"value": account.id, "name": account.data["Name"]}
        else:
            doc.pop(field, None)
    if item_type in ("Service", "Inventory") and "IncomeAccountRef" not in doc:
        raise required_param("IncomeAccountRef")
    if company.find_by_name("Item", name, exclude=existing) is not None:
        raise duplicate_name("product or service")
    for field in ("UnitPrice", "PurchaseCost", "QtyOnHand"):
        value = quantity(doc, field)
        if value is not None:
            doc[field] = value
    doc["FullyQualifiedName"] = name
    doc.setdefault("Active", True)
    doc.setdefault("Taxable", False)
    doc.setdefault("TrackQtyOnHand", False)
    return doc


def create_item(ctx: OpContext, body: dict[str, Any]) -> Record:
    doc = _build_item(ctx, merge_update({}, body, False, ITEM_READ_ONLY), None)
    return ctx.company.insert("Item", doc, ctx.now)


def update_item(ctx: OpContext, record: Record, body: dict[str, Any], sparse: bool) -> None:
    doc = _build_item(ctx, merge_update(record.data, body, sparse, ITEM_READ_ONLY), record)
    ctx.company.replace(record, doc, ctx.now)


def _build_account(ctx: OpContext, doc: dict[str, Any], existing: Record | None) -> dict[str, Any]:
    name = text(doc, "Name")
    if not name:
        raise required_param("Name")
    if any(char in name for char in ':"'):
        raise business_error("Invalid character in Name: double quote and colon are not allowed", "Name")
    check_length(doc, "Name", 100)
    account_type = doc.get("AccountType")
    if not account_type:
        raise required_param("AccountType")
    if account_type not in ACCOUNT_CLASSIFICATION:
        raise invalid_enumeration("AccountType", account_type)
    if ctx.company.find_by_name("Account", name, exclude=existing) is not None:
        raise duplicate_name("account")
    if account_type == "Income":
        doc.setdefault("AccountSubType", "OtherPrimaryIncome")
    doc["Classification"] = ACCOUNT_CLASSIFICATION[account_type]
    doc["FullyQualifiedName"] = name
    doc.setdefault("Active", True)
    doc.setdefault("SubAccount", False)
    balance = existing.data.get("CurrentBalance", ZERO) if existing else ZERO
    doc["CurrentBalance"] = doc["CurrentBalanceWithSubAccounts"] = balance
    return doc


def create_account(ctx: OpContext, body: dict[str, Any]) -> Record:
    doc = _build_account(ctx, merge_update({}, body, False, ACCOUNT_READ_ONLY), None)
    return ctx.company.insert("Account", doc, ctx.now)


def update_account(ctx: OpContext, record: Record, body: dict[str, Any], sparse: bool) -> None:
    doc = _build_account(ctx, merge_update(record.data, body, sparse, ACCOUNT_READ_ONLY), record)
    ctx.company.replace(record, doc, ctx.now)


def _deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        elif value is not None:
            merged[key] = value
    return merged


def update_preferences(ctx: OpContext, record: Record, body: dict[str, Any], sparse: bool) -> None:
    # Preferences are one settings tree: both update styles merge (`sparse` is irrelevant), so a
    # partial body never wipes unrelated settings.
    doc = _deep_merge(writable(record.data, ()), writable(body, ()))
    custom = doc.get("SalesFormsPrefs", {}).get("CustomTxnNumbers")
    if not isinstance(custom, bool):
        raise malformed_request("SalesFormsPrefs.CustomTxnNumbers must be true or false")
    ctx.company.replace(record, doc, ctx.now)
