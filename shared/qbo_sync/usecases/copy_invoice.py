"""Copy one OneDesk invoice to QBO: match the customer and items, create or update the invoice exactly
once, tell OneDesk, and queue the delivery when the command is a send.

Exactly once across crashes: a pending link is written before the create, the create carries a
deterministic ``requestid``, and a create whose outcome is unknown is preceded by a lookup of the marker
our private note carries.

What happens to the QBO invoice after the first copy (README "Invoice lifecycle"):
- Deleted or voided in QBO (learnt from its QBO event, a read, or the answer to an update): the next copy
  creates a new QBO invoice as the link's next generation (its own request id, the same pending-link
  protocol) and links it; a voided invoice stays in QBO. Deletions are never propagated to OneDesk.
- Edited in QBO since our last write (its content fingerprint differs from the one our write left): it is
  not overwritten; a conflict waits for the admin (overwrite from OneDesk, or keep QBO's version).
- After every write, QBO's TotalAmt is compared with OneDesk's total; a difference is a warning.

QBO requests: an unchanged copy from the poller makes none; an explicit copy of an unchanged invoice reads
it once (still there, not voided, not edited?); a changed one is one update with the stored SyncToken, and
only when QBO answers that the token is stale is the invoice read once, to tell a bookkeeper's edit from
a payment or an email (which move the SyncToken too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from qbo_sync.domain import qbo
from qbo_sync.domain.audit import AuditRecord, Outcome
from qbo_sync.domain.commands import DeliveryCommand, InvoiceAction, InvoiceCommand
from qbo_sync.domain.invoice_mapping import (
    CompanyProfile,
    CopyRefused,
    PlannedInvoice,
    marker,
    plan_invoice,
    status_refusal,
)
from qbo_sync.domain.invoice_state import differences, fingerprint, total_mismatch, written_at
from qbo_sync.domain.matching import (
    customer_name_problem,
    item_name_problem,
    lookup_fragment,
    required_item_names,
    same_name_problem,
)
from qbo_sync.domain.onedesk import Invoice, QboReference, SyncMessage
from qbo_sync.domain.payments import is_voided
from qbo_sync.domain.request_ids import request_id
from qbo_sync.domain.tenant import TenantSettings
from qbo_sync.ports.onedesk import OneDeskPort
from qbo_sync.ports.qbo import (
    BatchOutcome,
    QboDuplicateName,
    QboNotFound,
    QboPort,
    QboResult,
    QboStaleObject,
    QboValidationError,
    eq,
    in_,
    like,
)
from qbo_sync.ports.queues import DeliveryQueue
from qbo_sync.ports.store import (
    AuditLog,
    InvoiceConflict,
    InvoiceLink,
    LinkState,
    MappingStore,
    QboGone,
    TaxCatalogStore,
)
from qbo_sync.usecases.invoice_taxes import choose_invoice_tax

NO_BILLING_EMAIL = (
    "Copied to QuickBooks Online but not sent: add a billing contact email under "
    "Customer Organization > Invoice Preferences, then send again."
)
CONFLICT_MESSAGE = (
    "Not updated in QuickBooks Online: this invoice was changed there since the last copy, so it was not "
    "overwritten. An admin chooses which version to keep under Administration > Financials > QuickBooks "
    "Online."
)
DUPLICATE_DOC_NUMBER = "6140"  # QBO refuses a DocNumber already used when duplicate numbers are not allowed
_BATCH_MAX = 30

type MessageLevel = Literal["info", "warning", "error"]
# How a copy left the QBO invoice: written now, unchanged (nothing to write), or checked and up to date.
type WriteOutcome = Literal["changed", "unchanged", "up-to-date"]


@dataclass(frozen=True)
class CopyContext:
    tenant_id: str
    company: CompanyProfile
    settings: TenantSettings


@dataclass(frozen=True)
class CopyPorts:
    onedesk: OneDeskPort
    qbo: QboPort
    mappings: MappingStore
    audit: AuditLog
    deliveries: DeliveryQueue
    tax_catalogs: TaxCatalogStore
    clock: Callable[[], datetime]


@dataclass(frozen=True)
class CopyResult:
    outcome: Outcome
    reason: str | None = None
    qbo_invoice_id: str | None = None


def copy_invoice(command: InvoiceCommand, ctx: CopyContext, ports: CopyPorts) -> CopyResult:
    invoice = command.snapshot or ports.onedesk.get_invoice(command.invoice_id)
    return _InvoiceCopy(command, invoice, ctx, ports).run()


class _InvoiceCopy:
    """One copy of one invoice: holds what it learns from QBO for the audit trail, and the link as this
    copy last wrote it."""

    def __init__(self, command: InvoiceCommand, invoice: Invoice, ctx: CopyContext, ports: CopyPorts) -> None:
        self.command, self.invoice, self.ctx, self.ports = command, invoice, ctx, ports
        self.realm = ctx.company.realm_id
        self.intuit_tid: str | None = None
        self.request_id: str | None = None
        self.written: qbo.Invoice | None = None  # what QBO answered to this copy's create or update
        self.link: InvoiceLink | None = None
        self.replaced: tuple[str, QboGone] | None = None  # the deleted/voided QBO invoice a new one replaced

    @property
    def explicit(self) -> bool:
        """Asked for by someone (a Copy/Send click, or work resumed by the admin), not seen by the poller:
        worth one read to check the QBO invoice is still there and still ours."""
        return self.command.source != "poller"

    def run(self) -> CopyResult:
        invoice, ports = self.invoice, self.ports
        self.link = link = ports.mappings.invoice_link(self.ctx.tenant_id, self.realm, invoice.id)
        if (refusal := status_refusal(invoice)) is not None:
            return self.refuse(refusal)  # before any QBO call: a Draft must not create a customer
        if link and link.synced_modified_at and invoice.modified_at < link.synced_modified_at:
            # An older snapshot than the one already synced is acknowledged and skipped (latest wins).
            self.record("copy", Outcome.UNCHANGED, "an older snapshot than the one already copied")
            return self.deliver_if_sent(link)
        try:
            # The tax first: an invoice no QBO tax code can carry must not create a customer or items.
            tax = choose_invoice_tax(
                invoice,
                tenant_id=self.ctx.tenant_id,
                company=self.ctx.company,
                settings=self.ctx.settings.tax,
                catalogs=ports.tax_catalogs,
                client=ports.qbo,
                now=ports.clock(),
            )
            customer_id, item_ids = self.resolve_names()
            plan = plan_invoice(invoice, self.ctx.company, tax, customer_id, item_ids)
            written = self.write(plan, customer_id, link)
        except CopyRefused as refused:
            return self.refuse(refused.reason)
        except (QboValidationError, QboNotFound) as error:
            # Permanent: retrying the same content cannot succeed. (A 610 here means a customer or item we
            # reference was made inactive in QBO.) Throttling, 5xx and auth errors propagate and are retried.
            return self.refuse(f"QuickBooks Online refused the invoice: {error}")
        if isinstance(written, CopyResult):
            return written
        return self.deliver_if_sent(self.report(plan, *written))

    # ------------------------------------------------------------------------------------ audit
    def saw(self, intuit_tid: str | None, request_id_: str | None) -> None:
        self.intuit_tid = intuit_tid or self.intuit_tid
        self.request_id = request_id_ or self.request_id

    def record(self, action: str, outcome: Outcome, reason: str | None = None, **fields: str | None) -> None:
        self.ports.audit.record(
            AuditRecord(
                tenant_id=self.ctx.tenant_id,
                at=self.ports.clock(),
                action=action,
                outcome=outcome,
                invoice_id=self.invoice.id,
                invoice_number=self.invoice.number,
                realm_id=self.realm,
                reason=reason,
                intuit_tid=self.intuit_tid,
                request_id=self.request_id,
                **fields,
            )
        )

    # ------------------------------------------------------------------------------------ matching
    def resolve_names(self) -> tuple[str, dict[str, str]]:
        """Customer and item ids for the invoice: stored links first, then one query each, then one create
        request for whatever is missing (a batch when several are)."""
        tenant, mappings = self.ctx.tenant_id, self.ports.mappings
        organization = self.invoice.organization
        customer_id = linked_customer = mappings.customer_id(tenant, self.realm, organization.id)
        new_customer: qbo.Customer | None = None
        if customer_id is None:
            if (problem := customer_name_problem(organization.name)) is not None:
                raise CopyRefused(problem)
            customer_id = self.find_customer(organization.name)
            if customer_id is None:
                new_customer = _new_customer(self.invoice)

        names = required_item_names(self.invoice)
        item_ids = mappings.item_ids(tenant, self.realm, names)
        unlinked = [name for name in names if name not in item_ids]
        for name in unlinked:
            if (problem := item_name_problem(name)) is not None:
                raise CopyRefused(problem)
        if unlinked:
            found = self.find_items(unlinked)
            item_ids.update(found)
            mappings.link_items(tenant, self.realm, found)
        new_items = [
            qbo.Item(Name=name, Type="Service", IncomeAccountRef=qbo.Ref(value=self.income_account()))
            for name in names
            if name not in item_ids
        ]

        created_customer, created_items = self.create_missing(new_customer, new_items)
        if created_customer is not None:
            customer_id = created_customer
            self.record("create-customer", Outcome.DONE, f"QBO customer {organization.name!r} created")
        assert customer_id is not None  # found, linked or created above
        if customer_id != linked_customer:
            mappings.link_customer(tenant, self.realm, organization.id, customer_id)
        if created_items:
            mappings.link_items(tenant, self.realm, created_items)
            self.record(
                "create-items", Outcome.DONE, "QBO products/services created: " + ", ".join(created_items)
            )
        return customer_id, item_ids | created_items

    def income_account(self) -> str:
        account = self.ctx.settings.default_income_account_id
        if account is None:
            raise CopyRefused(
                "No default income account is set for new service types (integration settings)."
            )
        return account

    def find_customer(self, name: str) -> str | None:
        result = self.ports.qbo.query(qbo.Customer, [eq("DisplayName", name)])
        self.saw(result.intuit_tid, None)
        _refuse_other_capitals(
            "customer", name, [(c.DisplayName, c.Active is not False) for c in result.entity]
        )
        return next((c.Id for c in result.entity if c.DisplayName == name and c.Id), None)

    def find_items(self, names: Sequence[str]) -> dict[str, str]:
        result = self.ports.qbo.query(qbo.Item, [in_("Name", names)])
        self.saw(result.intuit_tid, None)
        for name in names:
            _refuse_other_capitals(
                "product/service", name, [(i.Name, i.Active is not False) for i in result.entity]
            )
        wanted = set(names)
        return {item.Name: item.Id for item in result.entity if item.Name in wanted and item.Id}

    def create_missing(
        self, customer: qbo.Customer | None, items: list[qbo.Item]
    ) -> tuple[str | None, dict[str, str]]:
        """Create the missing customer and items in one request (a batch when several are missing); a
        name taken meanwhile (6240 race) is looked up and adopted. Returns the customer's id and the
        items' ids by name (a customer and an item may share a name, so they are kept apart)."""
        entities: list[qbo.Customer | qbo.Item] = ([customer] if customer else []) + list(items)
        ids: list[str] = []
        for start in range(0, len(entities), _BATCH_MAX):
            chunk = entities[start : start + _BATCH_MAX]
            rid = request_id(self.ctx.tenant_id, self.realm, "names", *(_name_of(e) for e in chunk))
            if len(chunk) == 1:
                try:
                    result = self.ports.qbo.create(chunk[0], request_id=rid)
                    self.saw(result.intuit_tid, result.request_id)
                    outcome = BatchOutcome(entity=result.entity, error=None)
                except (QboDuplicateName, QboValidationError, QboNotFound) as error:
                    outcome = BatchOutcome(entity=None, error=error)
                ids.append(self.settle(chunk[0], outcome))
                continue
            outcomes = self.ports.qbo.batch_create(chunk, request_id=rid)
            ids.extend(self.settle(entity, outcome) for entity, outcome in zip(chunk, outcomes, strict=True))
        customer_id = ids.pop(0) if customer else None
        return customer_id, {item.Name: item_id for item, item_id in zip(items, ids, strict=True)}

    def settle(self, entity: qbo.Customer | qbo.Item, outcome: BatchOutcome) -> str:
        if outcome.entity is not None and outcome.entity.Id:
            return outcome.entity.Id
        if isinstance(outcome.error, QboDuplicateName):
            return self.adopt(entity, outcome.error)
        if isinstance(outcome.error, QboValidationError | QboNotFound):
            raise CopyRefused(
                f"QuickBooks Online refused to create {_name_of(entity)!r}: {outcome.error}"
            ) from outcome.error
        # Throttling, 5xx or a missing batch item: transient, so the command is retried.
        raise outcome.error or RuntimeError(
            f"QBO returned neither an entity nor an error for {_name_of(entity)!r}"
        )

    def adopt(self, entity: qbo.Customer | qbo.Item, taken: QboDuplicateName) -> str:
        """Another worker created the same name first: reuse it. Otherwise the name belongs to something
        we must not use (the same name in other capitals, an inactive record, a vendor or an employee):
        refuse with a clear reason."""
        name = _name_of(entity)
        if isinstance(entity, qbo.Customer):
            found, what = self.find_customer(name), "customer"
        else:
            found, what = self.find_items([name]).get(name), "product/service"
        if found is not None:
            return found
        self.refuse_same_name(entity, what)
        raise CopyRefused(
            f"QuickBooks Online already uses the name {name!r} for another {what}, vendor or employee, or "
            f"for an inactive one, so the {what} could not be created. Rename one of them or make it "
            "active in QuickBooks Online, then copy again."
        ) from taken

    def refuse_same_name(self, entity: qbo.Customer | qbo.Item, what: str) -> None:
        """QBO compares names ignoring capitals (and counts inactive records): say exactly which one holds
        the name, when it is a customer or item (one LIKE query, on this error path only)."""
        name = _name_of(entity)
        fragment = lookup_fragment(name)
        if not fragment:
            return
        if isinstance(entity, qbo.Customer):
            customers = self.ports.qbo.query(
                qbo.Customer, [like("DisplayName", f"%{fragment}%")], include_inactive=True
            ).entity
            held = [(c.DisplayName, c.Active is not False) for c in customers]
        else:
            items = self.ports.qbo.query(
                qbo.Item, [like("Name", f"%{fragment}%")], include_inactive=True
            ).entity
            held = [(i.Name, i.Active is not False) for i in items]
        for existing, active in held:
            if existing.casefold() == name.casefold():
                problem = same_name_problem(what, name, existing, active=active)
                if problem is not None:
                    raise CopyRefused(problem)

    # ------------------------------------------------------------------------------------ invoice
    def write(
        self, plan: PlannedInvoice, customer_id: str, link: InvoiceLink | None
    ) -> tuple[InvoiceLink, WriteOutcome] | CopyResult:
        """Bring the QBO invoice to ``plan``, or say why not (a conflict waiting for the admin)."""
        if link is None or link.state is LinkState.PENDING:
            return self.create_once(plan, customer_id, link), "changed"
        if link.conflict_since is not None:
            return self.conflict_waiting(link)
        unchanged = link.content_hash == plan.content_hash
        if link.qbo_gone is not None:
            if unchanged and not self.explicit:
                # The bookkeeper's delete or void stands until someone asks again (OneDesk says how); our
                # own write-back echoing through the poller (a copy, or a Sent invoice's automatic send)
                # must not recreate it behind their back.
                return CopyResult(Outcome.UNCHANGED, f"the QBO invoice was {link.qbo_gone.value} in QBO")
            return self.recreate(plan, customer_id, link, link.qbo_gone), "changed"
        if unchanged:
            return self.verify(plan, customer_id, link) if self.explicit else (link, "unchanged")
        return self.update(plan, customer_id, link)

    def create_once(
        self, plan: PlannedInvoice, customer_id: str, link: InvoiceLink | None, *, first_attempt: bool = False
    ) -> InvoiceLink:
        """Create the QBO invoice at most once. The pending link remembers what the first attempt sent:
        if the invoice changed before a retry, whatever that attempt created (found by marker, or
        replayed by QBO for the same request id) carries the old content and is updated right after."""
        tenant, invoice = self.ctx.tenant_id, self.invoice
        if link is None:
            link = InvoiceLink(
                tenant_id=tenant,
                realm_id=self.realm,
                invoice_id=invoice.id,
                invoice_number=invoice.number,
                state=LinkState.PENDING,
                create_request_id=request_id(tenant, self.realm, invoice.id, "create", 0),
                customer_id=customer_id,
                content_hash=plan.content_hash,
            )
            self.ports.mappings.begin_create(link, replaces=None)
            self.link = link
            entity = self.create(plan, link)
        elif first_attempt:
            entity = self.create(plan, link)
        else:
            # A previous attempt's outcome is unknown: find what it may have created before creating.
            entity = self.find_by_marker(link.customer_id) or self.create(plan, link)
        done = self.done_link(link, entity, link.content_hash or plan.content_hash)
        self.save(done)
        self.record(
            "copy",
            Outcome.DONE,
            f"created QBO invoice {entity.DocNumber or entity.Id}",
            qbo_invoice_id=entity.Id,
            sync_token_after=entity.SyncToken,
        )
        if done.content_hash != plan.content_hash:
            updated = self.update(plan, customer_id, done)
            if isinstance(updated, CopyResult):  # cannot happen: nobody edited what we just created
                raise RuntimeError(f"QBO invoice {entity.Id} changed while it was being created")
            return updated[0]
        return done

    def create(self, plan: PlannedInvoice, link: InvoiceLink) -> qbo.Invoice:
        try:
            result = self.ports.qbo.create(plan.body, request_id=link.create_request_id)
        except QboValidationError as refused:
            if refused.code == DUPLICATE_DOC_NUMBER and plan.body.DocNumber:
                raise CopyRefused(self.duplicate_number(plan.body.DocNumber, link)) from refused
            raise
        self.saw(result.intuit_tid, result.request_id)
        return result.entity

    def duplicate_number(self, number: str, link: InvoiceLink) -> str:
        """The OneDesk number is the DocNumber (custom transaction numbers), never altered: when QBO holds
        it already and refuses duplicates, only someone in QBO can free it."""
        if link.generation > 0:  # replacing a deleted or voided invoice: a voided one keeps its number
            voided = f" {self.replaced[0]}" if self.replaced and self.replaced[1] is QboGone.VOIDED else ""
            return (
                f"QuickBooks Online did not accept number {number} for the new invoice: the voided invoice"
                f"{voided} keeps that number and this company does not allow duplicate invoice numbers. Give "
                f"the voided invoice another number in QuickBooks Online (for example {number}-void), then "
                "copy again."
            )
        return (
            f"QuickBooks Online already has an invoice numbered {number} and this company does not allow "
            "duplicate invoice numbers. Renumber one of them, then copy again."
        )

    def update(
        self, plan: PlannedInvoice, customer_id: str, link: InvoiceLink
    ) -> tuple[InvoiceLink, WriteOutcome] | CopyResult:
        """One sparse update with the stored SyncToken. A stale token means QBO's invoice changed since our
        write: one read tells a bookkeeper's edit (a conflict) from a payment or an email (retry once)."""
        qbo_id, sync_token = str(link.qbo_invoice_id), str(link.sync_token)
        try:
            result = self.sparse_update(plan, qbo_id, sync_token)
        except QboStaleObject:
            current = self.read_current(qbo_id)
            if (gone := _gone(current)) is not None:
                return self.recreate(plan, customer_id, link, gone), "changed"
            assert current is not None  # _gone says deleted otherwise
            if _edited_in_qbo(current, link):
                return self.open_conflict(plan, link, current)
            sync_token = str(current.SyncToken)
            result = self.sparse_update(plan, qbo_id, sync_token)
        except (QboNotFound, QboValidationError):
            # Deleted (610) or voided (QBO refuses to change a voided invoice)? One read says which; any
            # other refusal (an inactive customer or item) is the copy's reason to refuse.
            if (gone := _gone(self.read_current(qbo_id))) is None:
                raise
            return self.recreate(plan, customer_id, link, gone), "changed"
        done = self.done_link(link, result.entity, plan.content_hash, updated=True)
        self.save(done)
        self.record(
            "copy",
            Outcome.DONE,
            f"updated QBO invoice {result.entity.DocNumber or qbo_id}",
            qbo_invoice_id=qbo_id,
            sync_token_before=sync_token,
            sync_token_after=result.entity.SyncToken,
        )
        return done, "changed"

    def verify(
        self, plan: PlannedInvoice, customer_id: str, link: InvoiceLink
    ) -> tuple[InvoiceLink, WriteOutcome] | CopyResult:
        """An explicit copy of unchanged content: one read, so "already up to date" is true."""
        current = self.read_current(str(link.qbo_invoice_id))
        if (gone := _gone(current)) is not None:
            return self.recreate(plan, customer_id, link, gone), "changed"
        assert current is not None
        if _edited_in_qbo(current, link):
            return self.open_conflict(plan, link, current)
        if current.SyncToken != link.sync_token:  # a payment or an email since: saves a 5010 next time
            link = link.model_copy(update={"sync_token": current.SyncToken})
            self.save(link)
        return link, "up-to-date"

    def recreate(
        self, plan: PlannedInvoice, customer_id: str, link: InvoiceLink, gone: QboGone
    ) -> InvoiceLink:
        """A new QBO invoice for a deleted or voided one: the link's next generation, created exactly once
        (a conditional pending link, a request id of its own). A voided invoice stays in QBO as it is."""
        previous = str(link.qbo_doc_number or link.qbo_invoice_id)
        self.record(
            "copy",
            Outcome.WARNING,
            f"QBO invoice {previous} was {gone.value} in QBO; creating a new one",
            qbo_invoice_id=link.qbo_invoice_id,
        )
        self.replaced = (previous, gone)
        generation = link.generation + 1
        fresh = link.model_copy(
            update={
                "state": LinkState.PENDING,
                "generation": generation,
                "create_request_id": request_id(
                    self.ctx.tenant_id, self.realm, self.invoice.id, "create", generation
                ),
                "customer_id": customer_id,
                "content_hash": plan.content_hash,
                "reported_hash": None,
                "qbo_fingerprint": None,
                "qbo_total": None,
                "qbo_gone": None,
                "conflict_since": None,
            }
        )
        self.ports.mappings.begin_create(fresh, replaces=link)
        self.link = fresh
        return self.create_once(plan, customer_id, fresh, first_attempt=True)

    def open_conflict(self, plan: PlannedInvoice, link: InvoiceLink, current: qbo.Invoice) -> CopyResult:
        """A bookkeeper changed the invoice in QBO: nothing is overwritten; the admin decides."""
        conflict = InvoiceConflict(
            tenant_id=self.ctx.tenant_id,
            realm_id=self.realm,
            invoice_id=self.invoice.id,
            invoice_number=self.invoice.number,
            qbo_invoice_id=str(link.qbo_invoice_id),
            qbo_doc_number=current.DocNumber,
            detected_at=self.ports.clock(),
            qbo_sync_token=str(current.SyncToken),
            qbo_fingerprint=fingerprint(current),
            qbo_total=current.TotalAmt,
            onedesk_total=self.invoice.total,
            onedesk_content_hash=plan.content_hash,
            differences=differences(current, plan.body, self.invoice.total),
        )
        # The record first: a crash before the link is marked only means the next copy finds it again.
        self.ports.mappings.save_conflict(conflict)
        self.save(link.model_copy(update={"conflict_since": conflict.detected_at, "reported_hash": None}))
        reason = f"changed in QuickBooks Online since the last copy ({conflict.differences}); not overwritten"
        self.record("copy", Outcome.CONFLICT, reason, qbo_invoice_id=link.qbo_invoice_id)
        self.tell("warning", self.conflict_message())
        return CopyResult(Outcome.CONFLICT, reason, link.qbo_invoice_id)

    def conflict_waiting(self, link: InvoiceLink) -> CopyResult:
        """A conflict is open: no QBO request until the admin decides (they may overwrite from OneDesk,
        which copies the invoice as it is then)."""
        self.tell("warning", self.conflict_message())
        return CopyResult(
            Outcome.CONFLICT, "waiting for the admin's decision on a conflict", link.qbo_invoice_id
        )

    def conflict_message(self) -> str:
        if self.command.action is InvoiceAction.SEND:
            return f"{CONFLICT_MESSAGE} It was not sent either: send it again once that is decided."
        return CONFLICT_MESSAGE

    def read_current(self, qbo_id: str) -> qbo.Invoice | None:
        """QBO's invoice as it is now; None when it was deleted."""
        try:
            result = self.ports.qbo.read(qbo.Invoice, qbo_id)
        except QboNotFound:
            return None
        self.saw(result.intuit_tid, None)
        return result.entity

    def sparse_update(self, plan: PlannedInvoice, qbo_id: str, sync_token: str) -> QboResult[qbo.Invoice]:
        result = self.ports.qbo.sparse_update(
            qbo.Invoice,
            qbo_id,
            sync_token,
            plan.body.payload(),
            request_id=request_id(self.realm, qbo_id, "update", plan.content_hash, sync_token),
        )
        self.saw(result.intuit_tid, result.request_id)
        return result

    def find_by_marker(self, customer_id: str) -> qbo.Invoice | None:
        where = (
            [eq("DocNumber", self.invoice.number)]
            if self.ctx.company.custom_txn_numbers
            else [eq("CustomerRef", customer_id)]
        )
        result = self.ports.qbo.query(qbo.Invoice, where)
        self.saw(result.intuit_tid, None)
        tag = marker(self.invoice.id)
        # A voided invoice keeps our marker (QBO only prepends "Voided"): it is the one being replaced.
        return next(
            (found for found in result.entity if tag in (found.PrivateNote or "") and not is_voided(found)),
            None,
        )

    def done_link(
        self, link: InvoiceLink, entity: qbo.Invoice, content_hash: str, *, updated: bool = False
    ) -> InvoiceLink:
        """``updated``: QBO will announce this write as an Invoice "updated" event, ours to ignore (a
        create is announced as "created", which never carries payment news)."""
        self.written = entity
        return link.model_copy(
            update={
                "state": LinkState.DONE,
                "qbo_invoice_id": entity.Id,
                "qbo_doc_number": entity.DocNumber,
                "sync_token": entity.SyncToken,
                "content_hash": content_hash,
                "synced_modified_at": self.invoice.modified_at,
                "invoice_number": self.invoice.number,
                "qbo_fingerprint": fingerprint(entity),
                "qbo_total": entity.TotalAmt,
                "echo_expected_at": written_at(entity) if updated else None,
            }
        )

    def save(self, link: InvoiceLink) -> None:
        self.ports.mappings.save_link(link)
        self.link = link

    # ------------------------------------------------------------------------------------ OneDesk side
    def tell(self, level: MessageLevel, text: str) -> bool:
        message = SyncMessage(level=level, text=text, at=self.ports.clock())
        return tell_unless_shown(self.ports.onedesk, self.command, self.invoice.sync_message, message)

    def total_warning(self, plan: PlannedInvoice, link: InvoiceLink) -> str | None:
        """QBO's total after our last write against OneDesk's (with QBO's own tax when its Automated Sales
        Tax computed it in this copy's write)."""
        automated_tax = None
        if plan.qbo_computes_tax and self.written is not None:
            detail = self.written.TxnTaxDetail
            automated_tax = (detail.TotalTax if detail else None, plan.expected_tax)
        return total_mismatch(
            self.invoice.number, self.invoice.total, link.qbo_total, automated_tax=automated_tax
        )

    def report(self, plan: PlannedInvoice, link: InvoiceLink, how: WriteOutcome) -> InvoiceLink:
        """Tag the OneDesk invoice and show the outcome, once per content (our own write-back bumps the
        invoice's modification time; without this guard it would come back as a change, forever). An
        explicit copy of unchanged content says so ("already up to date")."""
        told = link.reported_hash == plan.content_hash
        if how == "unchanged" and told:
            return link  # nothing changed, nothing new to say: no write anywhere
        warnings = list(plan.warnings)
        if (mismatch := self.total_warning(plan, link)) is not None:
            warnings.append(mismatch)
        name = link.qbo_doc_number or link.qbo_invoice_id
        total = link.qbo_total if link.qbo_total is not None else plan.expected_total
        if how == "up-to-date":
            text = (
                f"Already up to date in QuickBooks Online as invoice {name} (total {total}): "
                "nothing changed since the last copy."
            )
            self.record("copy", Outcome.UNCHANGED, f"already up to date; QBO invoice {name} checked")
        elif self.replaced is not None:
            text = (
                f"Copied to QuickBooks Online as new invoice {name} (total {total}); invoice "
                f"{self.replaced[0]} had been {self.replaced[1].value} there."
            )
        else:
            text = f"Copied to QuickBooks Online as invoice {name} (total {total})."
        if not told:
            self.ports.onedesk.set_qbo_reference(
                self.invoice.id,
                QboReference(
                    realm_id=link.realm_id,
                    qbo_invoice_id=str(link.qbo_invoice_id),
                    qbo_doc_number=link.qbo_doc_number,
                    copied_at=self.ports.clock(),
                ),
            )
        level: Literal["info", "warning"] = "warning" if warnings else "info"
        if self.tell(level, " ".join((text, *warnings))) and warnings and how == "changed":
            self.record("copy", Outcome.WARNING, " ".join(warnings), qbo_invoice_id=link.qbo_invoice_id)
        if not told:
            link = link.model_copy(update={"reported_hash": plan.content_hash})
            self.save(link)
        return link

    def refuse(self, reason: str) -> CopyResult:
        if self.tell("error", f"Not copied to QuickBooks Online: {reason}"):
            self.record("copy", Outcome.REFUSED, reason)
        link = self.link
        if link is not None and link.state is LinkState.DONE and link.reported_hash is not None:
            # OneDesk now shows the refusal: the next successful copy must say so, even if unchanged.
            self.save(link.model_copy(update={"reported_hash": None}))
        return CopyResult(Outcome.REFUSED, reason)

    def deliver_if_sent(self, link: InvoiceLink) -> CopyResult:
        if self.command.action is not InvoiceAction.SEND:
            return CopyResult(Outcome.DONE, qbo_invoice_id=link.qbo_invoice_id)
        if self.command.source == "poller" and link.auto_send_declined:
            # The admin declined a send that had waited; only a deliberate "Send invoice" emails it now.
            return CopyResult(Outcome.DONE, "an admin chose not to email it", link.qbo_invoice_id)
        invoice = self.invoice
        email = invoice.organization.billing_contact.email
        if not email:
            # QBO may know an email for this customer; without OneDesk's billing email we never send.
            if self.tell("warning", NO_BILLING_EMAIL):
                self.record("send", Outcome.REFUSED, NO_BILLING_EMAIL, qbo_invoice_id=link.qbo_invoice_id)
            return CopyResult(Outcome.REFUSED, NO_BILLING_EMAIL, link.qbo_invoice_id)
        self.ports.deliveries.enqueue(
            DeliveryCommand(
                tenant_id=self.ctx.tenant_id,
                realm_id=link.realm_id,
                invoice_id=invoice.id,
                invoice_number=invoice.number,
                qbo_invoice_id=str(link.qbo_invoice_id),
                send_to=email,
                request_id=self.command.request_id,
                requested_at=self.command.requested_at,
            )
        )
        return CopyResult(Outcome.DONE, qbo_invoice_id=link.qbo_invoice_id)


