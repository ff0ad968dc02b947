"""Rendering helpers shared by commands: JSON for machines, rich tables for people."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import JustifyMethod
from rich.table import Table

from synccash.cli._console import console


def print_json(value: Any) -> None:
    """Print a JSON document on stdout (plain, no markup, sorted keys)."""
    console.print(json.dumps(value, indent=2, sort_keys=True, default=str), markup=False)


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Iterable[str] = (),
) -> Table:
    """A rich table; the `numeric` columns are right-aligned."""
    right = set(numeric)
    result = Table(title=title, title_justify="left")
    for name in columns:
        justify: JustifyMethod = "right" if name in right else "left"
        result.add_column(name, justify=justify)
    for row in rows:
        result.add_row(*("" if cell is None else str(cell) for cell in row))
    return result
