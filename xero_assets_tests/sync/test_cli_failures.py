"""Done-when of "when something goes wrong": the real CLI, as a subprocess against the sandbox, for each failure a
person meets. Each case asserts the exit code and the LAST line of the output (what a person reads), that no
traceback reached the terminal, that nothing already stored was lost (every API still equals the sandbox's books)
and that the datasets were built where a run happened.

One small sandbox for the module, one organisation per case (faults are aimed at that tenant only), and one
baseline: every organisation synced in-process into one warehouse, copied per case. The CLI runs of all cases go
at once in a thread pool (they are subprocesses), so the module costs about as long as its slowest case.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from xero_assets import catalog, sandbox_connect
from xero_assets.defs.partitions import TENANT_PARTITIONS_NAME
from xero_assets.sandbox.server import SandboxHandle, running_sandbox
from xero_assets.store.db import make_engine
from xero_assets.store.tokens import TokenStore, xero_tokens
from xero_assets.store.warehouse import Warehouse
from xero_assets.sync import sync_tenant
from xero_assets.xero.client import XeroClient
from xero_assets_tests.sync.conftest import WINDOW_S, Synced, assert_matches_truth, fast_config, fast_limits

CLI = str(Path(sys.executable).with_name("xero-assets"))
ROLES = ("setup", "report_404", "bad_json", "bad_field", "null_list", "removed", "refused", "day_limit")


@dataclass
class World:
    sandbox: SandboxHandle
    root: Path
    key: str
    tenants: dict[str, str]  # role -> tenant id
    names: dict[str, str]  # tenant id -> organisation name
    base: Path  # the baseline warehouse (every tenant synced), copied per case

    def fault(self, role: str, **rule: Any) -> None:
        response = httpx.post(f"{self.sandbox.base_url}/_sandbox/faults", json={"tenant": self.tenants[role], **rule})
        response.raise_for_status()

    def copy(self, name: str) -> Path:
        """A private copy of the baseline warehouse (SQLite's backup API, so WAL contents come along); one made
        already under that name is kept (see `runs`)."""
        target = self.root / f"{name}.db"
        if target.exists():
            return target
        source = sqlite3.connect(self.base)
        copy = sqlite3.connect(target)
        source.backup(copy)
        copy.close()
        source.close()
        return target

    def env(self, db: Path, **extra: str) -> dict[str, str]:
        # Not the runner's COLUMNS/LINES either (xdist's workers have COLUMNS=80): the CLI's output goes to a pipe,
        # so its summary table takes the no-terminal width these assertions read whole API names at.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XERO_", "DAGSTER_HOME", "COLUMNS", "LINES"))}
        env |= sandbox_connect.sandbox_env(self.sandbox.info, f"sqlite:///{db}", self.key)
        return env | {"XERO_ASSETS_MINUTE_SECONDS": str(WINDOW_S), **extra}

    def store(self, db: Path) -> TokenStore:
        config = sandbox_connect.sandbox_app_config(self.sandbox.info)
        return sandbox_connect.open_token_store(config, f"sqlite:///{db}", self.key)


@dataclass
class Ran:
    """One CLI run: its exit code, its whole output (stdout and stderr interleaved) and its warehouse copy."""

    code: int
    output: str
    db: Path
    env: dict[str, str] = field(repr=False)
    seconds: float = 0.0

    @property
    def last_line(self) -> str:
        lines = [line for line in self.output.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def _cli(args: list[str], env: dict[str, str], db: Path, cwd: Path) -> Ran:
    started = time.perf_counter()
    done = subprocess.run(
        [CLI, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900
    )
    return Ran(done.returncode, done.stdout, db, env, time.perf_counter() - started)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("cli_failures")
    with running_sandbox(fast_config(tenants=len(ROLES), size="small")) as sandbox:
        tenants = {role: t["tenant_id"] for role, t in zip(ROLES, sandbox.info["tenants"], strict=True)}
        names = {t["tenant_id"]: t["name"] for t in sandbox.info["tenants"]}
        key = Fernet.generate_key().decode()
        base = root / "base.db"
        store = sandbox_connect.open_token_store(
            sandbox_connect.sandbox_app_config(sandbox.info), f"sqlite:///{base}", key
        )
        connections = {}
        for tenant in tenants.values():  # one consent each, so one case's refresh or revocation touches no other
            [connection] = sandbox_connect.consent(store, tenant_ids=[tenant])
            connections[tenant] = connection
        warehouse = Warehouse(make_engine(f"sqlite:///{base}"))
        warehouse.create()
        client = XeroClient(sandbox.base_url, store, limits=fast_limits())

        def baseline(tenant: str) -> None:
            sync_tenant(client.for_tenant(tenant), warehouse, granted_scopes=connections[tenant].scopes)

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(baseline, [t for role, t in tenants.items() if role != "bad_field"]))
        client.close()
        store.close()
        warehouse.engine.dispose()
        yield World(sandbox, root, key, tenants, names, base)


def _matches_books(world: World, ran: Ran, role: str) -> None:
    """Nothing stored was lost or doubled: every record API of the tenant equals the sandbox's books."""
    warehouse = Warehouse(make_engine(f"sqlite:///{ran.db}"))
    try:
        assert_matches_truth(Synced(world.sandbox, None, None, warehouse), world.tenants[role])  # type: ignore[arg-type]
    finally:
        warehouse.engine.dispose()


def _datasets_rows(db: Path, tenant: str) -> int:
    """Rows of the tenant's datasets (ds_* tables): a dataset run writes them, nothing else does."""
    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            tables = [t for t in sa.inspect(conn).get_table_names() if t.startswith("ds_")]
            return sum(
                int(conn.execute(sa.text(f'SELECT count(*) FROM "{t}" WHERE tenant_id = :t'), {"t": tenant}).scalar())
                for t in tables
            )
    finally:
        engine.dispose()


def _nothing_lost_and_datasets_built(world: World, ran: Ran, role: str) -> None:
    """After a run with a failure: no traceback shown, every API still equals the books, the datasets were built."""
    _no_traceback(ran)
    _matches_books(world, ran, role)
    assert _datasets_rows(ran.db, world.tenants[role]) > 0


def _no_traceback(ran: Ran) -> None:
    assert "Traceback" not in ran.output and 'File "' not in ran.output, ran.output[-3000:]


# ----- the cases: each prepares its warehouse copy and faults, then names its CLI arguments -------------------------

Case = Callable[[World], Ran]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[name] = fn
        return fn

    return register


def _sync(world: World, role: str, *args: str, db: Path | None = None, **env: str) -> Ran:
    db = db or world.copy(role)
    home = world.root / f"home_{role}"
    home.mkdir(exist_ok=True)
    return _cli(["sync", "--tenant", world.tenants[role], *args], world.env(db, **env), db, home)


@case("healthy")
def _healthy(world: World) -> Ran:
    """The setup tenant's datasets are built here, before the setup-error cases copy its warehouse."""
    ran = _sync(world, "setup", db=world.base)
    return ran


@case("report_404")
def _report_404(world: World) -> Ran:
    world.fault("report_404", kind="404", path="Reports/BalanceSheet")
    return _sync(world, "report_404")


@case("bad_json")
def _bad_json(world: World) -> Ran:
    world.fault("bad_json", kind="truncate", mode="json", path="/Invoices$", rate=1.0)
    return _sync(world, "bad_json")


@case("bad_field")
def _bad_field(world: World) -> Ran:
    # count=2: a first sync's day planner probes Invoices (pageSize=1) before reading them; the second answer is
    # the sync's own first page, whose first record then carries the malformed field
    world.fault("bad_field", kind="bad_field", path="/Invoices$", field="Total", value="not-a-number", count=2)
    return _sync(world, "bad_field")


@case("null_list")
def _null_list(world: World) -> Ran:
    world.fault("null_list", kind="null_list", path="/Invoices$", rate=1.0)
    return _sync(world, "null_list", "--full-refresh")


@case("removed")
def _removed(world: World) -> Ran:
    db = world.copy("removed")
    store = world.store(db)
    try:
        connection = store.get_connection(world.tenants["removed"])
        assert connection is not None
        assert store.oauth.delete_connection(store.access_token(connection.tenant_id), connection.connection_id)
    finally:
        store.close()
    return _sync(world, "removed", db=db)


@case("refused")
def _refused(world: World) -> Ran:
    """The access token has expired and the stored refresh token is one Xero no longer knows (superseded or
    revoked), so the refresh is refused with invalid_grant. (Revoking for real would remove every connection of
    the sandbox's one user, and so the other cases' tenants too.)"""
    db = world.copy("refused")
    store = world.store(db)
    try:
        connection = store.get_connection(world.tenants["refused"])
        assert connection is not None and connection.token_id
        expired = (connection.created_at - timedelta(hours=1)).replace(tzinfo=None)
        dead = Fernet(world.key.encode()).encrypt(b"a-refresh-token-xero-no-longer-knows").decode()
        with store.engine.begin() as conn:
            conn.execute(
                xero_tokens.update()
                .where(xero_tokens.c.token_id == connection.token_id)
                .values(expires_at=expired, refresh_token_encrypted=dead)
            )
    finally:
        store.close()
    return _sync(world, "refused", db=db)


@case("day_limit")
def _day_limit(world: World) -> Ran:
    world.fault("day_limit", kind="429", problem="day", retry_after=3 * 3600, path="/Journals", rate=1.0)
    return _sync(world, "day_limit")


@pytest.fixture(scope="module")
def runs(world: World) -> dict[str, Ran]:
    """Every case's CLI run, at once. The healthy run writes into the baseline (the setup tenant's datasets), which
    the setup-error cases copy, so they start when it is done; the faulted cases copy the baseline before it starts
    and run beside it."""
    faulted = [name for name in CASES if name != "healthy"]
    for name in faulted:
        world.copy(name)
    with ThreadPoolExecutor(max_workers=1 + len(faulted) + len(SETUP_CASES)) as pool:
        healthy = pool.submit(CASES["healthy"], world)
        futures = {name: pool.submit(CASES[name], world) for name in faulted}
        done = {"healthy": healthy.result()}
        futures |= {name: pool.submit(fn, world) for name, fn in SETUP_CASES.items()}
        done |= {name: future.result() for name, future in futures.items()}
    return done


# ----- setup errors: refused before anything is written ---------------------------------------------------------


def _setup_sync(world: World, name: str, args: list[str], **env: str) -> Ran:
    db = world.copy(f"setup_{name}")
    home = world.root / f"home_setup_{name}"
    home.mkdir()
    environment = world.env(db, DAGSTER_HOME=str(home)) | env
    for unset in [k for k, v in env.items() if v == ""]:
        environment.pop(unset)
    return _cli(args, environment, db, home)


SETUP_CASES: dict[str, Case] = {
    "unreachable_db": lambda w: _setup_sync(
        w, "unreachable_db", ["sync", "--all"],
        XERO_ASSETS_DATABASE_URL="postgresql+psycopg://xero:secret@127.0.0.1:1/warehouse",
    ),
    "unknown_tenant": lambda w: _setup_sync(w, "unknown_tenant", ["sync", "--tenant", "no-such-tenant"]),
    "unknown_select": lambda w: _setup_sync(
        w, "unknown_select", ["sync", "--tenant", w.tenants["setup"], "--select", "invoices,employees"]
    ),
    "missing_key": lambda w: _setup_sync(w, "missing_key", ["sync", "--all"], XERO_ASSETS_SECRET_KEY=""),
    "wrong_key": lambda w: _setup_sync(
        w, "wrong_key", ["sync", "--all"], XERO_ASSETS_SECRET_KEY=Fernet.generate_key().decode()
    ),
}  # fmt: skip


def _untouched(world: World, ran: Ran) -> None:
    """A refusal showed no traceback and wrote nothing: no partition, no run, no key file; the setup tenant's data
    and datasets remain."""
    _no_traceback(ran)
    home = Path(ran.env["DAGSTER_HOME"])  # also the working directory: no instance storage, no key file, nothing
    assert list(home.iterdir()) == []
    instance = dg.DagsterInstance.from_config(str(home))
    assert instance.get_dynamic_partitions(TENANT_PARTITIONS_NAME) == [] and instance.get_runs() == []
    instance.dispose()
    _matches_books(world, ran, "setup")
    assert _datasets_rows(ran.db, world.tenants["setup"]) > 0


# ----- the tests, one per case -----------------------------------------------------------------------------------


def test_a_healthy_sync_exits_0_and_says_what_synced(world: World, runs: dict[str, Ran]) -> None:
    ran = runs["healthy"]
    tenant = world.tenants["setup"]
    assert ran.code == 0, ran.output[-3000:]
    assert (
        ran.last_line.startswith(f"{world.names[tenant]} ({tenant}): ") and "the datasets were built" in ran.last_line
    )
    _no_traceback(ran)


def test_an_unreachable_database_is_one_line_and_exit_2(world: World, runs: dict[str, Ran]) -> None:
    ran = runs["unreachable_db"]
    assert ran.code == 2, ran.output
    assert ran.last_line.startswith("Error: cannot reach the database postgresql+psycopg://xero:***@127.0.0.1:1/")
    assert "XERO_ASSETS_DATABASE_URL" in ran.last_line and "secret" not in ran.output
    _untouched(world, ran)


def test_an_unknown_tenant_is_refused_before_a_partition_or_run_exists(world: World, runs: dict[str, Ran]) -> None:
    ran = runs["unknown_tenant"]
    assert ran.code == 2, ran.output
    assert ran.last_line == (
        "Error: no connection for tenant 'no-such-tenant': `xero-assets connections` lists the connected "
        "organisations and `xero-assets connect` adds one"
    )
    _untouched(world, ran)


def test_an_unknown_select_name_is_bad_usage(world: World, runs: dict[str, Ran]) -> None:
    ran = runs["unknown_select"]
    assert ran.code == 2, ran.output
    assert ran.last_line.startswith(
        "Error: --select 'employees' cannot be synced (Xero removed the accounting Employees endpoint on 28 April "
        "2026; payroll employees replace it); the APIs that can be: "
    )
    assert "payroll_employees" in ran.last_line
    _untouched(world, ran)


def test_a_missing_secret_key_is_never_replaced_while_tokens_are_stored(world: World, runs: dict[str, Ran]) -> None:
    ran = runs["missing_key"]
    assert ran.code == 2, ran.output
    assert ran.last_line.startswith("Error: XERO_ASSETS_SECRET_KEY is not set and there is no key file at ")
    assert f"tokens of {len(ROLES)} consent(s)" in ran.last_line
    _untouched(world, ran)


def test_a_wrong_secret_key_is_named_as_the_problem(world: World, runs: dict[str, Ran]) -> None:
    ran = runs["wrong_key"]
    assert ran.code == 2, ran.output
    assert ran.last_line.startswith(
        f"Error: XERO_ASSETS_SECRET_KEY cannot decrypt the stored tokens of {len(ROLES)} tenant(s)"
    )
    assert "reconnect them with `xero-assets connect`" in ran.last_line
    _untouched(world, ran)


def _table_statuses(ran: Ran) -> dict[str, str]:
    """{API: status} from the CLI's summary table, whose rows read `│ xero/<api> │ <status> │ ...`."""
    statuses = {}
    for line in ran.output.splitlines():
        cells = [cell.strip() for cell in line.split("│")]
        if len(cells) > 3 and cells[1].startswith("xero/"):
            statuses[cells[1].removeprefix("xero/")] = cells[2]
    return statuses


def _stopped_at_organisation(ran: Ran, because: str) -> None:
    """A tenant-wide stop on the first call (Organisation): the table still lists every API, that one failed and
    each of the others `not started (<the connection's status>)`."""
    statuses = _table_statuses(ran)
    assert set(statuses) == {api.name for api in catalog.SYNCABLE}, ran.output[-3000:]
    assert statuses.pop("organisation") == "failed"
    assert set(statuses.values()) == {f"not started ({because})"}, statuses


def _label(world: World, role: str) -> str:
    tenant = world.tenants[role]
    return f"{world.names[tenant]} ({tenant})"


def test_a_404_on_one_report_is_not_available_for_this_organisation(world: World, runs: dict[str, Ran]) -> None:
    ran = runs["report_404"]
    assert ran.code == 0, ran.output[-3000:]
    assert ran.last_line.startswith(f"{_label(world, 'report_404')}: ")
    assert "skipped: balance_sheet (not available for this organisation (Xero answered 404" in ran.last_line
    assert ran.last_line.endswith("the datasets were built.")
    _nothing_lost_and_datasets_built(world, ran, "report_404")
    state = Warehouse(make_engine(f"sqlite:///{ran.db}")).state(world.tenants["report_404"], "balance_sheet")
    assert state.unavailable_until is not None  # not asked again for a day


def _only_invoices_failed(world: World, ran: Ran, role: str, because: str) -> None:
    """Exit 1 and a last line naming the tenant, the API, the path and what was wrong with Xero's answer."""
    assert ran.code == 1, ran.output[-3000:]
    assert ran.last_line.startswith(
        f"{_label(world, role)}: invoices failed: Unexpected answer from Xero for /api.xro/2.0/Invoices"
    )
    assert because in ran.last_line
    assert ran.last_line.endswith("The other APIs synced and the datasets were built.")
    _nothing_lost_and_datasets_built(world, ran, role)


def test_malformed_json_on_one_api_fails_that_api_only(world: World, runs: dict[str, Ran]) -> None:
    _only_invoices_failed(world, runs["bad_json"], "bad_json", "a truncated or malformed JSON body, 6 times")


def test_a_malformed_field_is_stored_raw_typed_null_and_reported(world: World, runs: dict[str, Ran]) -> None:
    ran = runs["bad_field"]
    tenant = world.tenants["bad_field"]
    assert ran.code == 0, ran.output[-3000:]
    assert ran.last_line.startswith(f"{_label(world, 'bad_field')}: ")
    assert "1 field(s) could not be typed and are NULL, e.g. invoices record " in ran.last_line
    assert "Total = 'not-a-number'" in ran.last_line and ran.last_line.endswith("the datasets were built.")
    _nothing_lost_and_datasets_built(world, ran, "bad_field")
    engine = make_engine(f"sqlite:///{ran.db}")
    with engine.connect() as conn:
        record_id = ran.last_line.split("invoices record ")[1].split(":")[0]
        raw = conn.execute(
            sa.text("SELECT data FROM xero_raw_records WHERE tenant_id = :t AND api = 'invoices' AND record_id = :r"),
            {"t": tenant, "r": record_id},
        ).scalar_one()
        total = conn.execute(
            sa.text("SELECT total, invoicenumber FROM xero_invoices WHERE tenant_id = :t AND id = :r"),
            {"t": tenant, "r": record_id},
        ).one()
    engine.dispose()
    assert '"Total":"not-a-number"' in raw.replace(" ", "")
    assert total[0] is None and total[1]  # the bad field is NULL; the rest of the record is typed


def test_a_null_list_on_a_full_refresh_flags_nothing_deleted(world: World, runs: dict[str, Ran]) -> None:
    # nothing lost: no invoice was flagged deleted in Xero
    _only_invoices_failed(world, runs["null_list"], "null_list", "the key 'Invoices' is null instead of a list")


def test_a_connection_removed_at_xero_stops_the_tenant_at_the_first_403(world: World, runs: dict[str, Ran]) -> None:
    ran = runs["removed"]
    tenant = world.tenants["removed"]
    assert ran.code == 3, ran.output[-3000:]
    assert ran.last_line.startswith(
        f"{_label(world, 'removed')}: Disconnected at Xero. Tenant {tenant} is not connected"
    )
    assert "403 AuthenticationUnsuccessful" in ran.last_line and "`xero-assets connect`" in ran.last_line
    _stopped_at_organisation(ran, "Disconnected at Xero")
    # the first 403 stopped the tenant: no other case meets a 403, so the sandbox answered exactly one
    assert world.sandbox.app_state.stats.snapshot()["by_status"].get("403") == 1
    _nothing_lost_and_datasets_built(world, ran, "removed")
    store = world.store(ran.db)
    try:
        connection = store.get_connection(tenant)
        assert connection is not None and connection.status.label == "Disconnected at Xero"
    finally:
        store.close()
    assert Warehouse(make_engine(f"sqlite:///{ran.db}")).tenant_status()[tenant][0] == "disconnected_at_xero"
    listed = _cli(["connections"], ran.env, ran.db, world.root)
    assert next(line for line in listed.output.splitlines() if tenant in line).count("Disconnected at Xero") == 1
    again = _cli(["sync", "--tenant", tenant], ran.env, ran.db, world.root)  # refused before any call
    assert again.code == 3 and again.last_line.startswith(f"Error: {_label(world, 'removed')}: Disconnected at Xero")


def test_a_refused_refresh_says_to_reconnect(world: World, runs: dict[str, Ran]) -> None:
    ran = runs["refused"]
    assert ran.code == 3, ran.output[-3000:]
    assert ran.last_line.startswith(f"{_label(world, 'refused')}: Needs re-authorization. Xero no longer accepts")
    assert "reconnect it with `xero-assets connect`" in ran.last_line and "5 minutes" not in ran.output
    _stopped_at_organisation(ran, "Needs re-authorization")
    _nothing_lost_and_datasets_built(world, ran, "refused")
    store = world.store(ran.db)  # only the refused tenant left: `sync --all` must not exit 0 (a cron job notices)
    try:
        for tenant in set(world.tenants.values()) - {world.tenants["refused"]}:
            store.mark_removed(tenant)
    finally:
        store.close()
    every = _cli(["sync", "--all"], ran.env, ran.db, world.root)
    assert every.code == 3, every.output[-2000:]
    assert every.last_line.startswith(f"{_label(world, 'refused')}: Needs re-authorization; not synced. Reconnect")


def test_the_day_limit_says_when_to_sync_again(world: World, runs: dict[str, Ran]) -> None:
    ran = runs["day_limit"]
    assert ran.code == 1, ran.output[-3000:]
    assert ran.last_line.startswith(f"{_label(world, 'day_limit')}: Xero answered 429 (day limit reached); ")
    assert "Wait until the day limit resets at " in ran.last_line and " UTC on " in ran.last_line
    statuses = _table_statuses(ran)  # every API listed: each read, skipped or paused until the reset
    assert set(statuses) == {api.name for api in catalog.SYNCABLE}, ran.output[-3000:]
    assert statuses["journals"].startswith("paused until ") and statuses["journals"].endswith("(day limit)")
    _nothing_lost_and_datasets_built(world, ran, "day_limit")


# The first test's setup runs every case's CLI at once: seconds of CPU each, far longer on a loaded machine.
pytestmark = pytest.mark.timeout(1200)
