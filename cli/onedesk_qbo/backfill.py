"""backfill: copy a tenant's existing Open OneDesk invoices to QBO, e.g. those from before it connected.

It enqueues the same copy commands the poller would (``command_for``, deduplicated with the poller's
own), so the copies run in the ordinary copy function, exactly once, under the realm's request budget.
Three things are its own:

- **Copy only.** Open invoices are copied; a backfill never emails a customer (Sent invoices are left
  to the poller and to "Send invoice"), whatever the tenant's trigger policy.
- **Resumable.** After each batch a cursor (the last enqueued invoice's modification time) is stored
  under the tenant, named after ``--since``; running the same command again resumes from it.
- **Paced.** Commands are enqueued no faster than the copies they trigger can run within a share of
  the realm's QBO budget (``QBO_MAX_PER_MINUTE`` per ``QBO_RATE_WINDOW_SECONDS``), leaving the rest
  to live copies, sends and payments. Assumed cost: an invoice never copied makes up to
  ``--requests-per-invoice`` QBO requests (default 4: customer, two new items, the invoice, as a first
  copy with a new customer and two new products/services does); one already copied makes at most 1
  (a sparse update; none when unchanged).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from onedesk_qbo.console import err, out, when
from qbo_sync import wiring
from qbo_sync.config import Settings
from qbo_sync.domain.commands import InvoiceCommand
from qbo_sync.domain.onedesk import Invoice
from qbo_sync.domain.tenant import TriggerPolicy
from qbo_sync.ports.onedesk import OneDeskError, OneDeskPort
from qbo_sync.ports.queues import CommandQueue
from qbo_sync.ports.store import TenantStore
from qbo_sync.usecases.ingress import ENQUEUE_BATCH, command_for, latest_changes
from qbo_sync.usecases.invoice_commands import blocked_reason

BACKFILL_POLICY = TriggerPolicy(copy_when_opened=True, send_when_marked_sent=False)
DEFAULT_SINCE = datetime(2000, 1, 1, tzinfo=UTC)  # i.e. every invoice the account has
DEFAULT_REQUESTS_PER_INVOICE = 4
DEFAULT_BUDGET_SHARE = 0.5
ALREADY_COPIED_REQUESTS = 1


def cursor_name(since: datetime) -> str:
    return f"backfill:{since.astimezone(UTC).isoformat()}"


def requests_per_second(settings: Settings, budget_share: float) -> float:
    """The share of the realm's QBO budget a backfill may use, in requests a second."""
    return settings.qbo_max_per_minute / settings.qbo_rate_window_seconds * budget_share


def estimated_requests(invoice: Invoice, requests_per_invoice: int) -> int:
    return ALREADY_COPIED_REQUESTS if invoice.qbo_reference else requests_per_invoice


class Pacer:
    """A token bucket: on average ``rate`` tokens a second, at most ``burst`` at once (it starts full,
    so a small backfill is not delayed at all)."""

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self._rate, self._burst, self._clock, self._sleep = rate, burst, clock, sleep
        self._tokens, self._at = burst, clock()

    def take(self, tokens: float) -> None:
        """Wait until ``tokens`` are available (more than the burst: a full bucket), then spend them."""
        self._refill()
        wanted = min(tokens, self._burst)
        if self._tokens < wanted:
            self._sleep((wanted - self._tokens) / self._rate)
            self._refill()
        self._tokens -= tokens

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now


@dataclass(frozen=True)
class Pending:
    invoice: Invoice
    command: InvoiceCommand


@dataclass(frozen=True)
class BackfillPlan:
    tenant_id: str
    cursor_name: str
    start: datetime  # --since, or the stored cursor when resuming
    resumed: bool
    pending: list[Pending]  # oldest change first


def plan_backfill(
    tenant_id: str,
    onedesk: OneDeskPort,
    tenants: TenantStore,
    since: datetime,
    now: datetime,
    *,
    restart: bool = False,
) -> BackfillPlan:
    name = cursor_name(since)
    cursor = None if restart else tenants.get_watermark(tenant_id, name)
    start = max(since, cursor) if cursor else since
    pending = [
        Pending(invoice, command)
        for invoice in latest_changes(onedesk.list_invoices_modified_since(start))
        if (command := command_for(invoice, BACKFILL_POLICY, tenant_id, now)) is not None
    ]
    return BackfillPlan(tenant_id, name, start, cursor is not None and cursor > since, pending)


