"""The ledger statements on a hand-made organisation whose every figure was worked out by hand (comments show the
sums). Its financial year runs July to June; July has no movement; June has a credit note; August has a
foreign-currency invoice (USD 100.00 at 0.5, so the journal carries its base amount, 200.00, as Xero's does).

Movements (debits positive), by month:
  2026-05  invoice 1000 + GST 100:  AR +1100, sales -1000, GST -100;  rent bill 500: rent +500, AP -500
  2026-06  credit note 200 + 20:    sales +200, GST +20, AR -220;  receipt 880: bank +880, AR -880;
           interest 10:             bank +10, interest -10
  2026-07  nothing
  2026-08  USD invoice (base 200):  AR +200, sales -200;  stock paid 300: cost of sales +300, bank -300
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pandas as pd
import pytest

from xero_assets.datasets import statements
from xero_assets.datasets.general_ledger import Lookups, ledger_lines
from xero_assets.datasets.kpis import kpi_summary
from xero_assets.datasets.load import organisation_today
from xero_assets.datasets.money import financial_year_start, money, month_range
from xero_assets.datasets.spec import Organisation
from xero_assets.defs.dashboards import preview

D = Decimal
MONTHS = ["2026-05", "2026-06", "2026-07", "2026-08"]
ACCOUNTS = pd.DataFrame(
    [
        ("bank", "090", "Bank", "BANK", "ASSET", None),
        ("ar", "610", "Accounts Receivable", "CURRENT", "ASSET", "DEBTORS"),
        ("ap", "800", "Accounts Payable", "CURRLIAB", "LIABILITY", "CREDITORS"),
        ("gst", "820", "GST", "CURRLIAB", "LIABILITY", "GST"),
        ("re", "960", "Retained Earnings", "EQUITY", "EQUITY", "RETAINEDEARNINGS"),
        ("sales", "200", "Sales", "REVENUE", "REVENUE", None),
        ("interest", "270", "Interest Income", "OTHERINCOME", "REVENUE", None),
        ("cogs", "310", "Cost of Goods Sold", "DIRECTCOSTS", "EXPENSE", None),
        ("rent", "469", "Rent", "OVERHEADS", "EXPENSE", None),
    ],
    columns=list(statements.ACCOUNT_COLUMNS),
)
MOVEMENTS = pd.DataFrame(
    [
        ("ar", "2026-05", D("1100"), D("1100")), ("sales", "2026-05", D("-1000"), D(0)),
        ("gst", "2026-05", D("-100"), D(0)), ("rent", "2026-05", D("500"), D("500")),
        ("ap", "2026-05", D("-500"), D(0)),
        ("sales", "2026-06", D("200"), D("200")), ("gst", "2026-06", D("20"), D("20")),
        ("ar", "2026-06", D("-1100"), D(0)), ("bank", "2026-06", D("890"), D("890")),
        ("interest", "2026-06", D("-10"), D(0)),
        ("ar", "2026-08", D("200"), D("200")), ("sales", "2026-08", D("-200"), D(0)),
        ("cogs", "2026-08", D("300"), D("300")), ("bank", "2026-08", D("-300"), D(0)),
    ],
    columns=list(statements.MOVEMENT_COLUMNS),
)  # fmt: skip


@pytest.fixture
def ledger() -> statements.MonthlyLedger:
    return statements.monthly_ledger(MOVEMENTS, ACCOUNTS, MONTHS, fy_end_month=6)


def lines(frame: pd.DataFrame, month: str) -> dict[str, Decimal]:
    rows = frame[frame["month"] == month]
    return dict(zip(rows["line"], rows["amount"], strict=True))


def test_the_financial_year_starts_after_its_end_month() -> None:
    assert financial_year_start("2026-06", 6) == "2025-07"
    assert financial_year_start("2026-07", 6) == "2026-07"
    assert financial_year_start("2026-02", 12) == "2026-01"
    assert financial_year_start("2026-03", 3) == "2025-04"
    assert month_range("2025-11", "2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert money(0.1 + 0.2) == D("0.30") and money("1,234.565") == D("1234.57") and money(None) == D("0.00")


def test_trial_balance_splits_the_year_at_june_and_nets_to_zero(ledger: statements.MonthlyLedger) -> None:
    tb = statements.trial_balance(ledger)
    at = {m: dict(zip(g["account_id"], g["balance"], strict=True)) for m, g in tb.groupby("month")}
    # June, the year's last month: P&L year to date = May + June; nothing retained yet; AR fully paid (left out).
    assert at["2026-06"] == {"bank": 890, "ap": -500, "gst": -80, "sales": -800, "interest": -10, "rent": 500}
    # July, a new year with no movement: the year's profit (800 + 10 - 500 = 310) moves to retained earnings.
    assert at["2026-07"] == {"bank": 890, "ap": -500, "gst": -80, "re": -310}
    assert at["2026-08"] == {"bank": 590, "ar": 200, "ap": -500, "gst": -80, "re": -310, "sales": -200, "cogs": 300}
    assert all(sum(g["balance"]) == 0 for _, g in tb.groupby("month"))
    row = tb[(tb["month"] == "2026-07") & (tb["account_id"] == "re")].iloc[0]
    assert (row["debit"], row["credit"], row["account_name"]) == (0, 310, "Retained Earnings")


def test_pnl_has_xeros_sections_gross_profit_and_a_zero_month(ledger: statements.MonthlyLedger) -> None:
    pnl = statements.profit_and_loss(ledger)
    assert lines(pnl, "2026-05") == {"sales": 1000, "Total Income": 1000, "Total Cost of Sales": 0,
                                     "Gross Profit": 1000, "Total Other Income": 0, "rent": 500,
                                     "Total Operating Expenses": 500, "Net Profit": 500}  # fmt: skip
    # The credit note (200) exceeds June's sales (none): income is negative; interest is other income, not revenue.
    june = lines(pnl, "2026-06")
    assert (june["sales"], june["Total Income"], june["Gross Profit"]) == (-200, -200, -200)
    assert (june["interest"], june["Total Other Income"], june["Net Profit"]) == (10, 10, -190)
    assert set(lines(pnl, "2026-07").values()) == {0}  # totals only, all zero: the month is there, not missing
    assert "sales" not in lines(pnl, "2026-07")
    august = lines(pnl, "2026-08")
    assert (august["Total Income"], august["cogs"], august["Gross Profit"], august["Net Profit"]) == (
        200,
        300,
        -100,
        -100,
    )
    section = pnl[(pnl["month"] == "2026-08") & (pnl["line"] == "cogs")]["section"].iloc[0]
    assert section == "Cost of Sales"


def test_balance_sheet_carries_current_year_and_retained_earnings(ledger: statements.MonthlyLedger) -> None:
    bs = statements.balance_sheet(ledger)
    june, july, august = (lines(bs, m) for m in ("2026-06", "2026-07", "2026-08"))
    assert (june["Total Assets"], june["Total Liabilities"], june["Net Assets"]) == (890, 580, 310)
    assert (june["Current Year Earnings"], june["re"], june["Total Equity"]) == (310, 0, 310)
    assert (july["Current Year Earnings"], july["re"], july["Total Equity"]) == (0, 310, 310)
    assert (august["bank"], august["ar"], august["Total Current Assets"], august["Net Assets"]) == (590, 200, 200, 210)
    assert (august["Current Year Earnings"], august["re"], august["Total Equity"]) == (-100, 310, 210)
    assert all(isinstance(v, Decimal) for v in bs["amount"])


def test_cash_has_a_row_for_every_account_and_month(ledger: statements.MonthlyLedger) -> None:
    cash = statements.cash_by_month(ledger).set_index("month")
    assert list(cash.index) == MONTHS
    figures = ["opening_balance", "received", "spent", "net_movement", "closing_balance"]
    assert cash.loc["2026-05", figures].tolist() == [0, 0, 0, 0, 0]
    assert cash.loc["2026-06", figures].tolist() == [0, 890, 0, 890, 890]
    assert cash.loc["2026-07", figures].tolist() == [890, 0, 0, 0, 890]  # no movement, still a row
    assert cash.loc["2026-08", figures].tolist() == [890, 0, 300, -300, 590]


def test_kpis_from_the_statements(ledger: statements.MonthlyLedger) -> None:
    pnl, bs, cash = (
        f(ledger) for f in (statements.profit_and_loss, statements.balance_sheet, statements.cash_by_month)
    )
    kpis = kpi_summary(pnl, bs, cash, ACCOUNTS, date(2026, 9, 15), "NZD").set_index("kpi")
    value = kpis["value"]
    assert (value["revenue"], value["gross_profit"], value["gross_margin_pct"]) == (200, -100, D("-50.00"))
    assert (value["net_profit"], value["accounts_receivable"], value["accounts_payable"]) == (-100, 200, 500)
    assert value["dso_days"] is None  # income over June-August nets to zero (credit note -200, invoice +200)
    assert value["dpo_days"] == D("153.33")  # 500 x 92 days / 300 spent
    assert value["current_ratio"] == D("1.36")  # (590 + 200) / 580
    assert value["cash"] == 590 and value["monthly_burn"] == 0 and value["runway_months"] is None
    assert kpis.loc["revenue", "period"] == "2026-08" and kpis.loc["revenue", "currency"] == "NZD"


def test_the_general_ledger_names_the_document_contact_and_tracking() -> None:
    journal = {
        "JournalID": "j1", "JournalNumber": 7, "JournalDate": "/Date(1780272000000+0000)/", "SourceType":
        "ACCRECPAYMENT", "SourceID": "pay1", "Reference": "Deposit",
        "JournalLines": [
            {"JournalLineID": "l1", "AccountID": "bank", "AccountCode": "090", "AccountName": "Bank",
             "AccountType": "BANK", "NetAmount": 115.0, "TaxAmount": 0.0, "GrossAmount": 115.0},
            {"JournalLineID": "l2", "AccountID": "ar", "AccountCode": "610", "AccountName": "Accounts Receivable",
             "AccountType": "CURRENT", "NetAmount": -115.0, "TaxAmount": 0.0, "GrossAmount": -115.0,
             "TrackingCategories": [{"Name": "Region", "Option": "North"}]},
        ],
    }  # fmt: skip
    lookups = Lookups(
        documents={"inv1": ("INV-0042", "c1")}, payments={"pay1": "inv1"}, contacts={"c1": "Acme Ltd"},
        accounts={"bank": ("BANK", "ASSET"), "ar": ("CURRENT", "ASSET")},
    )  # fmt: skip
    gl = ledger_lines([journal], lookups)
    assert gl["date"].tolist() == [date(2026, 6, 1)] * 2 and gl["month"].tolist() == ["2026-06"] * 2
    assert gl["document_number"].tolist() == ["INV-0042"] * 2 and gl["contact_name"].tolist() == ["Acme Ltd"] * 2
    assert gl["document_type"].iloc[0] == "payment" and gl["account_class"].tolist() == ["ASSET", "ASSET"]
    assert gl["net_amount"].tolist() == [D("115.00"), D("-115.00")]
    assert (gl["tracking_category_1"].iloc[1], gl["tracking_option_1"].iloc[1]) == ("Region", "North")
    assert gl["tracking_option_1"].iloc[0] is None


def test_today_is_the_organisations_own_date() -> None:
    sydney = Organisation("t", "Acme", "AUD", "AU", 30, 6, timezone="Australia/Sydney")
    new_york = Organisation("t", "Acme", "USD", "US", 31, 12, timezone="America/New_York")
    moment = datetime(2026, 11, 30, 20, 0, tzinfo=UTC)  # 07:00 on 1 December in Sydney, 15:00 on 30 Nov in New York
    assert organisation_today(sydney, moment) == date(2026, 12, 1)
    assert organisation_today(new_york, moment) == date(2026, 11, 30)


def test_the_preview_names_the_organisation_and_keeps_money_to_the_cent() -> None:
    frame = pd.DataFrame(
        {"month": ["2026-11", "2026-12", "2026-12"], "line": ["a1", "a1", "Total Income"],
         "account_id": ["a1", "a1", None], "account_name": ["Sales", "Sales", "Total Income"],
         "amount": [D("1.00"), D("112110.79"), D("112110.79")]}
    )  # fmt: skip
    shown = preview(frame, Organisation("t", "Acme Pty", "AUD", "AU", 30, 6)).value
    assert "| Acme Pty" in shown and "112110.79" in shown and "112111" not in shown.replace("112110.79", "")
    assert "2026-11" not in shown and "a1" not in shown  # the latest month, named, not by id
