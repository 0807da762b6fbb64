"""What happens to a copied invoice afterwards: deleted or voided in QBO, edited in QBO (conflicts), QBO's
total against OneDesk's, and the messages OneDesk shows. QBO requests are counted on every path."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from qbo_sync.domain import qbo
from qbo_sync.domain.audit import Outcome
from qbo_sync.domain.commands import InvoiceAction
from qbo_sync.domain.invoice_state import differences, fingerprint
from qbo_sync.domain.onedesk import Invoice, InvoiceStatus
from qbo_sync.domain.request_ids import request_id
from qbo_sync.ports.qbo import QboDuplicateName, QboTransient, QboValidationError
from qbo_sync.ports.store import LinkState, QboGone, StaleLink
from qbo_sync.usecases.copy_invoice import CONFLICT_MESSAGE, CopyResult
from tests.unit.builders import AT, REALM, TENANT, make_invoice, organization, time_line, us_company
from tests.unit.test_copy_invoice import Harness

LATER = AT + timedelta(hours=1)


def edited() -> Invoice:
    """The invoice after a OneDesk edit: 2 h instead of 1.5 h (240.00)."""
    return make_invoice(time_line(hours="2", amount="240.00"), modified_at=LATER)


def copied(h: Harness, invoice: Invoice | None = None) -> qbo.Invoice:
    h.copy(invoice or make_invoice())
    [created] = h.qbo.rows(qbo.Invoice)
    h.forget_calls()
    return created


def shown(h: Harness, invoice: Invoice) -> Invoice:
    return h.as_onedesk_shows(invoice)


# ------------------------------------------------------------------------------------------ deleted / voided


def test_a_delete_learnt_from_qbo_makes_the_next_explicit_copy_create_without_trying_the_update() -> None:
    h = Harness()
    first = copied(h)
    h.qbo.delete(qbo.Invoice, str(first.Id))
    h.mappings.mark_qbo_invoice_gone(h.link(), QboGone.DELETED)  # what sync_payments does on the event

    result = h.copy(shown(h, make_invoice(modified_at=LATER)), source="api")

    [recreated] = h.qbo.rows(qbo.Invoice)
    assert h.qbo.calls == {"create": 1}
    assert h.qbo.create_request_ids[-1] == request_id(TENANT, REALM, "1003", "create", 1)
    link = h.link()
    assert (link.generation, link.state, link.qbo_invoice_id, link.qbo_gone) == (
        1,
        LinkState.DONE,
        recreated.Id,
        None,
    )
    assert result == CopyResult(Outcome.DONE, qbo_invoice_id=recreated.Id)
    assert h.onedesk.references["1003"].qbo_invoice_id == recreated.Id
    assert h.onedesk.last_message("1003").text == (
        f"Copied to QuickBooks Online as new invoice {recreated.DocNumber} (total 180.00); invoice "
        f"{first.DocNumber} had been deleted there."
    )


def test_the_pollers_echo_of_an_unchanged_deleted_invoice_recreates_nothing() -> None:
    h = Harness()
    first = copied(h)
    h.qbo.delete(qbo.Invoice, str(first.Id))
    h.mappings.mark_qbo_invoice_gone(h.link(), QboGone.DELETED)
    link = h.link()
    saves = h.mappings.saves

    result = h.copy(shown(h, make_invoice(modified_at=LATER)))  # the poller: our message bumped it

    assert result.outcome is Outcome.UNCHANGED
    assert h.qbo.total_calls == 0
    assert h.onedesk.writes == 0
    assert h.mappings.saves == saves
    assert h.link() == link


def test_a_changed_invoice_whose_qbo_invoice_was_deleted_is_recreated_even_from_the_poller() -> None:
    h = Harness()
    first = copied(h)
    h.qbo.delete(qbo.Invoice, str(first.Id))
    h.mappings.mark_qbo_invoice_gone(h.link(), QboGone.DELETED)

    h.copy(edited())

    [recreated] = h.qbo.rows(qbo.Invoice)
    assert [line.Amount for line in recreated.Line] == [Decimal("240.00")]
    assert h.qbo.calls == {"create": 1}


def test_an_explicit_unchanged_copy_finds_the_delete_itself_with_one_read() -> None:
    h = Harness()
    first = copied(h)
    h.qbo.delete(qbo.Invoice, str(first.Id))  # no event seen

    h.copy(make_invoice(modified_at=LATER), source="api")

    assert h.qbo.calls == {"read": 1, "create": 1}
    assert h.link().generation == 1
    assert len(h.qbo.rows(qbo.Invoice)) == 1


def test_a_voided_invoice_stays_and_a_new_one_keeps_the_onedesk_number() -> None:
    h = Harness(us_company(custom_txn_numbers=True))
    first = copied(h)
    h.qbo.void_in_qbo(str(first.Id))

    result = h.copy(make_invoice(modified_at=LATER), source="api")

    voided, new = sorted(h.qbo.rows(qbo.Invoice), key=lambda i: int(str(i.Id)))
    assert voided.Id == first.Id and voided.TotalAmt == Decimal("0.00")  # untouched
    assert new.DocNumber == voided.DocNumber == "INV-0001"  # the OneDesk number, never altered
    assert new.TotalAmt == Decimal("180.00")
    assert h.qbo.calls == {"read": 1, "create": 1}
    assert result.qbo_invoice_id == new.Id
    assert "had been voided there" in h.onedesk.last_message("1003").text


def test_a_changed_copy_of_a_voided_invoice_reads_why_the_update_was_refused_and_recreates() -> None:
    h = Harness()
    first = copied(h)
    h.qbo.void_in_qbo(str(first.Id))

    h.copy(edited())

    assert h.qbo.calls == {"sparse_update": 1, "read": 1, "create": 1}
    assert h.link().generation == 1
    assert h.link().qbo_invoice_id != first.Id


def test_a_duplicate_number_refused_for_the_new_invoice_says_how_to_free_it() -> None:
    h = Harness(us_company(custom_txn_numbers=True))
    first = copied(h)
    h.qbo.void_in_qbo(str(first.Id))
    h.qbo.fail_next(
        "create",
        QboValidationError(
            status=400, code="6140", message="Duplicate Document Number Error", detail="DocNumber=INV-0001"
        ),
    )

    result = h.copy(make_invoice(modified_at=LATER), source="api")

    assert result.outcome is Outcome.REFUSED
    assert result.reason == (
        "QuickBooks Online did not accept number INV-0001 for the new invoice: the voided invoice INV-0001 "
        "keeps that number and this company does not allow duplicate invoice numbers. Give the voided "
        "invoice another number in QuickBooks Online (for example INV-0001-void), then copy again."
    )
    assert h.link().state is LinkState.PENDING  # nothing was created: the next copy creates it


def test_a_crash_after_the_new_generation_was_created_adopts_it_not_the_voided_one() -> None:
    h = Harness(us_company(custom_txn_numbers=True))
    first = copied(h)
    h.qbo.void_in_qbo(str(first.Id))
    h.qbo.fail_next("create", QboTransient(status=504, code=None, message="Gateway Timeout"), performed=True)
    with pytest.raises(QboTransient):
        h.copy(make_invoice(modified_at=LATER), source="api")
    assert (h.link().state, h.link().generation) == (LinkState.PENDING, 1)
    h.forget_calls()

    h.copy(make_invoice(modified_at=LATER), source="api")

    # The marker lookup finds both (same number, same marker) and skips the voided one.
    assert h.qbo.calls == {"query": 1}
    assert len(h.qbo.rows(qbo.Invoice)) == 2
    assert h.link().state is LinkState.DONE
    assert h.link().qbo_invoice_id not in (None, first.Id)


def test_two_workers_recreating_at_once_create_one_invoice() -> None:
    h = Harness()
    first = copied(h)
    h.qbo.delete(qbo.Invoice, str(first.Id))
    h.mappings.mark_qbo_invoice_gone(h.link(), QboGone.DELETED)
    stale = h.link()

    h.copy(make_invoice(modified_at=LATER), source="api")
    with pytest.raises(StaleLink):  # the slower worker still saw generation 0: its retry sees generation 1
        h.mappings.begin_create(stale.model_copy(update={"generation": 1}), replaces=stale)

    assert len(h.qbo.rows(qbo.Invoice)) == 1


# ------------------------------------------------------------------------------------------ conflicts


def bookkeeper_changes_the_amount(h: Harness, invoice: qbo.Invoice) -> qbo.Invoice:
    line = invoice.Line[0].model_copy(update={"Amount": Decimal("200.00"), "Description": "Fixed by Sam"})
    detail = line.SalesItemLineDetail
    assert detail is not None
    line.SalesItemLineDetail = detail.model_copy(update={"Qty": Decimal("1"), "UnitPrice": Decimal("200")})
    return h.qbo.bookkeeper_edits(str(invoice.Id), Line=[line.payload()])


def test_an_edit_in_qbo_is_not_overwritten_but_recorded_as_a_conflict() -> None:
    h = Harness()
    first = copied(h)
    theirs = bookkeeper_changes_the_amount(h, first)

    result = h.copy(edited())

    assert h.qbo.calls == {"sparse_update": 1, "read": 1}  # the stale answer, one read, no overwrite
    assert h.qbo.get(qbo.Invoice, str(first.Id)) == theirs
    assert result.outcome is Outcome.CONFLICT
    [conflict] = h.mappings.conflicts(TENANT, REALM)
    assert (conflict.qbo_sync_token, conflict.qbo_total, conflict.onedesk_total) == (
        "1",
        Decimal("200.00"),
        Decimal("240.00"),
    )
    assert conflict.qbo_fingerprint == fingerprint(theirs)
    assert conflict.differences == "lines, total (QuickBooks Online 200.00, OneDesk 240.00)"
    assert h.link().conflict_since == h.clock()
    assert h.onedesk.last_message("1003").text == CONFLICT_MESSAGE
    assert h.audit.outcomes()[-1] == ("copy", "conflict")


def test_a_payment_or_an_email_moving_the_sync_token_is_not_a_conflict() -> None:
    h = Harness()
    first = copied(h)
    h.qbo.edit_in_qbo(qbo.Invoice, str(first.Id))  # SyncToken only

    result = h.copy(edited())

    assert result.outcome is Outcome.DONE
    assert h.qbo.calls == {"sparse_update": 2, "read": 1}
    assert h.mappings.conflicts(TENANT, REALM) == []


def test_while_a_conflict_waits_copies_call_no_qbo_and_repeat_no_message() -> None:
    h = Harness()
    first = copied(h)
    bookkeeper_changes_the_amount(h, first)
    h.copy(edited())
    h.forget_calls()
    writes = h.onedesk.writes

    result = h.copy(shown(h, edited().model_copy(update={"modified_at": LATER + timedelta(minutes=1)})))
    h.copy(shown(h, edited()), InvoiceAction.SEND, source="api")

    assert result.outcome is Outcome.CONFLICT
    assert h.qbo.total_calls == 0
    assert h.onedesk.writes == writes + 1  # only the send's own message: it was not sent either
    assert h.onedesk.last_message("1003").text.endswith(
        "It was not sent either: send it again once that is decided."
    )
    assert h.deliveries.deliveries == []


def test_an_explicit_copy_of_unchanged_content_finds_an_edit_in_qbo_too() -> None:
    h = Harness()
    first = copied(h)
    bookkeeper_changes_the_amount(h, first)

    result = h.copy(make_invoice(modified_at=LATER), source="api")

    assert result.outcome is Outcome.CONFLICT
    assert h.qbo.calls == {"read": 1}
    [conflict] = h.mappings.conflicts(TENANT, REALM)
    assert conflict.differences == "lines, total (QuickBooks Online 200.00, OneDesk 180.00)"


def test_a_link_without_a_fingerprint_keeps_the_old_behaviour_and_gets_one() -> None:
    h = Harness()
    first = copied(h)
    h.mappings.save_link(h.link().model_copy(update={"qbo_fingerprint": None}))  # written before fingerprints
    bookkeeper_changes_the_amount(h, first)

    result = h.copy(edited())

    assert result.outcome is Outcome.DONE
    assert h.link().qbo_fingerprint == fingerprint(h.qbo.get(qbo.Invoice, str(first.Id)))


# ------------------------------------------------------------------------------------------ totals, messages


def test_qbo_totalling_differently_is_a_warning_on_onedesk_and_in_the_audit() -> None:
    h = Harness()
    h.qbo.extra_total = Decimal("0.01")  # e.g. QBO's tax engine rounding its own way

    h.copy(make_invoice())

    message = h.onedesk.last_message("1003")
    assert message.level == "warning"
    assert message.text.endswith(
        "QuickBooks Online totals invoice INV-0001 at 180.01, OneDesk at 180.00 (difference -0.01); check "
        "the invoice in QuickBooks Online."
    )
    assert h.link().qbo_total == Decimal("180.01")
    assert ("copy", "warning") in h.audit.outcomes()


def test_an_explicit_unchanged_copy_says_already_up_to_date_after_one_read() -> None:
    h = Harness()
    first = copied(h)
    saves = h.mappings.saves

    result = h.copy(shown(h, make_invoice(modified_at=LATER)), source="api")

    assert result == CopyResult(Outcome.DONE, qbo_invoice_id=first.Id)
    assert h.qbo.calls == {"read": 1}
    assert h.onedesk.last_message("1003").text == (
        f"Already up to date in QuickBooks Online as invoice {first.DocNumber} (total 180.00): nothing "
        "changed since the last copy."
    )
    assert h.audit.outcomes() == [("copy", "unchanged")]
    assert h.mappings.saves == saves  # nothing about the link changed


def test_a_stale_refusal_is_replaced_once_the_unchanged_invoice_is_open_again() -> None:
    h = Harness()
    copied(h)
    paid = make_invoice(status=InvoiceStatus.PAID, modified_at=LATER)
    h.copy(paid, source="api")  # refused while Paid
    assert h.onedesk.last_message("1003").level == "error"
    # The payment is deleted in QBO: OneDesk shows it Open again; the poller sees it unchanged.
    reopened = shown(h, make_invoice(modified_at=LATER + timedelta(minutes=1)))
    h.forget_calls()

    h.copy(reopened)

    assert h.qbo.total_calls == 0
    assert h.onedesk.last_message("1003").level == "info"
    assert h.onedesk.last_message("1003").text.startswith("Copied to QuickBooks Online as invoice")


def test_the_same_refusal_seen_again_is_neither_written_nor_audited_again() -> None:
    h = Harness()
    draft = make_invoice(status=InvoiceStatus.DRAFT)
    h.copy(draft)
    h.forget_calls()

    h.copy(shown(h, draft))

    assert h.onedesk.writes == 0
    assert h.audit.records == []


def test_a_customer_name_differing_only_in_capitals_is_explained() -> None:
    h = Harness()
    h.qbo.add(qbo.Customer(DisplayName="GLOBEX"))
    support = h.qbo.add(qbo.Item(Name="Support", Type="Service"))
    h.mappings.link_items(TENANT, REALM, {"Support": str(support.Id)})

    result = h.copy(make_invoice(org=organization(name="Globex")))

    assert result.reason == (
        "QuickBooks Online has a customer named 'GLOBEX', which differs from 'Globex' only in capitals. "
        "QuickBooks Online treats them as the same name, and a copy uses only an exact match: spell them "
        "the same in OneDesk and QuickBooks Online, then copy again."
    )
    assert h.qbo.rows(qbo.Customer) == [h.qbo.rows(qbo.Customer)[0]]  # nothing created
    assert h.qbo.rows(qbo.Invoice) == []


def test_a_service_type_differing_only_in_capitals_is_explained() -> None:
    h = Harness()
    h.qbo.add(qbo.Item(Name="support", Type="Service"))

    result = h.copy(make_invoice())

    assert result.outcome is Outcome.REFUSED
    assert result.reason is not None
    assert result.reason.startswith("QuickBooks Online has a product/service named 'support', which differs")
    assert h.qbo.rows(qbo.Invoice) == []


def test_a_name_held_by_a_vendor_keeps_the_general_reason() -> None:
    h = Harness()
    support = h.qbo.add(qbo.Item(Name="Support", Type="Service"))
    h.mappings.link_items(TENANT, REALM, {"Support": str(support.Id)})
    h.qbo.refused_names["Globex"] = QboDuplicateName(
        status=400, code="6240", message="Duplicate Name Exists Error", detail="a vendor has it"
    )

    result = h.copy(make_invoice())

    assert result.reason is not None
    assert result.reason.startswith("QuickBooks Online already uses the name 'Globex' for another customer")


def test_differences_name_only_what_onedesk_sends() -> None:
    planned = qbo.Invoice(
        CustomerRef=qbo.Ref(value="1"),
        Line=[qbo.Line(DetailType="SalesItemLineDetail", Amount=Decimal("10.00"))],
        TxnDate=AT.date(),
    )
    # QBO filled the due date from the terms and the DocNumber itself: neither is a difference.
    same = planned.model_copy(update={"DueDate": AT.date() + timedelta(days=30), "DocNumber": "1001"})
    assert differences(same, planned, Decimal("10.00")) == "details"
    moved = same.model_copy(update={"TxnDate": AT.date() + timedelta(days=1), "TotalAmt": Decimal("12.00")})
    assert (
        differences(moved, planned, Decimal("10.00"))
        == "dates, total (QuickBooks Online 12.00, OneDesk 10.00)"
    )


def test_the_automatic_send_of_an_unchanged_deleted_invoice_recreates_nothing_and_sends_nothing() -> None:
    h = Harness()
    first = copied(h, make_invoice(status=InvoiceStatus.SENT))
    h.qbo.delete(qbo.Invoice, str(first.Id))
    h.mappings.mark_qbo_invoice_gone(h.link(), QboGone.DELETED)

    sent = make_invoice(status=InvoiceStatus.SENT, modified_at=LATER)
    result = h.copy(shown(h, sent), InvoiceAction.SEND, request="auto-send:1003")

    assert result.outcome is Outcome.UNCHANGED
    assert h.qbo.total_calls == 0
    assert h.deliveries.deliveries == []


def test_a_retry_refused_as_a_duplicate_number_still_says_how_to_free_it() -> None:
    h = Harness(us_company(custom_txn_numbers=True))
    first = copied(h)
    h.qbo.void_in_qbo(str(first.Id))
    h.qbo.fail_next("create", QboTransient(status=503, code=None, message="Service Unavailable"))
    with pytest.raises(QboTransient):
        h.copy(make_invoice(modified_at=LATER), source="api")
    duplicate = QboValidationError(status=400, code="6140", message="Duplicate Document Number Error")
    h.qbo.fail_next("create", duplicate)

    result = h.copy(make_invoice(modified_at=LATER), source="api")

    assert result.reason is not None
    assert result.reason.startswith(
        "QuickBooks Online did not accept number INV-0001 for the new invoice: the voided invoice keeps"
    )
