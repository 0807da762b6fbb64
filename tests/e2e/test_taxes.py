"""[invoices] tax setups, amounts that are not hours x rate, and discounts, on the whole local stack in a
US company, a Canadian one, a UK one and a US company with Automated Sales Tax. Every copied invoice
totals in QBO what it totals in OneDesk, to the cent (Automated Sales Tax may differ: then OneDesk says
so)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from tests.e2e.conftest import SUPPORT, TRAINING, World, synced, wait_for


# The OneDesk emulator reads JSON numbers as exact decimals (docs/onedesk-contract.md), so short float
# literals such as 2.25 arrive exactly.
def tax(description: str, percent: float) -> dict[str, Any]:
    return {"kind": "tax", "description": description, "taxRatePercent": percent}


def discount(description: str, amount: float) -> dict[str, Any]:
    return {"kind": "discount", "description": description, "amount": amount}


def copy(world: World, lines: list[dict[str, Any]], **fields: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Opens an invoice with ``lines``, copies it, and returns OneDesk's record and QBO's invoice, whose
    totals are equal to the cent."""
    organization = world.onedesk.organization(f"Customer {uuid.uuid4().hex[:8]}")
    invoice = world.open_invoice(organization, lines, **fields)
    world.command(invoice["id"])
    total = str(world.onedesk.record(invoice["id"])["total"])
    qbo_invoice = synced(world, invoice["id"], total)
    record = wait_for(lambda: (r := world.onedesk.record(invoice["id"]))["syncMessage"] and r, what="message")
    assert Decimal(str(qbo_invoice["TotalAmt"])) == Decimal(str(record["total"]))
    return record, qbo_invoice


