"""Reports are re-read for what changed: a document changed in a past month has that month (and, for month-end
reports, every later one) re-read and equal to Xero's, while untouched months cost nothing; the periodic full re-read
catches a change no cursor sees (Xero's quiet edit of a part-paid invoice's DueDate); aged-by-contact reports stay
within their per-sync budget and leave the contacts it left out to the periodic re-read. All over real HTTP against
the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from xero_assets import catalog, reports
from xero_assets.store import typed
from xero_assets.store.warehouse import raw_records
from xero_assets.sync import _report_document
from xero_assets_tests.sync.conftest import Synced, private_synced
from xero_assets_tests.sync.test_datasets import READS, build_and_check, failures, inputs_for

NAMES = ("organisation", "contacts", "invoices", "payments", "journals", "trial_balance", "profit_and_loss")
APIS = [catalog.get(name) for name in (*NAMES, "aged_receivables_by_contact")]
# These and what the ledger datasets and their checks read.
WITH_DATASETS = [catalog.get(name) for name in sorted({*NAMES, *(api.name for api in READS)})]


@pytest.fixture
def synced(sqlite_url: str) -> Iterator[Synced]:
    with private_synced(sqlite_url, tenants=1, size="small") as synced:
        yield synced


def stored(synced: Synced, tenant: str, api: str, period: str) -> dict[str, Any]:
    t = raw_records.c
    query = sa.select(t.data).where(t.tenant_id == tenant, t.api == api, t.record_id == period)
    with synced.warehouse.engine.connect() as conn:
        return json.loads(conn.execute(query).scalar_one())


def xeros(synced: Synced, tenant: str, api: str, request: reports.ReportRequest) -> dict[str, Any]:
    """What Xero answers now for the same request, as the sync stores it."""
    response = synced.tenant(tenant).get_json(catalog.get(api).endpoint.full_path, request.params)
    return {**_report_document(response), "Covers": request.covers_label()}


def by_api(results: list[Any]) -> dict[str, Any]:
    return {r.api: r for r in results}


def test_a_change_in_a_past_month_rereads_that_month_and_later_ones_equal_to_xero_and_the_checks_pass(
    synced: Synced,
) -> None:
    tenant = next(iter(synced.connections))
    today = datetime.now(UTC).date()
    first = by_api(synced.sync(tenant, WITH_DATASETS))
    assert first["trial_balance"].calls == reports.MONTHS_BACK + 1

    span = reports.months(today)
    past = span[-5]  # four months before the current one
    inv = typed.TABLES["xero_invoices"].c
    query = sa.select(inv.id).where(
        inv.tenant_id == tenant,
        inv.type == "ACCREC",
        inv.status == "AUTHORISED",
        inv.amountdue > 0,
        inv.date >= date(*past, 1),
        inv.date <= reports.month_end(*past),
    )
    with synced.warehouse.engine.connect() as conn:
        invoice_id = conn.execute(query.limit(1)).scalar_one()
    change = synced.control(
        "POST", "mutate", json={"tenant_id": tenant, "action": "edit", "api": "invoices", "id": invoice_id}
    )
    assert change["journals"], "the edit posted a reversal and a new journal in the invoice's month"

    second = by_api(synced.sync(tenant, WITH_DATASETS))
    later = span.index(past)
    assert second["trial_balance"].calls == len(span) - later  # that month and every month end after it
    assert second["profit_and_loss"].calls == 1  # one call holds all 13 months
    assert second["trial_balance"].counts.updated >= 1
    for year, month in span[later:]:
        [request] = [r for r in reports.plan("trial_balance", today) if r.period == f"{year:04d}-{month:02d}"]
        assert stored(synced, tenant, "trial_balance", request.period) == xeros(
            synced, tenant, "trial_balance", request
        )
    untouched = span[0]
    assert stored(synced, tenant, "trial_balance", f"{untouched[0]:04d}-{untouched[1]:02d}")["Covers"] == {
        "From": date(*untouched, 1).isoformat(),
        "To": reports.month_end(*untouched).isoformat(),
    }

    for journals in (True, False):  # the datasets, from journals and from the reports alone, still tie out
        _, outcomes = build_and_check(inputs_for(synced, tenant, journals))
        assert outcomes and not failures(outcomes), failures(outcomes)

    third = by_api(synced.sync(tenant, WITH_DATASETS))
    assert third["trial_balance"].calls == 1  # nothing changed: the current month only


def test_the_periodic_full_reread_catches_a_quiet_edit_no_cursor_sees(
    synced: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XERO_ASSETS_AGED_CONTACTS_PER_SYNC", "100000")
    tenant = next(iter(synced.connections))
    today = datetime.now(UTC).date()
    synced.sync(tenant, APIS)
    change = synced.control("POST", "mutate", json={"tenant_id": tenant, "action": "edit_quiet", "api": "invoices"})
    assert change["bumped"] is False
    [invoice_id] = change["ids"]
    inv = typed.TABLES["xero_invoices"].c
    with synced.warehouse.engine.connect() as conn:
        contact = conn.execute(sa.select(inv.contactid).where(inv.id == invoice_id)).scalar_one()
    [request] = reports.plan("aged_receivables_by_contact", today, [contact])

    quiet = by_api(synced.sync(tenant, APIS))
    assert quiet["aged_receivables_by_contact"].calls == 0  # no invoice was bumped: no contact's balance moved
    assert quiet["invoices"].counts.updated == 0  # If-Modified-Since cannot see it either
    before = stored(synced, tenant, "aged_receivables_by_contact", contact)
    assert before != xeros(synced, tenant, "aged_receivables_by_contact", request)

    monkeypatch.setenv("XERO_ASSETS_REPORTS_FULL_REREAD_DAYS", "0")  # as when a week has passed
    due = by_api(synced.sync(tenant, APIS))
    assert due["aged_receivables_by_contact"].calls == len(synced.warehouse.outstanding_contacts(tenant, "ACCREC"))
    assert due["trial_balance"].calls == reports.MONTHS_BACK + 1
    assert stored(synced, tenant, "aged_receivables_by_contact", contact) == xeros(
        synced, tenant, "aged_receivables_by_contact", request
    )


def test_aged_reports_stay_within_their_budget_and_leave_the_rest_to_the_periodic_reread(
    synced: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XERO_ASSETS_AGED_CONTACTS_PER_SYNC", "3")
    tenant = next(iter(synced.connections))
    first = by_api(synced.sync(tenant, APIS))
    outstanding = synced.warehouse.outstanding_contacts(tenant, "ACCREC")
    assert len(outstanding) > 6
    assert first["aged_receivables_by_contact"].calls == 3
    second = by_api(synced.sync(tenant, APIS))
    assert second["aged_receivables_by_contact"].calls == 0  # nothing changed: the unread wait for the re-read

    monkeypatch.setenv("XERO_ASSETS_REPORTS_FULL_REREAD_DAYS", "0")  # as when a week has passed
    due = by_api(synced.sync(tenant, APIS))
    assert (due["aged_receivables_by_contact"].calls, due["aged_receivables_by_contact"].counts.inserted) == (3, 3)


def test_choose_contacts_reads_changed_first_then_the_stalest_and_never_the_unread_before_the_reread() -> None:
    now = datetime(2026, 6, 30, 12, tzinfo=UTC)
    week = timedelta(days=7)
    outstanding = ["a", "b", "c", "d"]
    # First read: every outstanding contact is due, within the budget, in a stable order.
    assert reports.choose_contacts(outstanding, [], {}, now, budget=3, stale_after=week) == ["a", "b", "c"]
    # A day later, nothing changed: "d" (left out by the budget) is not re-tried on every routine sync.
    read = {c: now - timedelta(days=1) for c in "abc"}
    assert reports.choose_contacts(outstanding, [], read, now, budget=3, stale_after=week) == []
    # A contact whose invoices changed is read, outstanding or paid off since ("z" was read, owes nothing now).
    changed = reports.choose_contacts(outstanding, ["z", "b", "q"], {**read, "z": now}, now, 3, week)
    assert changed == ["b", "z"]  # "q" owes nothing and was never read: nothing to refresh
    # A week after the first read: the never-read first, then the oldest reads.
    read = {"a": now - timedelta(days=9), "b": now - timedelta(days=8), "c": now - timedelta(days=1)}
    assert reports.choose_contacts(outstanding, [], read, now, budget=2, stale_after=week) == ["d", "a"]
