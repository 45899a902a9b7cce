"""The document datasets' pure transforms on small hand-made frames; every expected figure was worked out by hand
(in the comments) from the rows above it, not computed by the code under test."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from xero_assets.datasets import checks_documents, documents, operations, receivables, recurring, rollup
from xero_assets.datasets.spec import Organisation

AS_AT = date(2026, 11, 30)
D = Decimal
CONTACTS = pd.DataFrame({"id": ["a", "b", "c"], "name": ["Acme Ltd", "Beta Inc", "Credit Only Co"]})
ACCOUNTS = pd.DataFrame(
    {"code": ["200", "840", "610"], "name": ["Sales", "Customer Deposits", "Accounts Receivable"],
     "class": ["REVENUE", "LIABILITY", "ASSET"]}
)  # fmt: skip


def _invoices() -> pd.DataFrame:
    rows = [
        # id, type, status, contact, date, due, amount due, currency, rate, number, line amount types, totals
        ("inv1", "ACCREC", "AUTHORISED", "a", date(2026, 10, 1), date(2026, 10, 31), 100.0, "AUD", 1.0, "INV-1",
         "Exclusive", 120.0, 10.0, 130.0),
        ("inv2", "ACCREC", "AUTHORISED", "a", date(2026, 11, 20), date(2026, 12, 10), 50.10, "AUD", 1.0, "INV-2",
         "Exclusive", 0.0, 0.0, 0.0),
        ("inv3", "ACCREC", "PAID", "a", date(2026, 9, 1), date(2026, 9, 30), 0.0, "AUD", 1.0, "INV-3",
         "Exclusive", 0.0, 0.0, 0.0),
        # 80.00 USD at 0.8 USD per AUD is 100.00 AUD
        ("inv4", "ACCREC", "AUTHORISED", "b", date(2026, 10, 15), date(2026, 8, 1), 80.0, "USD", 0.8, "INV-4",
         "Exclusive", 80.0, 0.0, 80.0),
        ("inv5", "ACCPAY", "AUTHORISED", "a", date(2026, 10, 1), date(2026, 10, 1), 7.0, "AUD", 1.0, None,
         "Exclusive", 0.0, 0.0, 0.0),
        ("inv6", "ACCREC", "SUBMITTED", "b", date(2026, 10, 1), date(2026, 10, 1), 999.0, "AUD", 1.0, "INV-6",
         "Exclusive", 0.0, 0.0, 0.0),
        ("inv7", "ACCREC", "AUTHORISED", "a", date(2026, 12, 5), date(2026, 12, 25), 20.0, "AUD", 1.0, "INV-7",
         "Exclusive", 0.0, 0.0, 0.0),
        ("inv8", "ACCREC", "PAID", "a", date(2026, 12, 3), date(2026, 12, 20), 0.0, "AUD", 1.0, "INV-8",
         "Inclusive", 100.0, 15.0, 115.0),
        ("inv9", "ACCREC", "DELETED", "a", date(2026, 10, 1), date(2026, 10, 1), 0.0, "AUD", 1.0, "INV-9",
         "Exclusive", 10.0, 0.0, 10.0),
    ]  # fmt: skip
    columns = ["id", "type", "status", "contactid", "date", "duedate", "amountdue", "currencycode", "currencyrate",
               "invoicenumber", "lineamounttypes", "subtotal", "totaltax", "total"]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns)
    return frame.assign(reference="", repeatinginvoiceid=None)


def _credits() -> pd.DataFrame:
    rows = [
        ("cn1", "ACCRECCREDIT", "AUTHORISED", "a", date(2026, 11, 25), 30.0, 1.0),
        ("op1", "RECEIVE-OVERPAYMENT", "AUTHORISED", "c", date(2026, 9, 15), 12.34, 1.0),
        ("cn2", "ACCPAYCREDIT", "AUTHORISED", "a", date(2026, 11, 1), 5.0, 1.0),
        ("cn3", "ACCRECCREDIT", "AUTHORISED", "a", date(2026, 11, 1), 0.0, 1.0),
        ("cn4", "ACCRECCREDIT", "VOIDED", "a", date(2026, 11, 1), 40.0, 1.0),
    ]
    return pd.DataFrame(rows, columns=["id", "type", "status", "contactid", "date", "remainingcredit", "currencyrate"])


def _lines() -> pd.DataFrame:
    rows = [
        ("inv1", 0, "200", 100.0, 10.0, "Region", "North"),
        ("inv1", 1, "840", 20.0, 0.0, None, None),  # a deposit: on the invoice, not revenue
        ("inv4", 0, "200", 80.0, 0.0, "Region", "South"),
        ("inv8", 0, "200", 115.0, 15.0, None, None),  # Inclusive: 115.00 with 15.00 tax is 100.00 net
        ("inv9", 0, "200", 10.0, 0.0, None, None),
        ("cn1", 0, "200", 30.0, 3.0, None, None),
    ]
    frame = pd.DataFrame(
        rows, columns=["parent_id", "line_no", "accountcode", "lineamount", "taxamount", "tracking1category",
                       "tracking1option"]
    )  # fmt: skip
    return frame.assign(
        lineitemid=[f"li{i}" for i in range(len(rows))], description="work", quantity=1.0,
        unitamount=frame["lineamount"], itemcode=None, taxtype="OUTPUT", tracking2category=None, tracking2option=None,
    )  # fmt: skip


def test_ar_ageing_nets_unapplied_credits_converts_currency_and_names_contacts() -> None:
    aged = receivables.ageing(_invoices(), _credits(), CONTACTS, "ACCREC", AS_AT, "AUD")
    # a: INV-1 100.00 is 30 days overdue, less the 30.00 credit note aged by its date (5 days): 70.00 in 1-30;
    #    INV-2 50.10 is current; INV-7 is dated after the as-at date and INV-3 is paid: total 120.10.
    # b: INV-4 80.00 USD / 0.8 = 100.00 AUD, 121 days overdue. INV-6 awaits approval: not owed yet.
    # c: a 12.34 overpayment dated 76 days back: -12.34 in 61-90.
    assert aged["contact_id"].tolist() == ["a", "b", "c"]
    assert aged["contact_name"].tolist() == ["Acme Ltd", "Beta Inc", "Credit Only Co"]
    a, b, c = (row for _, row in aged.iterrows())
    assert (a["current"], a["days_1_30"], a["total_due"]) == (D("50.10"), D("70.00"), D("120.10"))
    assert (b["days_over_90"], b["total_due"]) == (D("100.00"), D("100.00"))
    assert (c["days_61_90"], c["total_due"]) == (D("-12.34"), D("-12.34"))
    assert sum(aged["total_due"]) == D("207.76")
    assert set(aged["as_at"]) == {AS_AT} and set(aged["currency"]) == {"AUD"}


def test_ap_ageing_reads_only_payables() -> None:
    aged = receivables.ageing(_invoices(), _credits(), CONTACTS, "ACCPAY", AS_AT, "AUD")
    # INV5 7.00 due 60 days ago, less the 5.00 supplier credit dated 29 days ago: 2.00
    assert aged[["contact_id", "days_1_30", "days_31_60", "total_due"]].values.tolist() == [
        ["a", D("-5.00"), D("7.00"), D("2.00")]
    ]


def test_overdue_invoices_most_overdue_first_in_their_currency() -> None:
    late = receivables.overdue_invoices(_invoices(), CONTACTS, AS_AT, "AUD")
    assert late[["invoice_number", "contact_name", "days_overdue", "amount_due", "currency", "amount_due_base"]] \
        .values.tolist() == [
            ["INV-4", "Beta Inc", 121, D("80.00"), "USD", D("100.00")],
            ["INV-1", "Acme Ltd", 30, D("100.00"), "AUD", D("100.00")],
        ]  # fmt: skip
    assert late["due_date"].tolist() == [date(2026, 8, 1), date(2026, 10, 31)]


def test_revenue_by_customer_counts_revenue_lines_less_credit_notes() -> None:
    documents_ = pd.concat(
        [_invoices(), _credits().assign(lineamounttypes="Exclusive").query("id == 'cn1'")], ignore_index=True
    )
    revenue = receivables.revenue_by_customer(documents_, _lines(), ACCOUNTS, CONTACTS, "AUD")
    # October: a invoiced 100.00 (the 20.00 deposit line is not revenue); b 80.00 USD = 100.00 AUD.
    # November: a's 30.00 credit note (ex its 3.00 tax). December: a's Inclusive 115.00 less 15.00 tax.
    # b sold nothing in November or December, so it has no rows there; the deleted INV-9 counts for nothing.
    assert revenue[["month", "contact_name", "invoiced", "credited", "net_revenue"]].values.tolist() == [
        ["2026-10", "Acme Ltd", D("100.00"), D("0.00"), D("100.00")],
        ["2026-10", "Beta Inc", D("100.00"), D("0.00"), D("100.00")],
        ["2026-11", "Acme Ltd", D("0.00"), D("30.00"), D("-30.00")],
        ["2026-12", "Acme Ltd", D("100.00"), D("0.00"), D("100.00")],
    ]


def test_invoice_lines_carry_header_names_account_tracking_and_base_currency() -> None:
    lines = documents.invoice_lines(_invoices(), _lines().query("parent_id != 'cn1'"), CONTACTS, ACCOUNTS, "AUD")
    assert "inv9" not in set(lines["invoice_id"])  # deleted in Xero
    by_key = lines.set_index(["invoice_id", "line_no"])
    north = by_key.loc[("inv1", 0)]
    assert (north["invoice_number"], north["contact_name"], north["account_name"]) == ("INV-1", "Acme Ltd", "Sales")
    assert (north["tracking1_category"], north["tracking1_option"]) == ("Region", "North")
    assert (north["net_amount"], north["tax_amount"], north["gross_amount"]) == (D("100.00"), D("10.00"), D("110.00"))
    usd = by_key.loc[("inv4", 0)]
    assert (usd["currency_code"], usd["currency_rate"], usd["net_amount"], usd["net_amount_base"]) == (
        "USD", D("0.8"), D("80.00"), D("100.00"))  # fmt: skip
    inclusive = by_key.loc[("inv8", 0)]
    assert (inclusive["line_amount"], inclusive["net_amount"], inclusive["gross_amount"]) == (
        D("115.00"), D("100.00"), D("115.00"))  # fmt: skip


def _mrr_inputs() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [
        # a, monthly: 100, 100, 150 (expansion), nothing in April and May (churn), 120 in June (reactivation)
        ("a1", "a", date(2026, 1, 5), 100.0, 1.0, "S1", "AUTHORISED"),
        ("a2", "a", date(2026, 2, 5), 100.0, 1.0, "S1", "PAID"),
        ("a3", "a", date(2026, 3, 5), 150.0, 1.0, "S1", "PAID"),
        ("a4", "a", date(2026, 6, 5), 120.0, 1.0, "S1", "DRAFT"),
        ("a5", "a", date(2026, 5, 5), 1000.0, 1.0, None, "AUTHORISED"),  # one-off: not recurring
        # b, quarterly: 300.00 USD at 0.5 = 600.00 AUD, so 200.00 a month for Mar-May, and June's invoice is not
        # raised yet on 15 June while the schedule runs: carried
        ("b1", "b", date(2026, 3, 1), 300.0, 0.5, "S2", "AUTHORISED"),
        # e, monthly, billed January and February only: churned in March though its repeating invoice still runs
        ("e1", "e", date(2026, 1, 10), 50.0, 1.0, "S5", "AUTHORISED"),
        ("e2", "e", date(2026, 2, 10), 50.0, 1.0, "S5", "AUTHORISED"),
        # c, monthly: 80 then 60 (contraction); its repeating invoice was deleted, so May is a churn
        ("c1", "c", date(2026, 3, 1), 80.0, 1.0, "S3", "PAID"),
        ("c2", "c", date(2026, 4, 1), 60.0, 1.0, "S3", "PAID"),
        ("c3", "c", date(2026, 5, 1), 500.0, 1.0, "S3", "VOIDED"),
        # d, weekly 10.00: 10 x 52 / 12 = 43.333... = 43.33 a month
        ("d1", "d", date(2026, 6, 1), 10.0, 1.0, "S4", "AUTHORISED"),
        ("d2", "d", date(2026, 6, 8), 10.0, 1.0, "S4", "AUTHORISED"),
    ]
    invoices = pd.DataFrame(
        rows, columns=["id", "contactid", "date", "subtotal", "currencyrate", "repeatinginvoiceid", "status"]
    ).assign(type="ACCREC")
    schedules = pd.DataFrame(
        {
            "id": ["S1", "S2", "S3", "S4", "S5"],
            "status": ["AUTHORISED", "AUTHORISED", "DELETED", "AUTHORISED", "AUTHORISED"],
            "scheduleunit": ["MONTHLY", "MONTHLY", "MONTHLY", "WEEKLY", "MONTHLY"],
            "scheduleperiod": [1, 3, 1, 1, 1],
            "enddate": [None, None, None, None, None],
        }
    )
    return invoices, schedules


def test_mrr_movements_for_new_expansion_contraction_churn_and_return() -> None:
    invoices, schedules = _mrr_inputs()
    contacts = pd.DataFrame({"id": ["a", "b", "c", "d", "e"], "name": ["A", "B", "C", "D", "E"]})
    mrr = recurring.recurring_revenue(invoices, schedules, contacts, date(2026, 6, 15), "AUD")
    rows = {(r.contact_id, r.month): r for r in mrr.itertuples()}

    def moves(contact: str, month: str) -> tuple[Decimal, ...]:
        r = rows[(contact, month)]
        return (r.mrr, r.new, r.expansion, r.contraction, r.churn, r.reactivation)

    z = D("0.00")
    assert moves("a", "2026-01") == (D("100.00"), D("100.00"), z, z, z, z)
    assert moves("a", "2026-02") == (D("100.00"), z, z, z, z, z)  # a month with no movement
    assert moves("a", "2026-03") == (D("150.00"), z, D("50.00"), z, z, z)
    assert moves("a", "2026-04") == (z, z, z, z, D("-150.00"), z)
    assert ("a", "2026-05") not in rows  # between churn and return: nothing to show
    assert moves("a", "2026-06") == (D("120.00"), z, z, z, z, D("120.00"))
    assert rows[("a", "2026-01")].arr == D("1200.00")
    assert [moves("b", m)[0] for m in ("2026-03", "2026-04", "2026-05", "2026-06")] == [D("200.00")] * 4
    assert moves("b", "2026-03")[1] == D("200.00")
    assert moves("e", "2026-03") == (z, z, z, z, D("-50.00"), z) and ("e", "2026-04") not in rows
    assert moves("c", "2026-04") == (D("60.00"), z, z, D("-20.00"), z, z)
    assert moves("c", "2026-05") == (z, z, z, z, D("-60.00"), z)
    assert ("c", "2026-06") not in rows
    assert moves("d", "2026-06") == (D("43.33"), D("43.33"), z, z, z, z)
    assert rows[("a", "2026-03")].contact_name == "A" and set(mrr["currency"]) == {"AUD"}
    # Movements always explain the change: previous MRR + movements = this month's MRR.
    for contact, group in mrr.groupby("contact_id"):
        previous = D(0)
        for r in group.sort_values("month").itertuples():
            assert previous + r.new + r.expansion + r.contraction + r.churn + r.reactivation == r.mrr, (contact, r)
            previous = r.mrr


def test_open_purchase_orders_only_committed_unbilled_in_base_too() -> None:
    orders = pd.DataFrame(
        {
            "id": ["p1", "p2", "p3", "p4", "p5"],
            "purchaseordernumber": ["PO-1", "PO-2", "PO-3", "PO-4", "PO-5"],
            "status": ["DRAFT", "SUBMITTED", "AUTHORISED", "BILLED", "DELETED"],
            "contactid": ["a", "a", "b", "b", "b"],
            "date": [date(2026, 11, 1)] * 5,
            "deliverydate": [None, date(2026, 12, 5), date(2026, 11, 20), None, None],
            "subtotal": [1.0, 10.0, 50.0, 1.0, 1.0],
            "totaltax": [0.0, 1.0, 0.0, 0.0, 0.0],
            "total": [1.0, 11.0, 50.0, 1.0, 1.0],
            "currencycode": ["AUD", "AUD", "GBP", "AUD", "AUD"],
            "currencyrate": [1.0, 1.0, 0.5, 1.0, 1.0],
        }
    )
    out = operations.open_purchase_orders(orders, CONTACTS, AS_AT, "AUD")
    # PO-3 was due 10 days ago (late: -10); 50.00 GBP at 0.5 GBP per AUD = 100.00 AUD. PO-2 is due in 5 days.
    assert out[["purchase_order_number", "contact_name", "days_to_delivery", "total", "currency", "total_base"]] \
        .values.tolist() == [
            ["PO-3", "Beta Inc", -10, D("50.00"), "GBP", D("100.00")],
            ["PO-2", "Acme Ltd", 5, D("11.00"), "AUD", D("11.00")],
        ]  # fmt: skip


def test_inventory_value_of_tracked_items_only() -> None:
    items = pd.DataFrame(
        {
            "id": ["i1", "i2", "i3"], "code": ["A", "B", "C"], "name": ["Laptop", "Service", "Cable"],
            "istrackedasinventory": [True, False, True], "quantityonhand": [4.0, None, 0.0],
            "totalcostpool": [100.0, None, 0.0], "inventoryassetaccountcode": ["630", None, "630"],
        }
    )  # fmt: skip
    out = operations.inventory_value(items, AS_AT, "AUD")
    assert out[["code", "quantity_on_hand", "value", "average_unit_cost"]].values.tolist() == [
        ["A", D("4.0"), D("100.00"), D("25.00")],
        ["C", D("0.0"), D("0.00"), D("0.00")],
    ]


def test_payroll_headcount_with_starters_leavers_and_a_quiet_month() -> None:
    employees = pd.DataFrame(
        {
            "id": ["e1", "e2", "e3"],
            "startdate": [date(2026, 1, 10), date(2026, 2, 1), date(2026, 3, 31)],
            "terminationdate": [None, date(2026, 3, 15), None],
        }
    )
    out = operations.payroll_headcount(employees, date(2026, 4, 10))
    assert out[["month", "headcount", "starters", "leavers"]].values.tolist() == [
        ["2026-01", 1, 1, 0],
        ["2026-02", 2, 1, 0],
        ["2026-03", 2, 1, 1],
        ["2026-04", 2, 0, 0],
    ]


def _org(tenant: str, name: str, currency: str) -> Organisation:
    return Organisation(tenant, name, currency, "AU", 30, 6)


def _kpis(revenue: str, dso: float, currency: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kpi": ["revenue", "dso_days", "cash"],
            "label": ["Revenue", "DSO", "Cash"],
            "value": [D(revenue), D(str(dso)), None],  # cash unknown: never counted as 0
            "unit": ["currency", "days", "currency"],
            "period": ["2026-10", "2026-08..2026-10", "2026-11"],
            "currency": [currency, None, currency],
        }
    )


def test_rollup_sums_only_within_a_currency_and_converts_only_with_rates() -> None:
    organisations = {
        "t1": _org("t1", "Alpha", "AUD"),
        "t2": _org("t2", "Bravo", "AUD"),
        "t3": _org("t3", "Kiwi", "NZD"),
    }
    kpis = {"t1": _kpis("100.10", 30, "AUD"), "t2": _kpis("200.20", 40, "AUD"), "t3": _kpis("50.00", 50, "NZD")}
    without = rollup.rollup(kpis, organisations, target="AUD")

    def one(frame: pd.DataFrame, scope: str, kpi: str, currency: str) -> pd.Series:
        rows = frame[(frame["scope"] == scope) & (frame["kpi"] == kpi) & (frame["currency"] == currency)]
        assert len(rows) == 1, rows
        return rows.iloc[0]

    assert one(without, "organisation", "revenue", "NZD")["organisation_name"] == "Kiwi"
    assert one(without, "currency_total", "revenue", "AUD")["value"] == D("300.30")  # Alpha + Bravo
    assert one(without, "currency_total", "revenue", "NZD")["value"] == D("50.00")
    converted = one(without, "converted_total", "revenue", "AUD")
    assert converted["value"] is None and "NZD" in converted["note"]
    assert set(without.loc[without["kpi"] == "dso_days", "scope"]) == {"organisation"}  # a day count is never summed
    assert set(without.loc[without["kpi"] == "cash", "scope"]) == {"organisation"}  # unknown, so no total of zeros

    # 1 AUD = 1.1 NZD: 50.00 NZD = 45.4545... AUD; 300.30 + 45.4545 = 345.7545 = 345.75 to the cent.
    rated = rollup.rollup(kpis, organisations, rates={"NZD": D("1.1")}, target="AUD")
    total = one(rated, "converted_total", "revenue", "AUD")
    assert total["value"] == D("345.75") and "1.1 NZD" in total["note"]


def test_checks_name_the_contact_and_invoice_and_the_difference() -> None:
    aged = receivables.ageing(_invoices(), _credits(), CONTACTS, "ACCREC", AS_AT, "AUD")
    cells = pd.DataFrame(
        {
            "period": ["a", "b"],
            "row_type": ["SummaryRow", "SummaryRow"],
            "column_label": ["Due", "Due"],
            "amount": [150.10, 100.0],  # Xero says Acme owes 150.10: we net a 30.00 credit Xero does not
        }
    )
    failures = checks_documents.ageing_against_aged_reports("t1", "Org", aged, cells)
    assert failures[["tenant", "organisation", "contact_id", "contact", "dataset", "xero", "difference"]] \
        .values.tolist() == [["t1", "Org", "a", "Acme Ltd", D("120.10"), D("150.10"), D("-30.00")]]  # fmt: skip
    assert failures["period"].tolist() == [f"as at {AS_AT}"]
    control = checks_documents.ageing_against_control_account(
        "t1", "Org", aged, "610 Accounts Receivable", D("207.76"), AS_AT
    )
    assert control.empty
    off = checks_documents.ageing_against_control_account(
        "t1", "Org", aged, "610 Accounts Receivable", D("210.00"), AS_AT
    )
    assert off[["account", "period", "difference"]].values.tolist() == [
        ["610 Accounts Receivable", f"as at {AS_AT}", D("-2.24")]
    ]

    invoices = _invoices().query("id in ['inv1', 'inv8']")
    lines = _lines().query("parent_id in ['inv1', 'inv8']")
    assert checks_documents.invoice_totals_against_lines(
        "t1", "Org", invoices, lines
    ).empty  # 120 + 10 = 130; 115 incl.
    lines.loc[lines["parent_id"] == "inv8", "lineamount"] = 116.0
    wrong = checks_documents.invoice_totals_against_lines("t1", "Org", invoices, lines)
    assert wrong[["invoice_id", "invoice", "period", "figure", "difference"]].values.tolist() == [
        ["inv8", "INV-8 (ACCREC)", "2026-12", "total: lines + tax", D("1.00")]
    ]


def test_an_aged_report_read_before_the_contacts_documents_changed_is_not_compared() -> None:
    from datetime import datetime

    cells = pd.DataFrame(
        {
            "period": ["a", "b", "c"],
            "row_type": ["SummaryRow"] * 3,
            "column_label": ["Due"] * 3,
            "amount": [1.0, 2.0, 3.0],
            "read_at": [datetime(2026, 11, 30, 9)] * 3,
        }
    )
    changes = pd.DataFrame(
        {"contact_id": ["a", "b"], "changed_at": [datetime(2026, 11, 30, 8), datetime(2026, 11, 30, 10)]}
    )
    # a changed before its report was read: current. b was paid after the read: stale. c: nothing known, current.
    assert checks_documents.current_aged_reports(cells, changes)["period"].tolist() == ["a", "c"]


def test_key_figures_for_dagster_metadata() -> None:
    aged = receivables.ageing(_invoices(), _credits(), CONTACTS, "ACCREC", AS_AT, "AUD")
    # 207.76 due, of which all but INV-2's current 50.10 is overdue
    assert receivables.ageing_figures(aged) == {"total_due": 207.76, "overdue": 157.66, "contacts": 3.0}
    invoices, schedules = _mrr_inputs()
    contacts = pd.DataFrame({"id": ["a", "b", "c", "d"], "name": ["A", "B", "C", "D"]})
    figures = recurring.mrr_figures(
        recurring.recurring_revenue(invoices, schedules, contacts, date(2026, 6, 15), "AUD")
    )
    # June: a 120.00 (back) + b 200.00 (carried) + d 43.33 (new) = 363.33; ARR 12 x that
    assert (figures["mrr"], figures["arr"], figures["new"], figures["reactivation"]) == (363.33, 4359.96, 43.33, 120.0)
