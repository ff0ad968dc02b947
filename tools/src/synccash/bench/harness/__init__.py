"""The shared harness of the benchmarks and the chaos run, one module per job.

- `processes`: free ports, spawning/stopping a process's session, readiness over HTTP,
  CPU seconds and RSS from /proc, the load average.
- `stores`: the throwaway PostgreSQL database (create, migrate, drop, backends, commits)
  and the Redis database of a run.
- `pgbench`: pgbench's rate for an SQL script (the "limit" a benchmark is compared with).
- `stack`: PostgreSQL + Redis + sandboxes + API + K workers as separate processes.
- `load`: the load generator process and `run_batch` (throughput, latency, CPU per role).

`python -m synccash.bench.harness sandbox PORT | load SPEC` runs the harness's own
processes. It is a package, so `synccash bench --list` does not offer it as a benchmark.
"""
