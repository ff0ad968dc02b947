"""The core stays pure: no wall-clock reads, no environment, no I/O modules.

import-linter (in `make lint`) forbids I/O imports; this test catches what an import
contract cannot see, such as `datetime.now()` or `open()` calls.
"""

import ast
from pathlib import Path

CORE = Path(__file__).parents[3] / "packages" / "synccash-core" / "src" / "synccash" / "core"
# `clock.now()` (the Clock port) is fine; `datetime.now()` and friends are not.
AMBIENT_OWNERS = {"datetime", "date", "time", "os", "environ"}
AMBIENT_CALLS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter", "getenv", "get"}
BUILTIN_IO = {"open", "input", "print"}
FORBIDDEN_MODULES = {
    "os",
    "sys",
    "time",
    "socket",
    "subprocess",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "redis",
    "httpx",
    "litestar",
    "typer",
    "uvicorn",
    "requests",
    "urllib",
    "pathlib",
    "logging",
}


def _modules():
    files = sorted(CORE.rglob("*.py"))
    assert files, f"no core modules found under {CORE}"
    return files


def test_core_imports_no_io_modules():
    """No module of the core imports an I/O library."""
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN_MODULES
            ]
    assert offenders == []


def test_core_never_reads_the_clock_or_environment():
    """Time and configuration come through ports and arguments, never ambient reads."""
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                if func.value.id in AMBIENT_OWNERS and func.attr in AMBIENT_CALLS:
                    offenders.append(f"{path.name}:{node.lineno} {func.value.id}.{func.attr}()")
            elif isinstance(func, ast.Name) and func.id in BUILTIN_IO:
                offenders.append(f"{path.name}:{node.lineno} {func.id}()")
    assert offenders == []
