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


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A rich table; numeric-looking columns are right-aligned by the caller's choice of header."""
    result = Table(title=title, title_justify="left")
    for name in columns:
        numeric = name.endswith((" ", "(GHS)", "%", "ms", "score", "count"))
        justify: JustifyMethod = "right" if numeric else "left"
        result.add_column(name.strip(), justify=justify)
    for row in rows:
        result.add_row(*("" if cell is None else str(cell) for cell in row))
    return result
