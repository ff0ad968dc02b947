"""Redis adapters: task queue (Streams), rate limiter and locks, provider health, event stream."""
