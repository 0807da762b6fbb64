"""Per-company object storage: ids, SyncTokens, MetaData, tombstones for CDC."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local.qbo_sandbox.clock import meta_timestamp
from local.qbo_sandbox.faults import object_not_found

# Customer, Vendor and Employee share one DisplayName namespace (§2, error 6240).
PEOPLE = ("Customer", "Vendor", "Employee")
HOME_CURRENCIES = {
    "US": {"value": "USD", "name": "United States Dollar"},
    "CA": {"value": "CAD", "name": "Canadian Dollar"},
    "GB": {"value": "GBP", "name": "British Pound Sterling"},
}


def id_sort_key(entity_id: str) -> tuple[int, int, str]:
    """Numeric ids in numeric order; pseudo ids such as the US TaxCodes "TAX"/"NON" first."""
    return (1, int(entity_id), "") if entity_id.isdigit() else (0, 0, entity_id)


@dataclass
class Record:
    data: dict[str, Any]
    created: datetime
    updated: datetime  # full precision: CDC compares against this, not the rendered seconds
    voided: bool = False

    @property
    def id(self) -> str:
        return str(self.data["Id"])

    @property
    def sync_token(self) -> str:
        return str(self.data["SyncToken"])

    def to_json(self) -> dict[str, Any]:
        return {
            "data": self.data,
            "created": self.created.isoformat(),
            "updated": self.updated.isoformat(),
            "voided": self.voided,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Record":
        return cls(
            data=raw["data"],
            created=datetime.fromisoformat(raw["created"]),
            updated=datetime.fromisoformat(raw["updated"]),
            voided=bool(raw.get("voided", False)),
        )


@dataclass
class Company:
    realm_id: str
    name: str
    country: str
    records: dict[str, dict[str, Record]] = field(default_factory=dict)
    tombstones: dict[str, dict[str, datetime]] = field(default_factory=dict)
    sequences: dict[str, int] = field(default_factory=dict)
    next_doc_number: int = 1001
    sends: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_us(self) -> bool:
        return self.country == "US"

    @property
    def currency_ref(self) -> dict[str, str]:
        return HOME_CURRENCIES[self.country]

    @property
    def automated_sales_tax(self) -> bool:
        """US Automated Sales Tax (Preferences.TaxPrefs.PartnerTaxEnabled): QBO computes the tax."""
        return self.is_us and self.preferences.get("TaxPrefs", {}).get("PartnerTaxEnabled") is True

    @property
    def preferences(self) -> dict[str, Any]:
        return self.records["Preferences"]["1"].data

    @property
    def custom_txn_numbers(self) -> bool:
        return bool(self.preferences.get("SalesFormsPrefs", {}).get("CustomTxnNumbers", False))

    def get(self, entity: str, entity_id: object) -> Record | None:
        return self.records.get(entity, {}).get(str(entity_id))

    def require(self, entity: str, entity_id: object, element: str = "") -> Record:
        record = self.get(entity, entity_id)
        if record is None:
            deleted = str(entity_id) in self.tombstones.get(entity, {})
            raise object_not_found(element, deleted=deleted)
        return record

    def all(self, entity: str) -> list[Record]:
        records = self.records.get(entity, {})
        return [records[key] for key in sorted(records, key=id_sort_key)]

    def find_person(self, display_name: str, *, exclude: Record | None = None) -> Record | None:
        """The Customer/Vendor/Employee already using this name (case-insensitive, inactive included)."""
        wanted = display_name.casefold()
        for entity in PEOPLE:
            for record in self.records.get(entity, {}).values():
                if record is not exclude and str(record.data.get("DisplayName", "")).casefold() == wanted:
                    return record
        return None

    def find_by_name(self, entity: str, name: str, *, exclude: Record | None = None) -> Record | None:
        wanted = name.casefold()
        for record in self.records.get(entity, {}).values():
            if record is not exclude and str(record.data.get("Name", "")).casefold() == wanted:
                return record
        return None

    def _allocate_id(self, entity: str) -> str:
        next_id = self.sequences.get(entity, 1)
        self.sequences[entity] = next_id + 1
        return str(next_id)

    def allocate_doc_number(self) -> str:
        number = self.next_doc_number
        self.next_doc_number += 1
        return str(number)

    def insert(
        self, entity: str, data: dict[str, Any], now: datetime, entity_id: str | None = None
    ) -> Record:
        new_id = entity_id or self._allocate_id(entity)
        stamp = meta_timestamp(now)
        # `data` never carries Id/SyncToken/MetaData: the entity rules strip read-only input fields.
        stored = {
            "Id": new_id,
            "SyncToken": "0",
            **data,
            "domain": "QBO",
            "sparse": False,
            "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp},
        }
        record = Record(stored, now, now)
        self.records.setdefault(entity, {})[new_id] = record
        return record

    def replace(self, record: Record, data: dict[str, Any], now: datetime) -> None:
        """Store a new version: identity and CreateTime kept, SyncToken + 1, LastUpdatedTime now."""
        create_time = record.data["MetaData"]["CreateTime"]
        stored = {"Id": record.id, "SyncToken": record.sync_token, **data}  # Id first, as QBO prints it
        stored.update(
            Id=record.id,
            SyncToken=str(int(record.sync_token) + 1),
            domain="QBO",
            sparse=False,
            MetaData={"CreateTime": create_time, "LastUpdatedTime": meta_timestamp(now)},
        )
        record.data = stored
        record.updated = now

    def delete(self, entity: str, record: Record, now: datetime) -> None:
        """Hard delete (transactions only); the tombstone feeds CDC and 'deleted' 610 messages."""
        del self.records[entity][record.id]
        self.tombstones.setdefault(entity, {})[record.id] = now

    def to_json(self) -> dict[str, Any]:
        return {
            "realm_id": self.realm_id,
            "name": self.name,
            "country": self.country,
            "records": {entity: [record.to_json() for record in self.all(entity)] for entity in self.records},
            "tombstones": {
                entity: {key: moment.isoformat() for key, moment in stones.items()}
                for entity, stones in self.tombstones.items()
            },
            "sequences": self.sequences,
            "next_doc_number": self.next_doc_number,
            "sends": self.sends,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> "Company":
        company = cls(realm_id=raw["realm_id"], name=raw["name"], country=raw["country"])
        for entity, records in raw["records"].items():
            loaded = (Record.from_json(item) for item in records)
            company.records[entity] = {record.id: record for record in loaded}
        company.tombstones = {
            entity: {key: datetime.fromisoformat(value) for key, value in stones.items()}
            for entity, stones in raw["tombstones"].items()
        }
        company.sequences = {key: int(value) for key, value in raw["sequences"].items()}
        company.next_doc_number = int(raw["next_doc_number"])
        company.sends = list(raw["sends"])
        return company


@dataclass(frozen=True)
class ChangeEvent:
    """One entity change that webhooks report (§10)."""

    realm_id: str
    entity: str
    entity_id: str
    operation: str  # created | updated | deleted | void | emailed
    time: datetime
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))


@dataclass
class OpContext:
    """What one data-API operation works on; events are published only if it succeeds."""

    company: Company
    now: datetime
    events: list[ChangeEvent] = field(default_factory=list)

    def emit(self, entity: str, entity_id: str, operation: str) -> None:
        self.events.append(ChangeEvent(self.company.realm_id, entity, entity_id, operation, self.now))


# The shapes of the per-entity rules the registry (entities.py) wires together.
CreateFn = Callable[[OpContext, dict[str, Any]], Record]
UpdateFn = Callable[[OpContext, Record, dict[str, Any], bool], None]
RecordFn = Callable[[OpContext, Record], None]