def refused(world: World, lines: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    organization = world.onedesk.organization(f"Refused {uuid.uuid4().hex[:8]}")
    invoice = world.open_invoice(organization, lines, **fields)
    world.command(invoice["id"])
    record = wait_for(
        lambda: (r := world.onedesk.record(invoice["id"]))["syncMessage"] and r, what="refusal in OneDesk"
    )
    assert record["syncMessage"]["level"] == "error", record["syncMessage"]
    assert record["externalReferences"] == {}
    return record


def of_type(qbo_invoice: dict[str, Any], detail_type: str) -> list[dict[str, Any]]:
    return [line for line in qbo_invoice["Line"] if line["DetailType"] == detail_type]


def line_codes(qbo_invoice: dict[str, Any]) -> set[str]:
    return {
        line["SalesItemLineDetail"]["TaxCodeRef"]["value"]
        for line in of_type(qbo_invoice, "SalesItemLineDetail")
    }


def code_id(world: World, name: str) -> str:
    (code,) = world.qbo.named("TaxCode", "Name", name)
    return str(code["Id"])


def tax_by_rate(qbo_invoice: dict[str, Any]) -> dict[str, Decimal]:
    return {
        line["TaxLineDetail"]["TaxRateRef"]["name"]: Decimal(str(line["Amount"]))
        for line in qbo_invoice["TxnTaxDetail"]["TaxLine"]
    }


def recopied(world: World, invoice_id: str, condition: Any) -> dict[str, Any]:
    """Copies the invoice again and waits until its QBO invoice satisfies ``condition``."""
    world.command(invoice_id)

    def found() -> dict[str, Any] | None:
        reference = world.onedesk.record(invoice_id)["externalReferences"]["qbo"]
        qbo_invoice = world.qbo.entity("Invoice", reference["invoiceId"])
        return qbo_invoice if condition(qbo_invoice) else None

    return wait_for(found, what=f"invoice {invoice_id} copied again")


# ------------------------------------------------------------------------------------------ US


def test_us_state_and_county_taxes_go_to_the_combined_code(us_world: World) -> None:
    # Base 190.10: 6 % = 11.406 -> 11.41 and 2.25 % = 4.27725 -> 4.28 (15.69); one 8.25 % rate would
    # give 15.68, so only the combined code totals like OneDesk.
    parking = {"kind": "custom", "description": "Parking", "amount": 10.10}
    record, qbo_invoice = copy(us_world, [SUPPORT, parking, tax("State tax", 6), tax("County tax", 2.25)])
    assert Decimal(str(record["total"])) == Decimal("205.79")
    assert qbo_invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["name"] == "Lakeside"
    assert tax_by_rate(qbo_invoice) == {
        "Lakeside State": Decimal("11.41"),
        "Lakeside County": Decimal("4.28"),
    }
    assert line_codes(qbo_invoice) == {"TAX"}
    assert "Copied to QuickBooks Online" in record["syncMessage"]["text"]


def test_us_rate_other_than_the_default_codes_goes_to_the_code_with_that_rate(us_world: World) -> None:
    record, qbo_invoice = copy(us_world, [SUPPORT, tax("Sales tax", 7)])
    assert Decimal(str(record["total"])) == Decimal("192.60")
    assert us_world.settings["tax_code_id"] == code_id(us_world, "California")  # the default is 8.25 %
    assert qbo_invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["name"] == "Indiana"


def test_us_rate_no_code_has_is_refused_naming_what_to_create_and_nothing_is_created(us_world: World) -> None:
    customers = len(us_world.qbo.entities("Customer"))
    record = refused(us_world, [SUPPORT, tax("Sales tax", 6)])
    assert "no QuickBooks Online tax code has this rate" in record["syncMessage"]["text"]
    assert (
        "Create a tax code with the rate 6% (Sales tax 6%) in QuickBooks Online"
        in record["syncMessage"]["text"]
    )
    assert us_world.qbo.entities("Invoice") == []
    assert len(us_world.qbo.entities("Customer")) == customers  # the tax is checked before any write


def test_us_admin_chooses_another_code_for_a_tax_on_the_settings_page(us_world: World) -> None:
    world = us_world
    record, qbo_invoice = copy(world, [SUPPORT, tax("Sales tax 8.25%", 8.25)])
    assert qbo_invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["name"] == "California"  # automatic

    world.admin.open(f"{world.api}/qbo/settings")
    assert "Automatic: California (8.25%)" in world.admin.page.text  # type: ignore[union-attr]
    world.admin.choose_tax_code("Sales tax 8.25%", "Lakeside")
    before = world.qbo.last_seq()
    again = recopied(
        world, record["id"], lambda found: found["TxnTaxDetail"]["TxnTaxCodeRef"]["name"] == "Lakeside"
    )
    assert again["Id"] == qbo_invoice["Id"]
    # The codes come from the snapshot the settings page stored: the re-copy is the update alone.
    made = world.qbo.data_requests(before)
    assert [(entry["method"], entry["path"].rsplit("/", 1)[-1]) for entry in made] == [("POST", "invoice")]
    assert Decimal(str(again["TotalAmt"])) == Decimal(str(record["total"])) == Decimal("194.85")


def test_us_amounts_other_than_hours_times_rate_are_copied_exactly(us_world: World) -> None:
    minimum = {**SUPPORT, "description": "Monthly minimum", "hours": 2, "rate": 100, "amount": 250}
    fixed_fee = {**TRAINING, "description": "Website, fixed fee", "amount": 100}
    retainer = {**SUPPORT, "description": "Retainer", "hours": 0, "amount": 50}
    record, qbo_invoice = copy(us_world, [minimum, fixed_fee, retainer, tax("Sales tax", 8.25)])

    assert Decimal(str(record["total"])) == Decimal("433.00")
    lines = [
        (
            line["Description"],
            Decimal(str(line["SalesItemLineDetail"]["Qty"])),
            Decimal(str(line["SalesItemLineDetail"]["UnitPrice"])),
            Decimal(str(line["Amount"])),
        )
        for line in of_type(qbo_invoice, "SalesItemLineDetail")
    ]
    assert lines == [
        ("Monthly minimum", Decimal(2), Decimal(125), Decimal("250.00")),
        ("Website, fixed fee", Decimal("1.333"), Decimal("75.0187547"), Decimal("100.00")),
        ("Retainer (0 h)", Decimal(1), Decimal(50), Decimal("50.00")),
    ]


def test_us_several_discounts_keep_their_labels_and_tax_is_qbos(us_world: World) -> None:
    lines = [
        SUPPORT,
        TRAINING,
        discount("Loyalty", 10),
        discount("Early payment", 5.50),
        tax("Sales tax", 8.25),
    ]
    record, qbo_invoice = copy(us_world, lines)

    # 279.98 - 15.50 = 264.48; 8.25 % = 21.8196 -> 21.82.
    assert Decimal(str(record["total"])) == Decimal("286.30")
    # Each label stays as a text line, whether or not QBO keeps the discount line's own description
    # (the emulator does not); QBO applies their sum as its one discount.
    assert [line["Description"] for line in of_type(qbo_invoice, "DescriptionOnly")] == [
        "Loyalty: -10.00",
        "Early payment: -5.50",
    ]
    (qbo_discount,) = of_type(qbo_invoice, "DiscountLineDetail")
    assert Decimal(str(qbo_discount["Amount"])) == Decimal("15.50")
    assert Decimal(str(qbo_invoice["TxnTaxDetail"]["TotalTax"])) == Decimal("21.82")
    assert qbo_invoice["ApplyTaxAfterDiscount"] is True


# ------------------------------------------------------------------------------------------ Canada


def test_canada_gst_and_pst_go_to_the_gst_pst_bc_code_on_every_line(ca_world: World) -> None:
    lines = [SUPPORT, TRAINING, discount("Loyalty", 10), tax("GST", 5), tax("PST", 7)]
    record, qbo_invoice = copy(ca_world, lines, currency="CAD")

    # 279.98 - 10.00 = 269.98: GST 13.499 -> 13.50, PST 18.8986 -> 18.90.
    assert Decimal(str(record["total"])) == Decimal("302.38")
    assert line_codes(qbo_invoice) == {code_id(ca_world, "GST/PST BC")}
    assert qbo_invoice["GlobalTaxCalculation"] == "TaxExcluded"
    assert tax_by_rate(qbo_invoice) == {"GST": Decimal("13.50"), "PST BC": Decimal("18.90")}


def test_canada_hst_with_gst_as_the_default_goes_to_hst(ca_world: World) -> None:
    assert ca_world.settings["tax_code_id"] == code_id(ca_world, "GST")
    _, qbo_invoice = copy(ca_world, [SUPPORT, tax("HST", 13)], currency="CAD")
    assert line_codes(qbo_invoice) == {code_id(ca_world, "HST ON")}


def test_canada_untaxed_invoice_with_a_minimum_and_discounts(ca_world: World) -> None:
    minimum = {**SUPPORT, "description": "Monthly minimum", "amount": 200}
    lines = [minimum, TRAINING, discount("Loyalty", 10), discount("Referral", 2.49)]
    record, qbo_invoice = copy(ca_world, lines, currency="CAD")

    assert Decimal(str(record["total"])) == Decimal("287.49")
    assert line_codes(qbo_invoice) == {code_id(ca_world, "Exempt")}
    assert len(of_type(qbo_invoice, "DescriptionOnly")) == 2
    (minimum_line, _) = of_type(qbo_invoice, "SalesItemLineDetail")
    detail = minimum_line["SalesItemLineDetail"]
    assert (Decimal(str(detail["Qty"])), Decimal(str(detail["UnitPrice"]))) == (
        Decimal("1.5"),
        Decimal("133.3333333"),
    )


# ------------------------------------------------------------------------------------------ UK


def test_uk_vat_with_a_minimum_and_discounts(uk_world: World) -> None:
    minimum = {**SUPPORT, "description": "Monthly minimum", "amount": 200}
    lines = [minimum, TRAINING, discount("Loyalty", 10), discount("Referral", 2.49), tax("VAT", 20)]
    record, qbo_invoice = copy(uk_world, lines, currency="GBP")

    # 299.98 - 12.49 = 287.49; VAT 57.498 -> 57.50.
    assert Decimal(str(record["total"])) == Decimal("344.99")
    assert line_codes(qbo_invoice) == {code_id(uk_world, "20.0% S")}
    assert Decimal(str(qbo_invoice["TxnTaxDetail"]["TotalTax"])) == Decimal("57.50")
    assert "currency" not in record["syncMessage"]["text"]  # GBP is the company's currency


def test_uk_untaxed_invoices_go_to_zero_rated_unless_the_admin_chooses_no_vat(uk_world: World) -> None:
    world = uk_world
    record, qbo_invoice = copy(world, [SUPPORT], currency="GBP")
    assert line_codes(qbo_invoice) == {code_id(world, "0.0% Z")}

    world.admin.open(f"{world.api}/qbo/settings")
    world.admin.choose_tax_code("No tax (invoices without tax lines)", "No VAT")
    no_vat = code_id(world, "No VAT")
    again = recopied(world, record["id"], lambda found: line_codes(found) == {no_vat})
    assert Decimal(str(again["TotalAmt"])) == Decimal("180.00")


# ------------------------------------------------------------------------------- Automated Sales Tax


def test_automated_sales_tax_that_agrees_with_onedesk(ast_world: World) -> None:
    # The new customer has no address: AST uses the company's (San Pablo, CA: 7.25 % + 1 %): on 180.00
    # 13.05 + 1.80 = 14.85, what OneDesk's 8.25 % gives.
    record, qbo_invoice = copy(ast_world, [SUPPORT, tax("Sales tax", 8.25)])
    assert line_codes(qbo_invoice) == {"TAX"}
    assert qbo_invoice["TxnTaxDetail"]["TxnTaxCodeRef"]["name"] == "California (AST)"  # AST's own code
    assert record["syncMessage"]["level"] == "info"


def test_automated_sales_tax_that_differs_is_copied_and_flagged_on_the_onedesk_invoice(
    ast_world: World,
) -> None:
    organization = ast_world.onedesk.organization("AST Differs")
    invoice = ast_world.open_invoice(organization, [SUPPORT, tax("Sales tax", 7)])
    ast_world.command(invoice["id"])
    qbo_invoice = synced(ast_world, invoice["id"], "194.85")  # QBO's 8.25 %, not OneDesk's 7 %

    record = wait_for(
        lambda: (r := ast_world.onedesk.record(invoice["id"]))["syncMessage"] and r, what="the copy message"
    )
    assert Decimal(str(record["total"])) == Decimal("192.60")
    assert record["externalReferences"]["qbo"]["invoiceId"] == qbo_invoice["Id"]  # copied, not refused
    message = record["syncMessage"]
    assert message["level"] == "warning"
    assert "Automated Sales Tax charged 14.85 tax where OneDesk charged 12.60" in message["text"]
    assert "(difference -2.25)" in message["text"]
