"""SyncCash domain core: pure, typed, no I/O. Talks to the world only through `ports`."""
