"""QBO entities as this product reads and writes them (Accounting API v3, minor version 75).

Field names are QBO's wire names (PascalCase) so payloads serialise without alias tables. Reads tolerate
fields we do not model (``extra="allow"``); money is ``Decimal``; ``Id``/``SyncToken`` are strings.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class QboModel(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def payload(self) -> dict[str, object]:
        """JSON-ready body: unset fields omitted, Decimal kept exact as a JSON number."""
        return self.model_dump(mode="python", exclude_none=True, by_alias=True)


class Ref(QboModel):
    value: str
    name: str | None = None


class EmailAddress(QboModel):
    Address: str


class MetaData(QboModel):
    CreateTime: str | None = None
    LastUpdatedTime: str | None = None


# Fields carry QBO's wire names, which are also their types' names (``MetaData: MetaData | None =
# None``). Pydantic resolves the annotation in the class namespace, where that name is the field's
# default, so such fields are annotated through a private alias of the class.
_MetaData = MetaData


class Entity(QboModel):
    Id: str | None = None
    SyncToken: str | None = None
    MetaData: _MetaData | None = None


class Customer(Entity):
    DisplayName: str
    GivenName: str | None = None
    FamilyName: str | None = None
    CompanyName: str | None = None
    PrimaryEmailAddr: EmailAddress | None = None
    Active: bool | None = None


class Item(Entity):
    Name: str
    Type: Literal["Service", "NonInventory", "Inventory", "Group", "Category"] | None = None
    IncomeAccountRef: Ref | None = None
    Active: bool | None = None


class Account(Entity):
    Name: str
    AccountType: str | None = None
    AccountSubType: str | None = None
    Active: bool | None = None


class TaxRateDetail(QboModel):
    TaxRateRef: Ref


_TaxRateDetail = TaxRateDetail  # same-named field (see _MetaData)


class TaxRateList(QboModel):
    TaxRateDetail: list[_TaxRateDetail] = Field(default_factory=list)


class TaxCode(Entity):
    Name: str
    Active: bool | None = None
    Taxable: bool | None = None
    SalesTaxRateList: TaxRateList | None = None


class TaxRate(Entity):
    Name: str
    RateValue: Decimal | None = None
    Active: bool | None = None


class SalesItemLineDetail(QboModel):
    ItemRef: Ref
    Qty: Decimal | None = None
    UnitPrice: Decimal | None = None
    TaxCodeRef: Ref | None = None
    ServiceDate: date | None = None


_SalesItemLineDetail = SalesItemLineDetail  # same-named field (see _MetaData)


class DiscountLineDetail(QboModel):
    PercentBased: bool = False
    DiscountPercent: Decimal | None = None
    DiscountAccountRef: Ref | None = None


_DiscountLineDetail = DiscountLineDetail  # same-named field (see _MetaData)


class Line(QboModel):
    Id: str | None = None
    LineNum: int | None = None
    Description: str | None = None
    Amount: Decimal | None = None
    DetailType: str
    SalesItemLineDetail: _SalesItemLineDetail | None = None
    DiscountLineDetail: _DiscountLineDetail | None = None


class LinkedTxn(QboModel):
    TxnId: str
    TxnType: str


_LinkedTxn = LinkedTxn  # same-named field (see _MetaData)


class TxnTaxDetail(QboModel):
    TxnTaxCodeRef: Ref | None = None
    TotalTax: Decimal | None = None


_TxnTaxDetail = TxnTaxDetail  # same-named field (see _MetaData)


class DeliveryInfo(QboModel):
    DeliveryType: str | None = None
    DeliveryTime: str | None = None


_DeliveryInfo = DeliveryInfo  # same-named field (see _MetaData)


class Invoice(Entity):
    CustomerRef: Ref
    Line: list[Line]
    DocNumber: str | None = None
    TxnDate: date | None = None
    DueDate: date | None = None
    BillEmail: EmailAddress | None = None
    PrivateNote: str | None = None
    GlobalTaxCalculation: Literal["TaxExcluded", "TaxInclusive", "NotApplicable"] | None = None
    ApplyTaxAfterDiscount: bool | None = None
    TxnTaxDetail: _TxnTaxDetail | None = None
    TotalAmt: Decimal | None = None
    Balance: Decimal | None = None
    EmailStatus: str | None = None
    DeliveryInfo: _DeliveryInfo | None = None
    LinkedTxn: list[_LinkedTxn] | None = None
    CurrencyRef: Ref | None = None


class PaymentLine(QboModel):
    Amount: Decimal
    LinkedTxn: list[_LinkedTxn] = Field(default_factory=list)


class Payment(Entity):
    CustomerRef: Ref | None = None
    TotalAmt: Decimal | None = None
    TxnDate: date | None = None
    Line: list[PaymentLine] = Field(default_factory=list)
    PrivateNote: str | None = None


class CreditMemo(Entity):
    CustomerRef: Ref | None = None
    TotalAmt: Decimal | None = None
    Balance: Decimal | None = None
    LinkedTxn: list[_LinkedTxn] | None = None


class CompanyInfo(Entity):
    CompanyName: str
    Country: str | None = None


class Preferences(Entity):
    SalesFormsPrefs: dict[str, object] | None = None
    CurrencyPrefs: dict[str, object] | None = None
    TaxPrefs: dict[str, object] | None = None


class DeletedStub(QboModel):
    """What CDC and delete return for a hard-deleted transaction."""

    Id: str
    status: Literal["Deleted"]
