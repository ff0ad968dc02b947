"""SyncCash worker: queue consumers, outbox relay, webhooks and scheduler."""
