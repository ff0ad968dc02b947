"""The engine room: hand-written performance pieces that stand in for well-known libraries.

Each module says what it replaces, the measurement that justified it, and how to switch
it off. Nothing is imported here, so using one engine does not load the others.

- `synccash.adapters.engines.http1`: the provider HTTP/1.1 client (instead of httpx's
  default httpcore transport);
- `synccash.adapters.engines.resp`: one pipelined RESP connection per process for the hot
  Redis commands (instead of redis-py's pooled connections);
- `synccash.adapters.engines.group`: group commit and group read on PostgreSQL
  (instead of one round trip and one commit per unit of work);
- `synccash.adapters.engines.pgfast`: the one-statement PostgreSQL writes and reads, each
  compiled once (instead of SQLAlchemy's per-table statements and per-call compilation).
"""