def run_backfill(
    plan: BackfillPlan,
    tenants: TenantStore,
    queue: CommandQueue,
    pacer: Pacer,
    *,
    requests_per_invoice: int,
    on_batch: Callable[[int], None],
) -> int:
    """Enqueue the plan's commands, ten at a time, paced; the cursor follows each batch."""
    for start in range(0, len(plan.pending), ENQUEUE_BATCH):
        batch = plan.pending[start : start + ENQUEUE_BATCH]
        pacer.take(sum(estimated_requests(p.invoice, requests_per_invoice) for p in batch))
        queue.enqueue_many([p.command for p in batch])
        tenants.set_watermark(plan.tenant_id, plan.cursor_name, batch[-1].invoice.modified_at)
        on_batch(len(batch))
    return len(plan.pending)


def parse_since(value: str) -> datetime:
    """An ISO date or date-time; without a zone, UTC."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _positive_count(value: str) -> int:
    count = int(value)
    if count < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return count


def _positive_share(value: str) -> float:
    share = float(value)
    if not 0 < share <= 1:
        raise argparse.ArgumentTypeError("a share of the budget is in (0, 1]")
    return share


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "backfill",
        help="copy a tenant's existing Open invoices to QBO (resumable, paced)",
        description="Enqueue a copy of every Open OneDesk invoice of the tenant modified since --since, "
        "paced within a share of the realm's QBO budget. Run the same command again to resume.",
    )
    parser.add_argument("--tenant", required=True)
    parser.add_argument(
        "--since",
        type=parse_since,
        default=DEFAULT_SINCE,
        help="ISO date or date-time (default: all invoices)",
    )
    parser.add_argument("--restart", action="store_true", help="ignore the stored cursor of this --since")
    parser.add_argument(
        "--requests-per-invoice",
        type=_positive_count,
        default=DEFAULT_REQUESTS_PER_INVOICE,
        help="QBO requests a never-copied invoice is assumed to cost (default: %(default)s)",
    )
    parser.add_argument(
        "--budget-share",
        type=_positive_share,
        default=DEFAULT_BUDGET_SHARE,
        help="share of the realm's QBO request budget the backfill may use (default: %(default)s)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    tenant = wiring.tenant_store().get_tenant(args.tenant)
    if tenant is None:
        err.print(f"no tenant {args.tenant}")
        return 1
    connection = wiring.connection_store().get(tenant.tenant_id)
    settings = (
        wiring.tenant_store().get_settings(tenant.tenant_id, connection.realm_id) if connection else None
    )
    if (blocked := blocked_reason(connection, settings)) is not None:
        # Its copies would only be parked, then resumed all at once, unpaced, when the admin fixes it.
        err.print(f"tenant {tenant.tenant_id} cannot copy yet: {blocked}; nothing enqueued")
        return 1
    try:
        plan = plan_backfill(
            tenant.tenant_id,
            wiring.onedesk_for(tenant),
            wiring.tenant_store(),
            args.since,
            wiring.utc_now(),
            restart=args.restart,
        )
    except OneDeskError as error:
        err.print(f"OneDesk could not list the invoices: {error}")
        return 1
    rate = requests_per_second(wiring.settings(), args.budget_share)
    total_requests = sum(estimated_requests(p.invoice, args.requests_per_invoice) for p in plan.pending)
    origin = f"resuming from {when(plan.start)}" if plan.resumed else f"since {when(plan.start)}"
    burst = ENQUEUE_BATCH * args.requests_per_invoice  # one batch of never-copied invoices at once
    duration = timedelta(seconds=round(max(0, total_requests - burst) / rate))
    err.print(
        f"tenant {tenant.tenant_id}: {len(plan.pending)} Open invoices to copy ({origin}), at most "
        f"{rate * 60:.0f} QBO requests/min (about {duration} to enqueue)"
    )
    with Progress(
        TextColumn("enqueuing copies"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
    ) as progress:
        task = progress.add_task("backfill", total=len(plan.pending))
        enqueued = run_backfill(
            plan,
            wiring.tenant_store(),
            wiring.invoice_command_queue(),
            Pacer(rate, burst),
            requests_per_invoice=args.requests_per_invoice,
            on_batch=lambda count: progress.advance(task, count),
        )
    out.print(f"enqueued {enqueued} copy commands for tenant {tenant.tenant_id}")
    return 0
