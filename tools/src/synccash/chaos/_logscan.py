"""Scan our programs' logs for what must never be written down: MSISDNs, tokens, secrets."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from synccash.adapters.settings import VARIABLES

#: A full Ghana MSISDN in international form (233 + 9 digits), not inside a longer token or UUID.
FULL_MSISDN: Final = re.compile(r"(?<![0-9A-Za-z-])\+?233[235]\d{8}(?![0-9A-Za-z])")
#: Any JWT (header and payload are base64url JSON objects).
JWT: Final = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]+")
_SECRET_NAMES: Final = ("_API_KEY", "_SECRET", "SUBSCRIPTION_KEY", "JWT_SECRET_KEY")


def default_secrets() -> tuple[str, ...]:
    """The provider credentials and signing keys of settings.py's defaults."""
    return tuple(
        default for name, (default, _) in VARIABLES.items() if name.endswith(_SECRET_NAMES)
    )


def scan_text(text: str, secrets: Iterable[str] = ()) -> list[str]:
    """What in `text` must not be there (one description per kind and match)."""
    leaks = [f"full MSISDN {m.group(0)[:6]}…" for m in FULL_MSISDN.finditer(text)]
    leaks += [f"bearer token {m.group(0)[:12]}…" for m in JWT.finditer(text)]
    leaks += [f"secret {s[:6]}…" for s in {*default_secrets(), *secrets} if s and s in text]
    return leaks


def scan_logs(paths: Iterable[Path], secrets: Iterable[str] = ()) -> list[str]:
    """Leaks in each log file, as `file: what` lines."""
    found: list[str] = []
    extra = tuple(secrets)
    for path in paths:
        if not path.exists():
            continue
        text = path.read_text(errors="replace")
        found += [f"{path.name}: {leak}" for leak in scan_text(text, extra)]
    return found
