"""The ageing's control-account check compares two sources read at different times: the documents and the ledger
(journals). Here, on a real warehouse (SQLite, and PostgreSQL when configured) filled through the sync's own writer:
the ageing is 50.00 more than the control account. With the ledger read after the documents last changed that is a
real discrepancy and the check fails naming it; with an invoice changed after the ledger was read (what a webhook run
that reads only invoices leaves) it passes as "not compared", saying when each was read in the organisation's time;
once the ledger is read again the same difference fails again; a ledger never read is not compared either."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

from xero_assets.datasets import checks_documents
from xero_assets.datasets.spec import CheckOutcome, DatasetInputs, Organisation
from xero_assets.store.warehouse import SyncState, Warehouse
from xero_assets.xero import dates

ORG = Organisation("t1", "Acme Pty", "AUD", "AU", 30, 6, timezone="Australia/Sydney")  # AEDT (UTC+11) in December
AS_AT = date(2026, 12, 1)
CONTROL = next(c for c in checks_documents.CHECKS if c.name == "equals_receivables_control_account")
AGEING = pd.DataFrame({"contact_id": ["c1"], "contact_name": ["Bayside Club"], "total_due": [Decimal("150.00")],
                       "as_at": [AS_AT]})  # fmt: skip


def _utc(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 1, hour, minute)  # naive UTC, the warehouse's convention


def _ms(moment: datetime) -> str:
    return dates.format_ms(moment.replace(tzinfo=UTC))


def _write(wh: Warehouse, api: str, record: dict[str, Any], id_field: str, read_at: datetime) -> None:
    """One record as the sync writes it, with the API's read finished at `read_at`."""
    wh.write_records(ORG.tenant_id, api, [record], id_field=id_field, updated_field="UpdatedDateUTC",
                     seen_at=read_at, state=SyncState(last_completed=read_at))  # fmt: skip


def _invoice(changed_at: datetime) -> dict[str, Any]:
    return {"InvoiceID": "i1", "Type": "ACCREC", "Status": "AUTHORISED", "InvoiceNumber": "INV-1",
            "Contact": {"ContactID": "c1"}, "AmountDue": 150.0, "Total": 150.0,
            "UpdatedDateUTC": _ms(changed_at)}  # fmt: skip


@pytest.fixture
def warehouse(database_url: str) -> Warehouse:
    wh = Warehouse(sa.create_engine(database_url))
    wh.create()
    account = {"AccountID": "a1", "Code": "610", "Name": "Accounts Receivable", "Type": "CURRENT",
               "SystemAccount": "DEBTORS", "UpdatedDateUTC": _ms(_utc(1))}  # fmt: skip
    _write(wh, "accounts", account, "AccountID", _utc(8))
    journal = {"JournalID": "j1", "JournalNumber": 1, "JournalDate": _ms(_utc(0)), "SourceType": "ACCREC",
               "JournalLines": [{"JournalLineID": "l1", "AccountID": "a1", "NetAmount": 100.0}]}  # fmt: skip
    _write(wh, "journals", journal, "JournalID", _utc(10))
    return wh


def _check(wh: Warehouse) -> CheckOutcome:
    inputs = DatasetInputs(wh.engine, ORG, AS_AT, frozenset({"journals", "invoices"}))
    return CONTROL.run(inputs, AGEING, {})


def test_a_ledger_older_than_the_invoices_is_not_compared_and_a_current_one_fails_on_the_difference(
    warehouse: Warehouse,
) -> None:
    _write(warehouse, "invoices", _invoice(changed_at=_utc(9)), "InvoiceID", _utc(9, 30))  # before the ledger's read
    current = _check(warehouse)
    assert (current.passed, current.compared) == (False, True)
    assert current.summary == "1 totals differ from Xero"
    row = current.differences.iloc[0]
    assert (row["account"], row["period"], row["difference"]) == ("610 Accounts Receivable", "as at 2026-12-01",
                                                                   Decimal("50.00"))  # fmt: skip

    _write(warehouse, "invoices", _invoice(changed_at=_utc(10, 2)), "InvoiceID", _utc(10, 5))  # after it
    stale = _check(warehouse)
    assert (stale.passed, stale.compared, len(stale.differences)) == (True, False, 0)
    assert stale.summary == ("not compared: the ledger was last read at 2026-12-01 21:00:00 AEDT, invoices at "
                             "2026-12-01 21:05:00 AEDT; compared at the next full sync")  # fmt: skip

    warehouse.save_state(ORG.tenant_id, "journals", SyncState(last_completed=_utc(10, 10)))  # the next full sync
    again = _check(warehouse)
    assert (again.passed, again.compared, again.differences.iloc[0]["difference"]) == (False, True, Decimal("50.00"))

    with warehouse.engine.begin() as conn:  # a ledger never read says so too
        conn.execute(sa.text("DELETE FROM xero_sync_state WHERE api = 'journals'"))
    never = _check(warehouse)
    assert (never.passed, never.compared) == (True, False)
    assert never.summary == ("not compared: the ledger (journals) has not been read yet; compared once a sync has "
                             "read it")  # fmt: skip