def tell_unless_shown(
    onedesk: OneDeskPort, command: InvoiceCommand, shown: SyncMessage | None, message: SyncMessage
) -> bool:
    """Show ``message`` on the OneDesk invoice unless it already ``shown`` the same text: every write bumps
    the invoice's modification time, so repeating a message would come back through the poller forever.
    Resumed work carries the snapshot it was parked with, older than what OneDesk shows now: it writes."""
    if (
        command.source != "parked"
        and shown is not None
        and (shown.level, shown.text)
        == (
            message.level,
            message.text,
        )
    ):
        return False
    onedesk.set_sync_message(command.invoice_id, message)
    return True


def _gone(current: qbo.Invoice | None) -> QboGone | None:
    if current is None:
        return QboGone.DELETED
    return QboGone.VOIDED if is_voided(current) else None


def _edited_in_qbo(current: qbo.Invoice, link: InvoiceLink) -> bool:
    """Content differs from what our last write left. Links written before fingerprints were kept have
    none: their edits cannot be told from payments, so they are overwritten as before (and fingerprinted)."""
    return link.qbo_fingerprint is not None and fingerprint(current) != link.qbo_fingerprint


def _refuse_other_capitals(what: str, name: str, found: Sequence[tuple[str, bool]]) -> None:
    """QBO may answer ``=`` ignoring capitals: a name that matches only so is explained, not created."""
    if any(existing == name for existing, _ in found):
        return
    for existing, active in found:
        if existing.casefold() == name.casefold():
            problem = same_name_problem(what, name, existing, active=active)
            if problem is not None:
                raise CopyRefused(problem)


def _new_customer(invoice: Invoice) -> qbo.Customer:
    """P11/P12: the organization name, plus the billing contact's name and email, only at creation."""
    contact = invoice.organization.billing_contact
    given, family = _split_name(contact.name)
    return qbo.Customer(
        DisplayName=invoice.organization.name,
        CompanyName=invoice.organization.name[:100],
        GivenName=given,
        FamilyName=family,
        PrimaryEmailAddr=qbo.EmailAddress(Address=contact.email) if contact.email else None,
    )


def _split_name(full_name: str | None) -> tuple[str | None, str | None]:
    if not full_name or not full_name.strip():
        return None, None
    given, _, family = full_name.strip().rpartition(" ")
    return (given[:100] or None, family[:100]) if given else (family[:100], None)


def _name_of(entity: qbo.Customer | qbo.Item) -> str:
    return entity.DisplayName if isinstance(entity, qbo.Customer) else entity.Name
