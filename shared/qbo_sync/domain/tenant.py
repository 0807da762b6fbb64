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


class TaxSettings(BaseModel):
    """How OneDesk tax lines map onto the QBO company's tax engine.

    ``tax_code_id`` is the code applied when the OneDesk invoice carries tax (its rate is read from QBO
    when the admin saves the settings); ``exempt_tax_code_id`` is what non-US lines carry when the
    invoice has no tax (non-US companies need a tax code on every line).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tax_code_id: str | None = None
    tax_code_name: str | None = None
    rate_percent: Decimal | None = None
    exempt_tax_code_id: str | None = None


class TenantSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    realm_id: str
    default_income_account_id: str | None = None
    default_income_account_name: str | None = None
    tax: TaxSettings = TaxSettings()

    @property
    def complete(self) -> bool:
        return self.default_income_account_id is not None and self.tax.tax_code_id is not None
