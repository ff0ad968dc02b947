"""Child processes of a chaos run: programs we can SIGKILL and restart, and a PostgreSQL we can restart.

Every program runs in its own session with stdout/stderr appended to a log file
under the run directory, so a `kill -9` takes exactly that program down and its
logs survive for the secrets scan.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from attrs import define


@define
class Program:
    """One restartable child process (API, a worker, the sandboxes)."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    log_dir: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    paused: bool = False  # down on purpose (the chaos schedule killed it)

    @property
    def log_path(self) -> Path:
        """Where this program's stdout and stderr go (appended across restarts)."""
        return self.log_dir / f"{self.name}.log"

    def start(self) -> None:
        """Start (or restart) the program."""
        self.starts += 1
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen(  # noqa: S603  (our own programs)
                list(self.argv),
                env=dict(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def kill9(self) -> None:
        """SIGKILL the program's whole session (no graceful shutdown, on purpose)."""
        if self.process is None:
            return
        self.kills += 1
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait, then SIGKILL if needed; the exit code (None if it had to be killed)."""
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            return None


class Postgres(Protocol):
    """The database server of a run: where it is and how to bounce it."""

    @property
    def admin_url(self) -> str:
        """An asyncpg URL to the `postgres` maintenance database."""
        ...

    def restart(self) -> float:
        """Restart the server; seconds it took."""
        ...

    def close(self) -> None:
        """Stop what this run started (nothing for a shared server)."""
        ...


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    found_paths = (str(p) for p in Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    candidates = sorted(found_paths, key=_version_key)
    if not candidates:
        raise RuntimeError(
            f"{name} not found: install PostgreSQL (e.g. apt-get install postgresql)"
        )
    return candidates[-1]


def _version_key(path: str) -> tuple[int, ...]:
    part = path.split("/")[4]
    return tuple(int(p) for p in part.split(".") if p.isdigit())


def _as_postgres_user(argv: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: drop to the `postgres` account when we are root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class PrivatePostgres:
    """A throwaway PostgreSQL instance (initdb in the run directory) that only this run uses.

    Restarting it cannot disturb anyone else's tests on the shared server.
    """

    def __init__(self, directory: Path, port: int) -> None:
        """Create (initdb) and start an instance on 127.0.0.1:`port`."""
        self.directory = directory
        self.port = port
        self.data = directory / "pgdata"
        self.log = directory / "postgres.log"
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres", "postgres")
        self._run(
            [
                _pg_bin("initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        )
        self._ctl("start")

    @property
    def admin_url(self) -> str:
        """The maintenance database URL."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, argv: list[str]) -> None:
        done = subprocess.run(  # noqa: S603  (fixed PostgreSQL programs)
            _as_postgres_user(argv), check=False, capture_output=True, cwd=self.directory
        )
        if done.returncode:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise RuntimeError(f"{Path(argv[0]).name} failed ({done.returncode}): {output}")

    def _ctl(self, action: str, *extra: str) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=300"
        )
        self._run(
            [
                _pg_bin("pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                *extra,
                action,
            ]
        )

    def restart(self) -> float:
        """`pg_ctl restart -m fast`: every client connection is cut."""
        started = time.monotonic()
        self._ctl("restart", "-m", "fast")
        return time.monotonic() - started

    def close(self) -> None:
        """Stop the instance and delete its directory."""
        with contextlib.suppress(RuntimeError, FileNotFoundError):
            self._run([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.directory, ignore_errors=True)


class ClusterPostgres:
    """The machine's PostgreSQL cluster, restarted with `pg_ctlcluster` (disturbs other users)."""

    def __init__(self, admin_url: str, version: str | None = None, name: str = "main") -> None:
        """Use the cluster at `admin_url`; `version` defaults to the newest installed."""
        self._admin_url = admin_url
        self.version = version or _newest_cluster_version()
        self.name = name

    @property
    def admin_url(self) -> str:
        """The maintenance database URL."""
        return self._admin_url

    def restart(self) -> float:
        """`pg_ctlcluster --skip-systemctl-redirect <version> <name> restart`."""
        started = time.monotonic()
        subprocess.run(  # noqa: S603
            [
                shutil.which("pg_ctlcluster") or "/usr/bin/pg_ctlcluster",
                "--skip-systemctl-redirect",
                self.version,
                self.name,
                "restart",
            ],
            check=True,
            capture_output=True,
        )
        return time.monotonic() - started

    def close(self) -> None:
        """Nothing to stop: the cluster is shared."""


def _newest_cluster_version() -> str:
    versions = sorted(
        (p.name for p in Path("/etc/postgresql").iterdir() if p.name[:1].isdigit()),
        key=lambda v: tuple(int(x) for x in v.split(".")),
    )
    if not versions:
        raise RuntimeError("no PostgreSQL cluster under /etc/postgresql")
    return versions[-1]


def freeze(program: Program) -> int | None:
    """SIGSTOP the program's session (a frozen process: its connections stay open, silent);
    the pid it froze, None if it was not running."""
    if not program.alive or program.process is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(program.process.pid, signal.SIGSTOP)
    return program.process.pid


def thaw(program: Program, pid: int) -> bool:
    """SIGCONT the session `freeze` stopped, if that process still runs (not killed since)."""
    if program.process is None or program.process.pid != pid or not program.alive:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGCONT)
    return True


class PrivateRedis:
    """A throwaway Redis server of this run (no persistence), so crashing it disturbs nobody."""

    def __init__(self, directory: Path, port: int) -> None:
        """Start `redis-server` on 127.0.0.1:`port`, its log in `directory`."""
        self.directory = directory
        self.port = port
        directory.mkdir(parents=True, exist_ok=True)
        self.program = Program(
            "redis",
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(directory),
            ],
            dict(os.environ),
            directory,
        )
        self.start()

    @property
    def url(self) -> str:
        """The URL of its database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        self.program.start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.program.alive:
                raise RuntimeError(f"redis-server exited; see {self.program.log_path}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.05)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def crash(self, down_s: float) -> float:
        """`kill -9` the server, keep it down `down_s`, start it again (empty); seconds down."""
        started = time.monotonic()
        self.program.kill9()
        time.sleep(down_s)
        self.start()
        return time.monotonic() - started

    def close(self) -> None:
        """Stop the server and delete its directory."""
        self.program.kill9()
        shutil.rmtree(self.directory, ignore_errors=True)
