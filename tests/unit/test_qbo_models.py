"""QBO models parse their nested objects (fields named like their own types must not shadow them)."""

from __future__ import annotations

from decimal import Decimal

from qbo_sync.domain import qbo


def test_nested_objects_parse_into_their_models() -> None:
    invoice = qbo.Invoice.model_validate(
        {
            "Id": "7",
            "CustomerRef": {"value": "1"},
            "Line": [
                {
                    "DetailType": "SalesItemLineDetail",
                    "Amount": 10,
                    "SalesItemLineDetail": {"ItemRef": {"value": "2"}},
                }
            ],
            "MetaData": {"CreateTime": "2026-11-26T10:00:00-07:00"},
            "TxnTaxDetail": {"TotalTax": 1.5},
            "DeliveryInfo": {"DeliveryType": "Email", "DeliveryTime": "2026-11-26T10:00:00-07:00"},
            "LinkedTxn": [{"TxnId": "9", "TxnType": "Payment"}],
        }
    )
    assert isinstance(invoice.MetaData, qbo.MetaData)
    assert invoice.TxnTaxDetail is not None and invoice.TxnTaxDetail.TotalTax == Decimal("1.5")
    assert isinstance(invoice.DeliveryInfo, qbo.DeliveryInfo)
    assert invoice.LinkedTxn == [qbo.LinkedTxn(TxnId="9", TxnType="Payment")]
    assert isinstance(invoice.Line[0].SalesItemLineDetail, qbo.SalesItemLineDetail)


def test_payment_and_credit_memo_links_parse() -> None:
    link = {"TxnId": "3", "TxnType": "Invoice"}
    payment = qbo.Payment.model_validate({"Id": "1", "Line": [{"Amount": 5, "LinkedTxn": [link]}]})
    memo = qbo.CreditMemo.model_validate({"Id": "2", "LinkedTxn": [{"TxnId": "1", "TxnType": "Payment"}]})
    assert payment.Line[0].LinkedTxn == [qbo.LinkedTxn(**link)]
    assert memo.LinkedTxn == [qbo.LinkedTxn(TxnId="1", TxnType="Payment")]


def test_tax_code_rate_list_parses() -> None:
    code = qbo.TaxCode.model_validate(
        {
            "Id": "2",
            "Name": "California",
            "SalesTaxRateList": {"TaxRateDetail": [{"TaxRateRef": {"value": "3"}}]},
        }
    )
    assert code.SalesTaxRateList is not None
    assert code.SalesTaxRateList.TaxRateDetail[0].TaxRateRef.value == "3"
