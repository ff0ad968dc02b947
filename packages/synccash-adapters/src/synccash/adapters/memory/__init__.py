"""In-memory implementations of every core port: for tests and the embedded mode."""
