"""SyncCash merchant HTTP API (Litestar).

`create_app(container)` serves an already-built container; `create_app_from_settings()`
is the uvicorn factory whose lifespan runs `bootstrap(settings)`; `mint_token()` makes
merchant bearer tokens; `configure_logging()` sends the JSON request log to stderr.
"""

from synccash.api.app import create_app, create_app_from_settings
from synccash.api.auth import Principal, Scope, mint_token
from synccash.api.observability import configure_logging

__all__ = [
    "Principal",
    "Scope",
    "configure_logging",
    "create_app",
    "create_app_from_settings",
    "mint_token",
]
