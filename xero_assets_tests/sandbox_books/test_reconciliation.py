"""Per organisation, a client's own sums over what it synced reconcile with Xero's reports to the cent.

Everything here is read through the same calls a sync makes (Journals by offset, Accounts, Invoices, Reports), never
from the books' internals, so these are the reconciliations a warehouse can run against Xero itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from xero_assets import catalog
from xero_assets.sandbox.books import Books, Query, World
from xero_assets.xero.dates import parse
from xero_assets_tests.sandbox_books.conftest import by_country

COUNTRIES = ("AU", "NZ", "GB", "US")


def cents(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in ("", None) else Decimal(0)


def in_base(document: dict[str, Any], value: Any) -> Decimal:
    """A document amount in base currency, as a client recomputes it: divided by CurrencyRate, to the cent."""
    rate = Decimal(str(document.get("CurrencyRate") or 1))
    return (cents(value) / rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def listed(books: Books, name: str, **params: str) -> list[dict[str, Any]]:
    api = catalog.get(name)
    endpoint = api.endpoint_for(books.country)
    assert endpoint is not None
    return books.list(api, endpoint, Query.from_params({**endpoint.params, **params})).records


def journals(books: Books) -> Iterator[dict[str, Any]]:
    offset = 0
    while True:
        page = listed(books, "journals", offset=str(offset))
        if not page:
            return
        yield from page
        offset = page[-1]["JournalNumber"]


def report(books: Books, name: str, **params: str) -> dict[str, Any]:
    return books.report(catalog.get(name), params, None)


def rows(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for top in document["Rows"]:
        yield top
        yield from top.get("Rows", [])


def row_values(document: dict[str, Any], title: str) -> list[Decimal]:
    for row in rows(document):
        cells = row.get("Cells", [])
        if cells and cells[0]["Value"] == title:
            return [cents(c["Value"]) for c in cells[1:]]
    raise AssertionError(f"no row {title!r}")


@pytest.fixture(scope="module", params=COUNTRIES)
def books(request: pytest.FixtureRequest, medium_world: World) -> Books:
    return by_country(medium_world, request.param)


@pytest.fixture(scope="module")
def synced_journals(books: Books) -> list[dict[str, Any]]:
    return list(journals(books))


def test_every_journal_balances(synced_journals: list[dict[str, Any]]) -> None:
    assert synced_journals
    for journal in synced_journals:
        assert sum(cents(line["NetAmount"]) for line in journal["JournalLines"]) == 0, journal["JournalNumber"]
        for line in journal["JournalLines"]:
            assert cents(line["NetAmount"]) + cents(line["TaxAmount"]) == cents(line["GrossAmount"])


def test_trial_balance_nets_to_zero(books: Books) -> None:
    document = report(books, "trial_balance")
    debit, credit, ytd_debit, ytd_credit = row_values(document, "Total")
    assert debit == credit > 0 and ytd_debit == ytd_credit
    net = sum(
        (
            cents(r["Cells"][1]["Value"]) - cents(r["Cells"][2]["Value"])
            for r in rows(document)
            if r["RowType"] == "Row"
        ),
        Decimal(0),
    )
    assert net == 0


def _profit_from_journals(books: Books, journals: list[dict[str, Any]], start: date, end: date) -> Decimal:
    classes = {a["AccountID"]: a["Class"] for a in listed(books, "accounts")}
    total = Decimal(0)
    for journal in journals:
        day = parse(journal["JournalDate"]).date()  # type: ignore[union-attr]
        if start <= day <= end:
            for line in journal["JournalLines"]:
                if classes[line["AccountID"]] in ("REVENUE", "EXPENSE"):
                    total -= cents(line["NetAmount"])
    return total


@pytest.mark.parametrize(
    "period",
    [
        (date(2026, 10, 1), date(2026, 10, 31)),
        (date(2025, 7, 1), date(2026, 6, 30)),
        (date(2025, 2, 14), date(2026, 11, 24)),
    ],
    ids=["a-month", "a-financial-year", "an-odd-range"],
)
def test_profit_and_loss_equals_journal_lines_on_revenue_and_expense_accounts(
    books: Books, synced_journals: list[dict[str, Any]], period: tuple[date, date]
) -> None:
    start, end = period
    document = report(books, "profit_and_loss", fromDate=start.isoformat(), toDate=end.isoformat())
    (net_profit,) = row_values(document, "Net Profit")
    assert net_profit == _profit_from_journals(books, synced_journals, start, end)
    assert net_profit != 0


def test_profit_and_loss_periods_compare_earlier_months(books: Books, synced_journals: list[dict[str, Any]]) -> None:
    document = report(books, "profit_and_loss", fromDate="2026-09-01", toDate="2026-09-30", periods="2",
                      timeframe="MONTH")  # fmt: skip
    september, august, july = row_values(document, "Net Profit")
    assert september == _profit_from_journals(books, synced_journals, date(2026, 9, 1), date(2026, 9, 30))
    assert august == _profit_from_journals(books, synced_journals, date(2026, 8, 1), date(2026, 8, 31))
    assert july == _profit_from_journals(books, synced_journals, date(2026, 7, 1), date(2026, 7, 31))


def _open_receivables(books: Books) -> dict[str, Decimal]:
    """Per contact: AmountDue on open sales invoices less unapplied customer credits, from the list endpoints."""
    due: dict[str, Decimal] = {}
    for invoice in listed(books, "invoices"):
        if invoice["Type"] == "ACCREC" and invoice["Status"] == "AUTHORISED":
            key = invoice["Contact"]["ContactID"]
            due[key] = due.get(key, Decimal(0)) + in_base(invoice, invoice["AmountDue"])
    for name, kinds in (("credit_notes", {"ACCRECCREDIT"}), ("overpayments", {"RECEIVE-OVERPAYMENT"}),
                        ("prepayments", {"RECEIVE-PREPAYMENT"})):  # fmt: skip
        for credit in listed(books, name):
            if credit["Type"] in kinds and credit["Status"] == "AUTHORISED":
                key = credit["Contact"]["ContactID"]
                due[key] = due.get(key, Decimal(0)) - cents(credit["RemainingCredit"])
    return {k: v for k, v in due.items() if v}


def test_aged_receivables_totals_equal_amounts_due_on_open_sales_invoices(books: Books) -> None:
    expected = _open_receivables(books)
    assert expected
    for contact_id, amount in expected.items():
        document = report(books, "aged_receivables_by_contact", contactId=contact_id)
        assert row_values(document, "Total")[-1] == amount, contact_id
    tb = report(books, "trial_balance")
    ar = books.account("610")
    (row,) = [r for r in rows(tb) if r["RowType"] == "Row" and r["Cells"][0]["Value"] == ar.name]
    assert cents(row["Cells"][1]["Value"]) - cents(row["Cells"][2]["Value"]) == sum(expected.values())


def test_aged_reports_require_a_contact_id(books: Books) -> None:
    from xero_assets.sandbox.books import QueryError

    for name in ("aged_receivables_by_contact", "aged_payables_by_contact"):
        with pytest.raises(QueryError) as caught:
            report(books, name)
        assert caught.value.type == "ValidationException"


def test_balance_sheet_net_assets_equal_equity(books: Books) -> None:
    document = report(books, "balance_sheet", date="2026-10-31", periods="2", timeframe="MONTH")
    assets, liabilities = row_values(document, "Total Assets"), row_values(document, "Total Liabilities")
    equity = row_values(document, "Total Equity")
    assert [a - li for a, li in zip(assets, liabilities, strict=True)] == equity == row_values(document, "Net Assets")


def test_bank_summary_closing_balances_follow_the_bank_journal_lines(
    books: Books, synced_journals: list[dict[str, Any]]
) -> None:
    document = report(books, "bank_summary", fromDate="2026-10-01", toDate="2026-10-31")
    opening, received, spent, closing = row_values(document, "Total")
    assert opening + received - spent == closing
    banks = {a["AccountID"] for a in listed(books, "accounts") if a["Type"] == "BANK"}
    moved = Decimal(0)
    for journal in synced_journals:
        if parse(journal["JournalDate"]).date() <= date(2026, 10, 31):  # type: ignore[union-attr]
            moved += sum((cents(li["NetAmount"]) for li in journal["JournalLines"] if li["AccountID"] in banks),
                         Decimal(0))  # fmt: skip
    assert closing == moved


def test_published_tax_returns_match_tax_on_journal_lines(books: Books, synced_journals: list[dict[str, Any]]) -> None:
    api = catalog.get("tax_reports")
    if api.endpoint_for(books.country) is None:
        pytest.skip(f"{books.country} has no published GST/BAS reports in Xero")
    published = books.report(api, {}, None)
    assert published
    latest = books.report(api, {}, published[0]["ReportID"])
    period = latest["ReportTitle"].removeprefix(f"{latest['ReportName']} ")
    start, end = (datetime.strptime(text, "%d %B %Y").date() for text in period.split(" to "))
    rates = {r["TaxType"]: r for r in listed(books, "tax_rates")}
    sales_tax = Decimal(0)
    for journal in synced_journals:
        if start <= parse(journal["JournalDate"]).date() <= end:  # type: ignore[union-attr]
            for line in journal["JournalLines"]:
                rate = rates.get(line.get("TaxType", ""))
                if rate is not None and rate["CanApplyToRevenue"] and not rate["CanApplyToExpenses"]:
                    sales_tax -= cents(line["TaxAmount"])
    fields = {f["FieldID"]: cents(f["Value"]) for f in latest["Fields"]}
    assert fields["1A" if books.country == "AU" else "8"] == sales_tax > 0


def test_profit_and_loss_by_tracking_category_splits_the_total_across_options(books: Books) -> None:
    category = next(c for c in listed(books, "tracking_categories") if c["Name"] == "Service Line")
    params = {"fromDate": "2026-01-01", "toDate": "2026-10-31"}
    split = report(books, "profit_and_loss", trackingCategoryID=category["TrackingCategoryID"], **params)
    labels = [c["Value"] for c in split["Rows"][0]["Cells"][1:]]
    assert labels == [o["Name"] for o in category["Options"]] + ["Unassigned"]
    (total,) = row_values(report(books, "profit_and_loss", **params), "Net Profit")
    columns = row_values(split, "Net Profit")
    assert sum(columns) == total and columns[0] != 0
    managed = category["Options"][0]["TrackingOptionID"]
    (one,) = row_values(report(books, "profit_and_loss", trackingOptionID=managed, **params), "Net Profit")
    assert one == columns[0]


def test_aged_payables_totals_equal_amounts_due_on_open_bills(books: Books) -> None:
    due: dict[str, Decimal] = {}
    for bill in listed(books, "invoices"):
        if bill["Type"] == "ACCPAY" and bill["Status"] == "AUTHORISED":
            key = bill["Contact"]["ContactID"]
            due[key] = due.get(key, Decimal(0)) + in_base(bill, bill["AmountDue"])
    for credit in listed(books, "credit_notes"):
        if credit["Type"] == "ACCPAYCREDIT" and credit["Status"] == "AUTHORISED":
            key = credit["Contact"]["ContactID"]
            due[key] = due.get(key, Decimal(0)) - cents(credit["RemainingCredit"])
    assert any(due.values())
    for contact_id, amount in due.items():
        document = report(books, "aged_payables_by_contact", contactId=contact_id)
        assert row_values(document, "Total")[-1] == amount, contact_id


# --- foreign currency ----------------------------------------------------------------------------------------------
def test_foreign_documents_carry_their_currency_and_rate_and_currencies_list_what_is_used(books: Books) -> None:
    base = books.profile.currency
    invoices = [i for i in listed(books, "invoices") if i["CurrencyCode"] != base]
    assert {i["Type"] for i in invoices} == {"ACCREC", "ACCPAY"}
    assert all(i["CurrencyRate"] != 1.0 for i in invoices)
    assert len({i["CurrencyRate"] for i in invoices}) > len(invoices) // 2  # daily rates, not one rate
    used = {i["CurrencyCode"] for i in listed(books, "invoices")}
    used |= {a["CurrencyCode"] for a in listed(books, "accounts") if a["Type"] == "BANK"}
    used |= {c["DefaultCurrency"] for c in listed(books, "contacts")}
    assert used <= {c["Code"] for c in listed(books, "currencies")} and len(used) == 2
    foreign_contacts = {c["ContactID"] for c in listed(books, "contacts") if c["DefaultCurrency"] != base}
    assert {i["Contact"]["ContactID"] for i in invoices} == foreign_contacts


def test_a_foreign_payment_posts_the_realised_gain_or_loss(books: Books, synced_journals: list[dict[str, Any]]) -> None:
    payments = {p["PaymentID"]: p for p in listed(books, "payments") if p["CurrencyRate"] != 1.0}
    invoices = {i["InvoiceID"]: i for i in listed(books, "invoices")}
    realised = next(a for a in listed(books, "accounts") if a.get("SystemAccount") == "REALISEDCURRENCYGAIN")
    checked = 0
    for journal in synced_journals:
        payment = payments.get(journal["SourceID"])
        if payment is None or journal["SourceType"] not in ("ACCRECPAYMENT", "ACCPAYPAYMENT"):
            continue
        invoice = invoices[payment["Invoice"]["InvoiceID"]]
        sign = 1 if journal["SourceType"] == "ACCRECPAYMENT" else -1
        banked, cleared = in_base(payment, payment["Amount"]), in_base(invoice, payment["Amount"])
        lines = [li for li in journal["JournalLines"] if li["AccountID"] == realised["AccountID"]]
        gain = sum((cents(li["NetAmount"]) for li in lines), Decimal(0))
        assert gain == sign * (cleared - banked), payment["PaymentID"]
        checked += 1
    assert checked == len(payments) > 0


def test_each_month_end_revaluation_is_reversed_the_next_day(
    books: Books, synced_journals: list[dict[str, Any]]
) -> None:
    unrealised = next(a for a in listed(books, "accounts") if a.get("SystemAccount") == "UNREALISEDCURRENCYGAIN")
    by_day: dict[date, Decimal] = {}
    for journal in synced_journals:
        for line in journal["JournalLines"]:
            if line["AccountID"] == unrealised["AccountID"]:
                day = parse(journal["JournalDate"]).date()  # type: ignore[union-attr]
                by_day[day] = by_day.get(day, Decimal(0)) + cents(line["NetAmount"])
    month_ends = sorted(d for d, v in by_day.items() if d.day != 1 and v)
    assert len(month_ends) > 6
    for day in month_ends[:-1]:
        following = date.fromordinal(day.toordinal() + 1)
        assert by_day[following] == -by_day[day], day
    assert sum(by_day.values()) == 0  # the last month end (31 October) was reversed on 1 November too


# --- tracking ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("category_name", ["Region", "Service Line"])
def test_profit_and_loss_per_tracking_option_equals_the_tagged_journal_lines(
    books: Books, synced_journals: list[dict[str, Any]], category_name: str
) -> None:
    category = next(c for c in listed(books, "tracking_categories") if c["Name"] == category_name)
    pl_accounts = {a["AccountID"] for a in listed(books, "accounts") if a["Class"] in ("REVENUE", "EXPENSE")}
    start, end = date(2026, 1, 1), date(2026, 10, 31)
    tagged: dict[str, Decimal] = {}
    for journal in synced_journals:
        if not start <= parse(journal["JournalDate"]).date() <= end:  # type: ignore[union-attr]
            continue
        for line in journal["JournalLines"]:
            if line["AccountID"] not in pl_accounts:
                continue
            for option in line["TrackingCategories"]:
                if option["TrackingCategoryID"] == category["TrackingCategoryID"]:
                    key = option["TrackingOptionID"]
                    tagged[key] = tagged.get(key, Decimal(0)) - cents(line["NetAmount"])  # net profit: credits up
    assert len([v for v in tagged.values() if v]) >= 2, "the category is used on document lines"
    params = {"fromDate": start.isoformat(), "toDate": end.isoformat()}
    for option in category["Options"]:
        (profit,) = row_values(
            report(books, "profit_and_loss", trackingOptionID=option["TrackingOptionID"], **params), "Net Profit"
        )
        assert profit == tagged.get(option["TrackingOptionID"], Decimal(0)), option["Name"]
    split = row_values(report(books, "profit_and_loss", trackingCategoryID=category["TrackingCategoryID"], **params),
                       "Net Profit")  # fmt: skip
    (total,) = row_values(report(books, "profit_and_loss", **params), "Net Profit")
    assert sum(split) == total and split[-1] == total - sum(tagged.values())  # the last column is Unassigned
