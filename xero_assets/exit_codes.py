"""The CLI's exit codes, one meaning each, so a cron job or CI step can tell "try later" from "fix a setting" from
"someone must reconnect an organisation". Documented in README.md and `xero-assets --help`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from xero_assets.store.crypto import SecretKeyError
from xero_assets.xero.config import ConfigError
from xero_assets.xero.errors import ReauthorizationRequired, TenantNotConnected, XeroError

OK = 0  # every selected API synced (or was skipped for a stated reason)
API_FAILED = 1  # some API failed or is paused by the day limit; the others synced and the datasets were built
BAD_USAGE = 2  # bad usage or configuration: nothing was written
RECONNECT = 3  # a tenant needs reconnecting (consent refused, connection removed at Xero)


class ConfigProblem(Exception):
    """A setting is wrong (database, secret key): nothing was written; the message says which and what to do."""


class CommandFailed(click.ClickException):
    """The one line a person can act on, with the exit code that classifies it."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, (ConfigError, SecretKeyError, ConfigProblem)):
        return BAD_USAGE
    if isinstance(exc, (ReauthorizationRequired, TenantNotConnected)):
        return RECONNECT
    return API_FAILED


@contextmanager
def explained_errors() -> Iterator[None]:
    """Our errors already say what to do: show them as the command's one last line with their exit code."""
    try:
        yield
    except (XeroError, ConfigError, SecretKeyError, ConfigProblem) as exc:
        raise CommandFailed(str(exc), exit_code_for(exc)) from exc


def report(lines: list[tuple[str, int]]) -> int:
    """Print each tenant's (line, exit code), the worst last (it is what a person reads first), and return the worst
    code: reconnecting beats a failed API, which beats success."""
    rank = {OK: 0, API_FAILED: 1, RECONNECT: 2}
    ordered = sorted(lines, key=lambda item: rank.get(item[1], 3))
    for text, _ in ordered:
        print(text, flush=True)  # plain print: rich would wrap the line at the terminal's width
    return ordered[-1][1] if ordered else OK
