"""SyncCash merchant HTTP API (Litestar)."""

from synccash.api.app import create_app, create_app_from_settings
from synccash.api.auth import Principal, Scope, mint_token

__all__ = ["Principal", "Scope", "create_app", "create_app_from_settings", "mint_token"]
