"""Checks shared by the deployment-file tests: command lines against the real CLI, served paths."""

from __future__ import annotations

from typing import Any

import typer

from synccash.adapters.bootstrap import wire
from synccash.api.app import create_app
from synccash.cli.main import app

# Typer vendors its own click; find its UsageError through a public subclass.
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")


def resolve(args: list[str]) -> Any:
    """Parse a `synccash …` command line with the real app (options, types and all).

    Returns the leaf command's context; raises UsageError on an unknown command or option
    or a value of the wrong type.
    """
    command: Any = typer.main.get_command(app)
    ctx = command.make_context("synccash", list(args))
    while hasattr(command, "resolve_command"):  # a group: descend into the sub-command
        name, command, rest = command.resolve_command(ctx, [*ctx._protected_args, *ctx.args])
        ctx = command.make_context(name, rest, parent=ctx)
    return ctx


def served_paths() -> set[str]:
    """Every path the API serves (built on in-memory adapters)."""
    litestar_app = create_app(wire())
    return {route.path for route in litestar_app.routes}
