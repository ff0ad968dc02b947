"""SyncCash merchant HTTP API (Litestar)."""
