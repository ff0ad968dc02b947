"""SyncCash adapters: SQL, Redis, provider HTTP clients, settings and bootstrap."""
