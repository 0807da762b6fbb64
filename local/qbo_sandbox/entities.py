"""The entity registry (§1 operations table) and the generic create/read/update/delete/void flow."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.qbo_sandbox import namelists, transactions
from local.qbo_sandbox.faults import object_not_found, required_param, unsupported_operation
from local.qbo_sandbox.rules import check_sync_token, is_sparse, ref_id
from local.qbo_sandbox.store import Company, CreateFn, OpContext, Record, RecordFn, UpdateFn

RenderFn = Callable[[Company, list[Record]], list[dict[str, Any]]]


def render_plain(company: Company, records: list[Record]) -> list[dict[str, Any]]:
    """Stored objects as they are (the company is only needed by derived-field renderers)."""
    return [dict(record.data) for record in records]


@dataclass(frozen=True)
class EntityType:
    name: str
    create: CreateFn | None = None
    update: UpdateFn | None = None
    delete: RecordFn | None = None
    void: RecordFn | None = None
    render: RenderFn = render_plain
    name_list: bool = False  # Active flag: inactive rows are hidden from queries not filtering on Active
    cdc: bool = True
    webhooks: bool = False
    singleton_id: str = ""  # Preferences: one object per company, addressed without an id

    @property
    def path(self) -> str:
        return self.name.lower()


ENTITY_TYPES: dict[str, EntityType] = {
    entity.name: entity
    for entity in (
        EntityType(
            "Customer",
            create=namelists.create_customer,
            update=namelists.update_customer,
            render=namelists.render_customers,
            name_list=True,
            webhooks=True,
        ),
        EntityType("Vendor", create=namelists.create_vendor, name_list=True),
        EntityType("Employee", name_list=True),
        EntityType(
            "Item", create=namelists.create_item, update=namelists.update_item, name_list=True, webhooks=True
        ),
        EntityType(
            "Account", create=namelists.create_account, update=namelists.update_account, name_list=True
        ),
        EntityType("TaxCode", name_list=True, cdc=False),
        EntityType("TaxRate", name_list=True, cdc=False),
        EntityType(
            "Invoice",
            create=transactions.create_sales_form("Invoice"),
            update=transactions.update_sales_form("Invoice"),
            delete=transactions.delete_sales_form("Invoice"),
            void=transactions.void_invoice,
            webhooks=True,
        ),
        EntityType(
            "CreditMemo",
            create=transactions.create_sales_form("CreditMemo"),
            update=transactions.update_sales_form("CreditMemo"),
            delete=transactions.delete_sales_form("CreditMemo"),
            webhooks=True,
        ),
        EntityType(
            "Payment",
            create=transactions.create_payment,
            update=transactions.update_payment,
            delete=transactions.delete_payment,
            void=transactions.void_payment,
            webhooks=True,
        ),
        EntityType("CompanyInfo"),
        EntityType("Preferences", update=namelists.update_preferences, singleton_id="1"),
    )
}
BY_PATH = {entity.path: entity for entity in ENTITY_TYPES.values()}
_BY_LOWER_NAME = {name.lower(): entity for name, entity in ENTITY_TYPES.items()}


def lookup(name: str) -> EntityType | None:
    """Entity by name as written in queries, CDC lists and batch items (case-insensitive)."""
    return _BY_LOWER_NAME.get(name.lower())


def _render_one(ctx: OpContext, entity: EntityType, record: Record) -> dict[str, Any]:
    return {entity.name: entity.render(ctx.company, [record])[0]}


def _unsupported(entity: EntityType, operation: str) -> Exception:
    if operation == "delete" and entity.name_list:
        return unsupported_operation(
            f"{entity.name} cannot be deleted: name lists are made inactive with a sparse update "
            "(Active false)"
        )
    return unsupported_operation(f"Operation {operation} is not supported for {entity.name}")


def _target(ctx: OpContext, entity: EntityType, body: dict[str, Any]) -> Record:
    entity_id = ref_id(body.get("Id")) or entity.singleton_id
    if not entity_id:
        raise required_param("Id")
    record = ctx.company.require(entity.name, entity_id, "Id")
    check_sync_token(record, body, entity.name)
    return record


def read(ctx: OpContext, entity: EntityType, entity_id: str) -> dict[str, Any]:
    record = ctx.company.get(entity.name, entity_id or entity.singleton_id)
    if record is None:
        deleted = entity_id in ctx.company.tombstones.get(entity.name, {})
        raise object_not_found("Id", deleted=deleted)
    return _render_one(ctx, entity, record)


def create(ctx: OpContext, entity: EntityType, body: dict[str, Any]) -> dict[str, Any]:
    if entity.create is None:
        raise _unsupported(entity, "create")
    record = entity.create(ctx, body)
    if entity.webhooks:
        ctx.emit(entity.name, record.id, "created")
    return _render_one(ctx, entity, record)


def update(ctx: OpContext, entity: EntityType, body: dict[str, Any]) -> dict[str, Any]:
    if entity.update is None:
        raise _unsupported(entity, "update")
    record = _target(ctx, entity, body)
    entity.update(ctx, record, body, is_sparse(body))
    if entity.webhooks:
        ctx.emit(entity.name, record.id, "updated")
    return _render_one(ctx, entity, record)


def is_update(entity: EntityType, body: dict[str, Any]) -> bool:
    """POST /{entity} without an operation: an Id in the body makes it an update (§1)."""
    return bool(ref_id(body.get("Id"))) or bool(entity.singleton_id)


def save(ctx: OpContext, entity: EntityType, body: dict[str, Any]) -> dict[str, Any]:
    return update(ctx, entity, body) if is_update(entity, body) else create(ctx, entity, body)


def delete(ctx: OpContext, entity: EntityType, body: dict[str, Any]) -> dict[str, Any]:
    if entity.delete is None:
        raise _unsupported(entity, "delete")
    record = _target(ctx, entity, body)
    entity.delete(ctx, record)
    if entity.webhooks:
        ctx.emit(entity.name, record.id, "deleted")
    return {entity.name: {"status": "Deleted", "domain": "QBO", "Id": record.id}}


def void(ctx: OpContext, entity: EntityType, body: dict[str, Any]) -> dict[str, Any]:
    if entity.void is None:
        raise _unsupported(entity, "void")
    record = _target(ctx, entity, body)
    entity.void(ctx, record)
    if entity.webhooks:
        ctx.emit(entity.name, record.id, "void")
    return _render_one(ctx, entity, record)


def send(ctx: OpContext, invoice_id: str, send_to: str) -> dict[str, Any]:
    entity = ENTITY_TYPES["Invoice"]
    record = ctx.company.require("Invoice", invoice_id, "Id")
    transactions.send_invoice(ctx, record, send_to)
    ctx.emit("Invoice", record.id, "emailed")
    return _render_one(ctx, entity, record)
