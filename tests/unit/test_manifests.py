"""Each workspace member declares exactly the other members it imports (deptry checks the rest).

`synccash` is one namespace shared by the workspace's distributions, so deptry cannot tell
`synccash.core` from `synccash.api`; this test maps each imported subpackage to the member
that ships it and compares that set with the member's `[project] dependencies`.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Workspace member directory -> its distribution name.
MEMBERS = {
    "packages/synccash-core": "synccash-core",
    "packages/synccash-adapters": "synccash-adapters",
    "packages/synccash-client": "synccash-client",
    "services/api": "synccash-api",
    "services/worker": "synccash-worker",
    "tools": "synccash-tools",
}

#: `synccash.<name>` -> the distribution that ships it.
SHIPPED_BY = {
    "core": "synccash-core",
    "adapters": "synccash-adapters",
    "client": "synccash-client",
    "api": "synccash-api",
    "worker": "synccash-worker",
    "cli": "synccash-tools",
    "sandbox": "synccash-tools",
    "bench": "synccash-tools",
    "chaos": "synccash-tools",
}


def imported_members(src: Path) -> set[str]:
    """The distributions whose `synccash.<x>` modules the sources under `src` import."""
    found: set[str] = set()
    for path in src.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                parts = name.split(".")
                if parts[0] == "synccash" and len(parts) > 1:
                    found.add(SHIPPED_BY[parts[1]])
    return found


def declared_members(pyproject: Path) -> set[str]:
    """The `synccash-*` distributions in a member's runtime dependencies."""
    dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    names = {re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0] for spec in dependencies}
    return {name for name in names if name.startswith("synccash-")}


@pytest.mark.parametrize("directory", sorted(MEMBERS))
def test_member_declares_exactly_the_members_it_imports(directory):
    """Imported sibling members == declared sibling members (none missing, none unused)."""
    member = ROOT / directory
    imported = imported_members(member / "src") - {MEMBERS[directory]}
    assert imported == declared_members(member / "pyproject.toml")


def test_every_synccash_subpackage_has_an_owner():
    """A new top-level subpackage must be added to SHIPPED_BY (or this test cannot judge it)."""
    shipped = {
        path.name
        for directory in MEMBERS
        for path in (ROOT / directory / "src" / "synccash").iterdir()
        if path.is_dir() and path.name != "__pycache__"
    }
    assert set(SHIPPED_BY) == shipped


def test_the_image_copies_every_member_manifest_before_syncing():
    """The Dockerfile's dependency layer needs every member's pyproject.toml for `uv sync --locked`."""
    workspace = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["uv"]["workspace"]
    members = {
        path.parent.relative_to(ROOT).as_posix()
        for pattern in workspace["members"]
        for path in ROOT.glob(f"{pattern}/pyproject.toml")
    }
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+)/pyproject\.toml \1/$", dockerfile, flags=re.MULTILINE))
    assert members == copied
    assert set(MEMBERS) == members  # and this test's table knows every member
