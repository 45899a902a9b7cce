"""Shared fixtures: a fresh database on both warehouse backends for every storage test.

Every storage test runs twice, on SQLite and on PostgreSQL, each in its own database or schema so runs never see
each other's rows. PostgreSQL comes from XERO_ASSETS_TEST_POSTGRES_URL (default: the local test server). Without a
reachable server the PostgreSQL half is skipped with the reason, except under CI=true, where it fails the run.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

POSTGRES_URL = os.environ.get("XERO_ASSETS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
OPENAPI_DIR = Path(__file__).parent / "openapi"


@functools.cache
def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it can (probed once per test session)."""
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:  # any failure to connect means "not available here"
        return f"PostgreSQL at {POSTGRES_URL} is not reachable ({type(exc).__name__}: {str(exc).splitlines()[0]})"
    return None


def skip_or_fail(problem: str | None, needed: str, hint: str = "") -> None:
    """Nothing when `problem` is None; else skip with the reason (locally) or fail (CI=true, where it must run)."""
    if problem is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true requires {needed}: {problem}")
    pytest.skip(f"{problem}{hint}")


def require_postgres() -> None:
    """Skip (locally) or fail (CI=true) when PostgreSQL is unavailable."""
    skip_or_fail(postgres_problem(), "PostgreSQL", "; set XERO_ASSETS_TEST_POSTGRES_URL to run the PostgreSQL half")


def _with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose default schema is new and empty, dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'create schema "{schema}"'))
    try:
        yield _with_search_path(POSTGRES_URL, schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty warehouse database: SQLite always, PostgreSQL when configured."""
    return request.getfixturevalue(f"{request.param}_url")


# The longest test files, longest first (seconds measured on a loaded 2-core machine). Under xdist's loadfile
# scheduling (addopts in pyproject.toml, with --no-loadscope-reorder so the collection order is kept) each file runs
# whole on one worker, taken in collection order: started first, they overlap the many short files instead of
# being the tail of the run.
HEAVIEST_FIRST = (
    "web/test_browser.py",
    "sync/test_dagster_dev.py",
    "sync/test_cli_failures.py",
    "sync/test_demo.py",
    "sync/test_ground_truth.py",
    "sync/test_resilience.py",
    "sandbox_books/test_reconciliation.py",
    "sandbox_books/test_schemas.py",
)


def _weight(item: pytest.Item) -> int:
    path = item.path.relative_to(Path(__file__).parent).as_posix()
    return HEAVIEST_FIRST.index(path) if path in HEAVIEST_FIRST else len(HEAVIEST_FIRST)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Heaviest files first (a stable sort: every other file keeps its place and its tests their order); and tag
    each PostgreSQL-backed test in its user_properties, which reach xdist's controller with every report."""
    items.sort(key=_weight)
    for item in items:
        if item.get_closest_marker("postgres") is not None:
            item.user_properties.append(("backend", "postgres"))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say plainly how many PostgreSQL-backed tests ran, so a CI log proves they were not skipped.

    Read from the reports' user_properties, not the items: with xdist this runs in the controller, which never
    runs a test but receives every worker's reports. Errors count too: under CI=true an unreachable server fails
    the tests' setup, which pytest files under "error", not "failed"."""
    counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
    for outcome in counts:
        for report in terminalreporter.stats.get(outcome, []):
            if ("backend", "postgres") in [tuple(p) for p in getattr(report, "user_properties", ())]:
                counts[outcome] += 1
    if any(counts.values()):
        terminalreporter.write_line(
            f"PostgreSQL-backed tests: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped, {counts['error']} errors ({POSTGRES_URL})"
        )
