"""Intuit webhook notifications, both formats (QBO-FACTS §10), turned into ``QboChange`` messages.

CloudEvents (an array; ``type`` = ``qbo.<entity>.<op>.v1``) is current; the legacy
``eventNotifications`` object is still parsed for apps not yet switched. Only the entities that can
move an invoice's paid amount are relevant here: Payment, Invoice, CreditMemo.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from qbo_sync.domain.commands import ChangedEntity, QboChange

RELEVANT: dict[str, ChangedEntity] = {
    "payment": "Payment",
    "invoice": "Invoice",
    "creditmemo": "CreditMemo",
}


class MalformedWebhook(ValueError):
    """The body is not a notification in either format (answered 400)."""


class _CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    id: str = Field(min_length=1)
    type: str = Field(pattern=r"^qbo\.[a-z]+\.[a-z]+\.v\d+$")
    intuitaccountid: str = Field(min_length=1)
    intuitentityid: str = Field(min_length=1)
    time: datetime | None = None


class _LegacyEntity(BaseModel):
    name: str
    id: str
    operation: str
    lastUpdated: datetime | None = None  # noqa: N815 - Intuit's wire name


class _LegacyDataChangeEvent(BaseModel):
    entities: list[_LegacyEntity]


class _LegacyNotification(BaseModel):
    realmId: str  # noqa: N815 - Intuit's wire name
    dataChangeEvent: _LegacyDataChangeEvent  # noqa: N815 - Intuit's wire name


class _LegacyBody(BaseModel):
    eventNotifications: list[_LegacyNotification]  # noqa: N815 - Intuit's wire name


def parse_notifications(raw_body: bytes) -> list[QboChange]:
    """Every relevant change in the body (other entities are dropped here, by design, not by accident)."""
    try:
        document: Any = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedWebhook(f"body is not JSON: {error}") from error
    try:
        if isinstance(document, list):
            return [c for c in map(_from_cloud_event, document) if c is not None]
        if isinstance(document, dict) and "eventNotifications" in document:
            return _from_legacy(_LegacyBody.model_validate(document))
    except ValidationError as error:
        raise MalformedWebhook(f"not an Intuit notification: {error.error_count()} problem(s)") from error
    raise MalformedWebhook("expected a CloudEvents array or an eventNotifications object")


def _from_cloud_event(raw: object) -> QboChange | None:
    event = _CloudEvent.model_validate(raw)
    _, entity, operation, _version = event.type.split(".")
    if entity not in RELEVANT:
        return None
    return QboChange(
        realm_id=event.intuitaccountid,
        entity=RELEVANT[entity],
        entity_id=event.intuitentityid,
        operation=operation,
        event_id=event.id,
        occurred_at=event.time,
    )


def _from_legacy(body: _LegacyBody) -> list[QboChange]:
    changes = []
    for notification in body.eventNotifications:
        for entity in notification.dataChangeEvent.entities:
            kind = RELEVANT.get(entity.name.lower())
            if kind is None:
                continue
            # Legacy events carry no id: the same (realm, entity, id, op, time) is the same event.
            identity = f"{notification.realmId}|{kind}|{entity.id}|{entity.operation}|{entity.lastUpdated}"
            changes.append(
                QboChange(
                    realm_id=notification.realmId,
                    entity=kind,
                    entity_id=entity.id,
                    operation=entity.operation.lower(),
                    event_id=hashlib.sha256(identity.encode()).hexdigest()[:64],
                    occurred_at=entity.lastUpdated,
                )
            )
    return changes
