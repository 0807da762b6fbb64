"""A tenant is one OneDesk account using the integration; its settings belong to one QBO company."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, SecretStr


class TriggerPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    copy_when_opened: bool = True
    send_when_marked_sent: bool = True


class Tenant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str
    name: str
    onedesk_api_key: SecretStr
    shared_secret: SecretStr
    trigger_policy: TriggerPolicy = TriggerPolicy()


class TaxOverride(BaseModel):
    """The admin's choice of QBO tax code for one combination of OneDesk taxes (``TaxCombination.key``;
    "" is an invoice without tax, for companies whose lines always carry a code)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    code_id: str


class TaxSettings(BaseModel):
    """How OneDesk tax lines map onto the QBO company's tax codes (domain/taxes.py chooses).

    ``tax_code_id`` is the preferred code: when several QBO codes have an invoice's rates, it wins (its
    name and rate are read from QBO when the admin saves). ``overrides`` are the admin's choices from the
    settings page's tax table; a combination without one is matched by rate automatically.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tax_code_id: str | None = None
    tax_code_name: str | None = None
    rate_percent: Decimal | None = None
    overrides: tuple[TaxOverride, ...] = ()

    def override_for(self, key: str) -> str | None:
        return next((o.code_id for o in self.overrides if o.key == key), None)


class TenantSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    realm_id: str
    default_income_account_id: str | None = None
    default_income_account_name: str | None = None
    tax: TaxSettings = TaxSettings()

    @property
    def complete(self) -> bool:
        return self.default_income_account_id is not None and self.tax.tax_code_id is not None
