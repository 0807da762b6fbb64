"""Output: tables for people (rich), JSON for scripts (``--json``), questions on the terminal."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

NONE = "—"

# Results on stdout; progress, questions and errors on stderr, so `--json` output stays parseable.
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@dataclass(frozen=True)
class Column[Row]:
    """One column of a table: its header and how a row shows in it."""

    header: str
    cell: Callable[[Row], str]


def table[Row](title: str, columns: Sequence[Column[Row]], rows: Iterable[Row]) -> Table:
    view = Table(title=title, title_justify="left", show_lines=False)
    for column in columns:
        view.add_column(column.header, overflow="fold")
    for row in rows:
        view.add_row(*(column.cell(row) for column in columns))
    return view


def when(moment: datetime | None) -> str:
    """A moment in UTC to the second, as an operator compares it with logs."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else NONE


def text(value: object) -> str:
    return NONE if value is None or value == "" else str(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_json_default) + "\n")


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def confirm(question: str) -> bool:
    """Ask on the terminal; anything but yes (or no answer at all) is no."""
    err.print(f"{question} [y/N] ", end="")
    answer = sys.stdin.readline()
    return answer.strip().lower() in {"y", "yes"}
