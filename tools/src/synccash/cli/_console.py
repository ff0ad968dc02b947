"""The two rich consoles every command prints through (stdout for results, stderr for the rest)."""

from __future__ import annotations

import sys

from rich.console import Console

# Piped or captured output gets wide tables instead of rich's 80-column fallback.
_WIDTH = None if sys.stdout.isatty() else 160

#: Results: tables, JSON, tokens. Scripts read this.
console = Console(highlight=False, soft_wrap=True, width=_WIDTH)
#: Errors, progress bars and hints. Never mixed into results.
err_console = Console(stderr=True, highlight=False, width=_WIDTH)
