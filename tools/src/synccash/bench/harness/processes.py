"""Processes of a benchmark: free ports, spawning and stopping, readiness, CPU and memory.

Every number comes from /proc (Linux), so a benchmark measures each role's own CPU and
resident memory, not this process's view of it.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import httpx

#: Bytecode of the processes a benchmark starts (the tree itself stays free of .pyc files).
PYCACHE: Final = Path(tempfile.gettempdir()) / "synccash-bench-pycache"

_TICKS: Final = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def synccash_executable() -> str:
    """The `synccash` CLI of this environment (as an operator would start it)."""
    exe = Path(sys.executable).parent / "synccash"
    return str(exe) if exe.exists() else (shutil.which("synccash") or "synccash")


def spawn(command: Sequence[str], env: dict[str, str] | None, log: Path) -> subprocess.Popen[bytes]:
    """Start `command` in its own session, stdout and stderr appended to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            list(command),
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM its whole session, SIGKILL after `timeout`; returns once it has exited."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def wait_http(
    url: str, process: subprocess.Popen[bytes], log: Path | None = None, timeout: float = 60
) -> None:
    """Poll `url` until it answers below 500; SystemExit (with the log's tail) if `process` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = f"; log:\n{log.read_text()[-3000:]}" if log is not None else ""
            raise SystemExit(f"{url}: process exited{tail}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def children(pid: int) -> list[int]:
    """Direct child processes (uvicorn's worker processes)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        return [int(p) for p in path.read_text().split()]
    except FileNotFoundError:
        return []


def family(pid: int) -> list[int]:
    """The process and its direct children."""
    return [pid, *children(pid)]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _status_kb(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except FileNotFoundError:
        pass
    return 0


def peak_rss_mb(pid: int) -> float:
    """Peak resident set (VmHWM) of one process, in MB; 0 when it is gone."""
    return _status_kb(pid, "VmHWM:") / 1024


def rss_mb(pid: int) -> float:
    """Resident set (VmRSS) of one process now, in MB; 0 when it is gone."""
    return _status_kb(pid, "VmRSS:") / 1024


def children_cpu() -> float:
    """CPU seconds of this process's waited-for children (e.g. a finished load generator)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load_average() -> str:
    """/proc/loadavg's first three numbers."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so a benchmark's processes are stopped, not orphaned."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
