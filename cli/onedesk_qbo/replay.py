"""replay-dlq: move a queue's dead letters back onto the queue, once their cause is fixed.

The messages are shown first (what each is about, the ``error_reason`` a function gave when it
rejected it as malformed, how often it was received) and moved only after confirmation. Each is sent
to the source queue in its own message group, with a fresh deduplication id (its original id may be
within SQS's 5-minute deduplication window), and deleted from the DLQ only once that send succeeded:
an interrupted replay loses nothing, at worst a message is delivered twice, which the functions
absorb (exactly-once effect).
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict

from onedesk_qbo.console import Column, confirm, err, out, print_json, table, text
from onedesk_qbo.queues import (
    MAX_RECEIVE,
    QUEUES,
    DeadLetter,
    MessageSummary,
    QueueAdmin,
    QueueSpec,
    summarize,
)
from qbo_sync import wiring
from qbo_sync.adapters.aws import sqs_client
from qbo_sync.adapters.queues.sqs import SqsFifoQueue

# Held messages stay invisible to everyone else this long; a replay confirmed later than
# HOLD_SECONDS - SAFETY_SECONDS after the preview is refused (the holds may lapse mid-replay).
HOLD_SECONDS = 600
SAFETY_SECONDS = 60
DEFAULT_LIMIT = 500


def replay(
    letters: list[DeadLetter],
    target: SqsFifoQueue,
    delete: Callable[[DeadLetter], None],
    on_moved: Callable[[DeadLetter], None],
) -> int:
    for letter in letters:
        target.publish(letter.body, group_id=letter.group_id, deduplication_id=f"replay-{uuid.uuid4().hex}")
        delete(letter)  # only after the send succeeded
        on_moved(letter)
    return len(letters)


def _columns(spec: QueueSpec) -> tuple[Column[tuple[DeadLetter, MessageSummary]], ...]:
    owner = "tenant" if spec.owner_field == "tenant_id" else "realm"
    return (
        Column("message", lambda row: row[0].message_id),
        Column(owner, lambda row: text(row[1].owner)),
        Column("about", lambda row: text(row[1].subject)),
        Column("action", lambda row: text(row[1].action)),
        Column("receives", lambda row: str(row[0].receive_count)),
        Column("error_reason", lambda row: text(row[0].error_reason)),
        Column("parses", lambda row: "yes" if row[1].problem is None else f"no: {row[1].problem}"),
    )


def _messages(count: int) -> str:
    return f"{count} message" if count == 1 else f"{count} messages"


def _as_json(letter: DeadLetter, summary: MessageSummary) -> dict[str, object]:
    fields = asdict(letter) | asdict(summary)
    del fields["receipt_handle"]
    return fields


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "replay-dlq",
        help="move a queue's dead letters back onto it (preview, then confirm)",
        description="Show the dead letters of QUEUE, then move them back onto QUEUE after confirmation.",
    )
    parser.add_argument("queue", choices=sorted(QUEUES), metavar="QUEUE", help=", ".join(sorted(QUEUES)))
    parser.add_argument(
        "--tenant", help="only this tenant's messages (for qbo-changes: its connected realm's)"
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help="examine at most this many dead letters (default: %(default)s)",
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--json", action="store_true", help="print the preview as JSON")
    parser.set_defaults(run=run)


def _owner_filter(spec: QueueSpec, tenant_id: str | None) -> str | None:
    if tenant_id is None or spec.owner_field == "tenant_id":
        return tenant_id
    connection = wiring.connection_store().get(tenant_id)
    if connection is None:
        raise LookupError(f"tenant {tenant_id} has no QBO connection, so no realm to replay changes of")
    return connection.realm_id


def run(args: argparse.Namespace) -> int:
    spec = QUEUES[args.queue]
    admin = QueueAdmin(sqs_client())
    source_url = spec.url(wiring.settings())
    dlq_url = admin.dead_letter_queue(source_url)
    try:
        owner = _owner_filter(spec, args.tenant)
    except LookupError as missing:
        err.print(str(missing))
        return 1
    held_at = time.monotonic()
    held = admin.hold(dlq_url, args.limit, HOLD_SECONDS)
    rows = [(letter, summarize(spec, letter.body)) for letter in held]
    chosen = [(letter, summary) for letter, summary in rows if owner is None or summary.owner == owner]
    admin.release(
        dlq_url, [letter for letter, summary in rows if owner is not None and summary.owner != owner]
    )
    letters = [letter for letter, _ in chosen]
    pending = list(letters)
    try:
        if args.json:
            print_json({"queue": spec.name, "dead_letters": [_as_json(*row) for row in chosen]})
        elif chosen:
            out.print(table(f"{spec.name}: dead letters", _columns(spec), chosen))
        if not chosen:
            err.print(
                f"{spec.name} has no dead letters" + (f" of tenant {args.tenant}" if args.tenant else "")
            )
            return 0
        if not args.yes and not confirm(f"Move {_messages(len(chosen))} back onto {spec.name}?"):
            err.print("nothing moved")
            return 1
        if time.monotonic() - held_at > HOLD_SECONDS - SAFETY_SECONDS:
            err.print("the preview is too old (its messages may be visible to others again); run it again")
            return 1
        target = SqsFifoQueue(sqs_client(), source_url)
        moved = replay(letters, target, lambda letter: admin.delete(dlq_url, letter), pending.remove)
    finally:
        admin.release(dlq_url, pending)
    err.print(f"moved {_messages(moved)} back onto {spec.name}")
    if max(Counter(letter.group_id for letter in held).values()) >= MAX_RECEIVE:
        err.print("a FIFO queue hands out ten messages of a message group at a time: run it again for more")
    return 0
