"""Exit codes and the one place where errors become messages (no tracebacks for user errors).

- 0: success
- 1: a runtime failure (the API or the database is unreachable, a subprocess failed)
- 2: a usage or validation error (bad option, bad amount/MSISDN/wallet spec, bad setting)
"""

from __future__ import annotations

from typing import Any, Final, NoReturn

import httpx
import typer
from rich.markup import escape
from typer.core import TyperArgument, TyperGroup, TyperOption

from synccash.adapters.sql import DatabaseError
from synccash.cli._console import err_console
from synccash.core.errors import DomainError

EXIT_OK: Final = 0
EXIT_RUNTIME: Final = 1
EXIT_USAGE: Final = 2


class CliError(Exception):
    """A failure the user should read, not debug: printed as one line, then exit."""

    def __init__(self, message: str, *, exit_code: int = EXIT_RUNTIME) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def usage_error(message: str) -> NoReturn:
    """Stop with a usage/validation message and exit code 2."""
    raise CliError(message, exit_code=EXIT_USAGE)


def _fail(message: str, exit_code: int) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(exit_code)


class ErrorMappingGroup(TyperGroup):
    """The root command group: maps every known error to a message and an exit code.

    Sub-commands run inside the root group's `invoke`, so this is the single
    place where domain errors, settings errors, database and HTTP transport
    failures are turned into exit codes. An error raised inside a task group
    arrives wrapped in an exception group of one: it is unwrapped first.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """The root group over the whole command tree; every value gets a readable name."""
        super().__init__(*args, **kwargs)
        readable_metavars(self)

    def invoke(self, ctx: Any) -> Any:
        """Run the command line, mapping errors to exit codes."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            failure = user_failure(_only_error(exc))
            if failure is None:
                raise
            _fail(*failure)


def readable_metavars(command: Any) -> None:
    """Name each option's and argument's value in help as GNU tools do (`--port PORT`).

    Typer would show the Python type (`<int range>`, `<list[str]>`); choices keep their list.
    """
    for param in getattr(command, "params", ()):
        if param.metavar is not None or param.type_descriptor.is_choice:
            continue
        if isinstance(param, TyperOption) and not param.is_flag:
            longest = max(param.opts, key=len).lstrip("-")
            param.metavar = longest.replace("-", "_").upper()
        elif isinstance(param, TyperArgument):
            param.metavar = (param.name or "value").upper()
            # Typer appends the Python type to an argument's name in help; the name says enough
            param.display_type_rich = _no_type_shown  # type: ignore[method-assign]
    for child in getattr(command, "commands", {}).values():
        readable_metavars(child)


def _no_type_shown(ctx: Any) -> None:
    """No `<type>` after an argument's name in help."""


def _only_error(exc: BaseException) -> BaseException:
    """The one error inside (nested) exception groups of one, else `exc` itself."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def user_failure(exc: BaseException) -> tuple[str, int] | None:
    """The one-line message and exit code for an error the user should read; None for a bug."""
    if isinstance(exc, CliError):
        return exc.message, exc.exit_code
    if isinstance(exc, DomainError):  # includes SettingsError (a ValidationError)
        return f"{exc.message} [{exc.code}]", EXIT_USAGE
    if isinstance(exc, DatabaseError):  # unreachable, or a schema not migrated yet
        return str(exc), EXIT_RUNTIME
    if isinstance(exc, httpx.TransportError):
        return f"cannot reach the SyncCash API: {exc}", EXIT_RUNTIME
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}", EXIT_RUNTIME
    return None
