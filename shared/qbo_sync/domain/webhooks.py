"""Intuit webhook notifications, both formats, turned into ``QboChange`` messages.

CloudEvents (an array; ``type`` = ``qbo.<entity>.<op>.v1``, with ``intuitaccountid`` = realm and
``intuitentityid``) is current; the legacy ``eventNotifications`` object is still parsed for apps not yet
switched. One POST may hold many realms and thousands of events, and Intuit resends the whole batch when
it is not acknowledged. Only the entities that can move an invoice's paid amount are relevant here:
Payment, Invoice, CreditMemo.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from qbo_sync.domain.commands import ChangedEntity, EventId, QboChange, QboId
from qbo_sync.domain.json_body import MalformedJson, parse_json

RELEVANT: dict[str, ChangedEntity] = {
    "payment": "Payment",
    "invoice": "Invoice",
    "creditmemo": "CreditMemo",
}


class MalformedWebhook(ValueError):
    """The body is not a notification in either format (answered 400)."""


class _CloudEventEnvelope(BaseModel):
    """What every CloudEvent has; the rest is read only for the entities we care about."""

    id: EventId
    type: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _EntityCloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: EventId
    intuitaccountid: QboId
    intuitentityid: QboId
    time: datetime | None = None


class _LegacyEntity(BaseModel):
    name: Annotated[str, StringConstraints(max_length=64)]
    id: QboId
    operation: Annotated[str, StringConstraints(max_length=64)]
    lastUpdated: datetime | None = None  # noqa: N815 - Intuit's wire name


class _LegacyDataChangeEvent(BaseModel):
    entities: list[_LegacyEntity]


class _LegacyNotification(BaseModel):
    realmId: QboId  # noqa: N815 - Intuit's wire name
    dataChangeEvent: _LegacyDataChangeEvent  # noqa: N815 - Intuit's wire name


class _LegacyBody(BaseModel):
    eventNotifications: list[_LegacyNotification]  # noqa: N815 - Intuit's wire name


def parse_notifications(raw_body: bytes) -> list[QboChange]:
    """Every relevant change in the body, each distinct event once (Intuit may repeat one inside a batch),
    in the order sent. Other entities are dropped here, by design, not by accident."""
    try:
        document: Any = parse_json(raw_body)
    except MalformedJson as error:
        raise MalformedWebhook(str(error)) from None
    try:
        if isinstance(document, list):
            changes = [c for c in map(_from_cloud_event, document) if c is not None]
        elif isinstance(document, dict) and "eventNotifications" in document:
            changes = _from_legacy(_LegacyBody.model_validate(document))
        else:
            raise MalformedWebhook("expected a CloudEvents array or an eventNotifications object")
    except ValidationError as error:
        raise MalformedWebhook(f"not an Intuit notification: {error.error_count()} problem(s)") from None
    distinct: dict[str, QboChange] = {}
    for change in changes:
        distinct.setdefault(change.event_id, change)
    return list(distinct.values())


def _from_cloud_event(raw: object) -> QboChange | None:
    envelope = _CloudEventEnvelope.model_validate(raw)
    kind, operation = _entity_and_operation(envelope.type)
    if kind is None:
        return None  # another entity, or not a QBO entity event at all
    event = _EntityCloudEvent.model_validate(raw)
    return QboChange(
        realm_id=event.intuitaccountid,
        entity=kind,
        entity_id=event.intuitentityid,
        operation=operation,
        event_id=event.id,
        occurred_at=event.time,
    )


def _entity_and_operation(event_type: str) -> tuple[ChangedEntity | None, str]:
    """``qbo.<entity>.<operation>.v<n>`` -> (our entity name, or None for any other type; operation)."""
    parts = event_type.split(".")
    if len(parts) != 4 or parts[0] != "qbo" or not parts[3].startswith("v"):
        return None, ""
    return RELEVANT.get(parts[1].lower()), parts[2].lower()


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
                    event_id=hashlib.sha256(identity.encode()).hexdigest(),
                    occurred_at=entity.lastUpdated,
                )
            )
    return changes
