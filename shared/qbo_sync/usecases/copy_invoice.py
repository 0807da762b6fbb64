"""Copy one OneDesk invoice to QBO: match the customer and items, create or update the invoice exactly
once, tell OneDesk, and queue the delivery when the command is a send (PRODUCT.md P5-P16).

Exactly once across crashes (invariant 1): a pending link is written before the create, the create
carries a deterministic ``requestid``, and a create whose outcome is unknown is preceded by a lookup of
the marker our private note carries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

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
    written_total_warning,
)
from qbo_sync.domain.matching import customer_name_problem, item_name_problem, required_item_names
from qbo_sync.domain.onedesk import Invoice, QboReference, SyncMessage
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
)
from qbo_sync.ports.store import AuditLog, InvoiceLink, LinkState, MappingStore, TaxCatalogStore
from qbo_sync.usecases.invoice_taxes import choose_invoice_tax

NO_BILLING_EMAIL = (
    "Copied to QuickBooks Online but not sent: add a billing contact email under "
    "Customer Organization > Invoice Preferences, then send again."
)
_BATCH_MAX = 30


class DeliveryQueue(Protocol):
    def enqueue(self, delivery: DeliveryCommand) -> None: ...


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
    """One copy of one invoice: holds what it learns from QBO for the audit trail."""

    def __init__(self, command: InvoiceCommand, invoice: Invoice, ctx: CopyContext, ports: CopyPorts) -> None:
        self.command, self.invoice, self.ctx, self.ports = command, invoice, ctx, ports
        self.realm = ctx.company.realm_id
        self.intuit_tid: str | None = None
        self.request_id: str | None = None
        self.written: qbo.Invoice | None = None  # what QBO answered to our last create or update

    def run(self) -> CopyResult:
        invoice, ports = self.invoice, self.ports
        if (refusal := status_refusal(invoice)) is not None:
            return self.refuse(refusal)  # before any QBO call: a Draft must not create a customer
        link = ports.mappings.invoice_link(self.ctx.tenant_id, self.realm, invoice.id)
        if link and link.synced_modified_at and invoice.modified_at < link.synced_modified_at:
            # Invariant 2: an older snapshot than the one already synced is acknowledged and skipped.
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
        except CopyRefused as refused:
            return self.refuse(refused.reason)

        if link and link.state is LinkState.DONE and link.content_hash == plan.content_hash:
            return self.deliver_if_sent(self.report(plan, link, changed=False))
        try:
            if link and link.state is LinkState.DONE:
                link = self.update_or_recreate(plan, customer_id, link)
            else:
                link = self.create_once(plan, customer_id, link)
        except (QboValidationError, QboNotFound) as error:
            # Permanent: retrying the same content cannot succeed. (A 610 here means a customer or item we
            # reference was made inactive in QBO.) Throttling, 5xx and auth errors propagate and are retried.
            return self.refuse(f"QuickBooks Online refused the invoice: {error}")
        return self.deliver_if_sent(self.report(plan, link, changed=True))

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
        customer_id = mappings.customer_id(tenant, self.realm, organization.id)
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
        return next((c.Id for c in result.entity if c.DisplayName == name and c.Id), None)

    def find_items(self, names: Sequence[str]) -> dict[str, str]:
        result = self.ports.qbo.query(qbo.Item, [in_("Name", names)])
        self.saw(result.intuit_tid, None)
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
        we must not use (an inactive record, a vendor or an employee): refuse with a clear reason."""
        name = _name_of(entity)
        if isinstance(entity, qbo.Customer):
            found, what = self.find_customer(name), "customer"
        else:
            found, what = self.find_items([name]).get(name), "product/service"
        if found is not None:
            return found
        raise CopyRefused(
            f"QuickBooks Online already uses the name {name!r} for another {what}, vendor or employee, or "
            f"for an inactive one, so the {what} could not be created. Rename one of them or make it "
            "active in QuickBooks Online, then copy again."
        ) from taken

    # ------------------------------------------------------------------------------------ invoice
    def create_once(self, plan: PlannedInvoice, customer_id: str, link: InvoiceLink | None) -> InvoiceLink:
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
            entity = self.create(plan, link)
        else:
            # A previous attempt's outcome is unknown: find what it may have created before creating.
            entity = self.find_by_marker(link.customer_id) or self.create(plan, link)
        done = self.done_link(link, entity, link.content_hash or plan.content_hash)
        self.ports.mappings.save_link(done)
        self.record(
            "copy",
            Outcome.DONE,
            f"created QBO invoice {entity.DocNumber or entity.Id}",
            qbo_invoice_id=entity.Id,
            sync_token_after=entity.SyncToken,
        )
        if done.content_hash != plan.content_hash:
            return self.update_or_recreate(plan, customer_id, done)
        return done

    def create(self, plan: PlannedInvoice, link: InvoiceLink) -> qbo.Invoice:
        result = self.ports.qbo.create(plan.body, request_id=link.create_request_id)
        self.saw(result.intuit_tid, result.request_id)
        return result.entity

    def update_or_recreate(self, plan: PlannedInvoice, customer_id: str, link: InvoiceLink) -> InvoiceLink:
        qbo_id, sync_token = str(link.qbo_invoice_id), str(link.sync_token)
        try:
            try:
                result = self.sparse_update(plan, qbo_id, sync_token)
            except QboStaleObject:
                # Someone edited it in QBO since our last write (QBO-FACTS §3): re-read, retry once.
                sync_token = str(self.ports.qbo.read(qbo.Invoice, qbo_id).entity.SyncToken)
                result = self.sparse_update(plan, qbo_id, sync_token)
        except QboNotFound:
            # Deleted in QBO (P17: not propagated), yet a re-copy must work: a new invoice, a new link.
            self.record(
                "copy", Outcome.WARNING, f"QBO invoice {qbo_id} was deleted in QBO; creating a new one"
            )
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
                }
            )
            self.ports.mappings.begin_create(fresh, replaces=link)
            return self.create_once(plan, customer_id, fresh)
        done = self.done_link(link, result.entity, plan.content_hash)
        self.ports.mappings.save_link(done)
        self.record(
            "copy",
            Outcome.DONE,
            f"updated QBO invoice {result.entity.DocNumber or qbo_id}",
            qbo_invoice_id=qbo_id,
            sync_token_before=sync_token,
            sync_token_after=result.entity.SyncToken,
        )
        return done

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
        return next((found for found in result.entity if tag in (found.PrivateNote or "")), None)

    def done_link(self, link: InvoiceLink, entity: qbo.Invoice, content_hash: str) -> InvoiceLink:
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
            }
        )

    # ------------------------------------------------------------------------------------ OneDesk side
    def report(self, plan: PlannedInvoice, link: InvoiceLink, *, changed: bool) -> InvoiceLink:
        """Tag the OneDesk invoice and show the outcome, once per content (our own write-back bumps the
        invoice's modification time; without this guard it would come back as a change, forever)."""
        invoice, ports = self.invoice, self.ports
        if not changed and link.reported_hash == plan.content_hash:
            if link.synced_modified_at is None or invoice.modified_at > link.synced_modified_at:
                link = link.model_copy(update={"synced_modified_at": invoice.modified_at})
                ports.mappings.save_link(link)
            self.record("copy", Outcome.UNCHANGED, "nothing changed since the last copy; QBO not called")
            return link
        now = ports.clock()
        ports.onedesk.set_qbo_reference(
            invoice.id,
            QboReference(
                realm_id=link.realm_id,
                qbo_invoice_id=str(link.qbo_invoice_id),
                qbo_doc_number=link.qbo_doc_number,
                copied_at=now,
            ),
        )
        written = self.written
        total = written.TotalAmt if written and written.TotalAmt is not None else plan.expected_total
        text = f"Copied to QuickBooks Online as invoice {link.qbo_doc_number or link.qbo_invoice_id}"
        text += f" (total {total})."
        warnings = [*plan.warnings]
        if written is not None and (difference := written_total_warning(invoice, plan, written)):
            warnings.append(difference)
        if warnings:
            text = " ".join((text, *warnings))
            self.record("copy", Outcome.WARNING, " ".join(warnings))
        level: Literal["info", "warning"] = "warning" if warnings else "info"
        ports.onedesk.set_sync_message(invoice.id, SyncMessage(level=level, text=text, at=now))
        link = link.model_copy(update={"reported_hash": plan.content_hash})
        ports.mappings.save_link(link)
        return link

    def refuse(self, reason: str) -> CopyResult:
        self.ports.onedesk.set_sync_message(
            self.invoice.id,
            SyncMessage(
                level="error", text=f"Not copied to QuickBooks Online: {reason}", at=self.ports.clock()
            ),
        )
        self.record("copy", Outcome.REFUSED, reason)
        return CopyResult(Outcome.REFUSED, reason)

    def deliver_if_sent(self, link: InvoiceLink) -> CopyResult:
        if self.command.action is not InvoiceAction.SEND:
            return CopyResult(Outcome.DONE, qbo_invoice_id=link.qbo_invoice_id)
        invoice = self.invoice
        email = invoice.organization.billing_contact.email
        if not email:
            # P10: QBO may know an email for this customer; without OneDesk's billing email we never send.
            self.ports.onedesk.set_sync_message(
                invoice.id, SyncMessage(level="warning", text=NO_BILLING_EMAIL, at=self.ports.clock())
            )
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
