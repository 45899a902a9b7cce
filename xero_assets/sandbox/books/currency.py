"""Foreign currency: a few overseas clients and a supplier billed in another currency, a bank account in it, daily
rates, realised gains on payment and an unrealised revaluation at each month end, all posted through the ledger.

As Xero keeps them (developer.xero.com/documentation/api/accounting/currencies and the Invoices and Payments pages;
Xero Central "Currency gains and losses"):

- A document in a foreign currency carries `CurrencyCode` and `CurrencyRate`, the units of that currency per one
  unit of the base currency on the document date; its amounts stay in the document's currency. Journals are in base
  currency: each line is the document amount divided by the rate, rounded to the cent (here half up).
- A payment carries its own `CurrencyRate` (the rate on the payment date). It clears the receivable or payable at
  what the document carried in base currency; the difference from what the bank received in base currency is a
  realised currency gain or loss, a third line of the payment's journal on "Realised Currency Gains".
- At each month end the open foreign documents and the foreign bank account are revalued at that day's rate: one
  journal moves receivables, payables and the bank to the month-end rate against "Unrealised Currency Gains", and a
  reversal on the next day takes it back out (Xero's currency revaluation posts exactly this pair).

Foreign documents here are single-line and zero-rated (exports and imported services), and are paid in full, so a
client can recompute any of them in base currency as round(amount / CurrencyRate) and tie aged reports to the
ledger to the cent. Everything here draws from its own seeded stream, so adding foreign currency left every other
record of an organisation as it was.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from xero_assets.sandbox.books.ids import Ids, add_months, stamp
from xero_assets.sandbox.books.model import Account, Contact, Doc, JournalLine, Line

if TYPE_CHECKING:
    from xero_assets.sandbox.books.books import Books
    from xero_assets.sandbox.books.generate import Generator

# Foreign units per base unit, around which each day's rate moves (roughly the 2026 market).
REFERENCE_RATES = {
    ("AUD", "USD"): Decimal("0.655"),
    ("NZD", "USD"): Decimal("0.595"),
    ("GBP", "USD"): Decimal("1.27"),
    ("USD", "EUR"): Decimal("0.925"),
}
BANK_CODE, REALISED_CODE, UNREALISED_CODE = "092", "497", "498"
_SIX_PLACES = Decimal("0.000001")


def to_base(cents: int, rate: Decimal | None) -> int:
    """Document-currency cents in base-currency cents: divided by the rate, rounded half up to the cent."""
    if rate is None:
        return cents
    return int((Decimal(cents) / rate).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def rate_on(base: str, foreign: str, day: date) -> Decimal:
    """The day's rate (foreign per base, six places): a smooth deterministic drift of a few percent a month."""
    reference = REFERENCE_RATES.get((base, foreign), Decimal("1.1"))
    n = day.toordinal()
    drift = 0.04 * math.sin(n / 29.0) + 0.015 * math.sin(n / 7.3)
    return (reference * Decimal(str(round(1 + drift, 6)))).quantize(_SIX_PLACES)


def foreign_currency(books: Books) -> str:
    """The one foreign currency an organisation trades in: the last of its profile's other currencies."""
    return books.profile.other_currencies[-1][0]


@dataclass
class ForeignTrade:
    """What the generator needs to carry between months: the foreign contacts, open documents and bank movements."""

    currency: str
    rng: random.Random
    ids: Ids
    customers: list[Contact] = field(default_factory=list)
    supplier: Contact | None = None
    bank: Account | None = None
    docs: list[Doc] = field(default_factory=list)
    bank_moves: list[tuple[date, int, int]] = field(default_factory=list)  # (day, foreign cents, base cents)


@contextmanager
def _own_stream(gen: Generator, trade: ForeignTrade) -> Iterator[None]:
    """The generator's primitives (add_doc, pay) draw ids and timestamps from the foreign trade's own stream, so the
    rest of the organisation's records come out exactly as they would without foreign currency."""
    rng, ids = gen.rng, gen.ids
    gen.rng, gen.ids = trade.rng, trade.ids
    try:
        yield
    finally:
        gen.rng, gen.ids = rng, ids


def setup_foreign(gen: Generator) -> ForeignTrade:
    """The foreign bank account, the gains accounts and the overseas contacts (after the chart and contacts)."""
    books = gen.books
    currency = foreign_currency(books)
    trade = ForeignTrade(
        currency, random.Random(f"fx:{books.tenant_id}"), Ids(random.Random(f"fx-ids:{books.tenant_id}"))
    )
    created = books.created or gen.now
    chart = list(books.accounts_by_code.values())
    for offset, (code, name, type_, klass, system, account_currency) in enumerate((
        (BANK_CODE, f"{currency} Bank Account", "BANK", "ASSET", None, currency),
        (REALISED_CODE, "Realised Currency Gains", "EXPENSE", "EXPENSE", "REALISEDCURRENCYGAIN", None),
        (UNREALISED_CODE, "Unrealised Currency Gains", "EXPENSE", "EXPENSE", "UNREALISEDCURRENCYGAIN", None),
    )):  # fmt: skip
        account = Account(
            id=trade.ids(),
            seq=gen.next_seq(),
            updated=created + timedelta(minutes=30 + offset),
            code=code,
            name=name,
            type=type_,
            klass=klass,
            tax_type=gen.tax("none").tax_type,
            system=system,
            bank_number=f"{trade.rng.randrange(10**9, 10**10)}" if type_ == "BANK" else None,
            index=len(chart) + offset,
            currency=account_currency,
        )
        books.accounts_by_code[code] = account
        gen.out["accounts"].append(account)
    trade.bank = books.account(BANK_CODE)
    abroad = {"USD": ("Seattle", "Austin"), "EUR": ("Dublin", "Berlin")}.get(currency, ("Overseas", "Abroad"))
    for n in range(max(2, gen.spec.customers // 60)):
        city = abroad[n % len(abroad)]
        contact = _contact(gen, trade, f"{city} Systems Group {n + 1}", customer=True, city=city)
        trade.customers.append(contact)
    trade.supplier = _contact(gen, trade, f"Cloud Platform {currency} Inc", customer=False, city=abroad[0])
    books._controls = None  # built before the gains accounts existed: rebuild with Realised Currency Gains
    return trade


def _contact(gen: Generator, trade: ForeignTrade, name: str, customer: bool, city: str) -> Contact:
    rng = trade.rng
    first = rng.choice(("Alex", "Jordan", "Casey", "Morgan"))
    contact = Contact(
        id=trade.ids(),
        seq=gen.next_seq(),
        updated=stamp(gen.start, rng, gen.now),
        name=name,
        number=f"FX{gen.seq:05d}",
        first_name=first,
        last_name="Rivera",
        email=f"{first}.rivera@{name.split()[0].lower()}.example".lower(),
        is_customer=customer,
        is_supplier=not customer,
        account_number=f"FX{rng.randrange(10**5, 10**6)}",
        phone=f"+1 {rng.randrange(200, 999)} {rng.randrange(1000, 9999)}",
        city=city,
        currency=trade.currency,
    )
    gen.out["contacts"].append(contact)
    return contact


def trade_foreign_month(gen: Generator, trade: ForeignTrade, month: date) -> None:
    """One month abroad: a transfer into the foreign account, a sale to each overseas client, the supplier's bill,
    their payments when due, and the month-end revaluation once the month is over."""
    with _own_stream(gen, trade):
        _trade_month(gen, trade, month)


def _trade_month(gen: Generator, trade: ForeignTrade, month: date) -> None:
    books, rng, base = gen.books, trade.rng, gen.books.profile.currency
    assert trade.bank is not None and trade.supplier is not None
    home = books.account("090")
    day = max(month, gen.start) + timedelta(days=1)
    if day <= gen.today:
        _transfer(gen, trade, home, day, rng.randrange(200_000, 500_000))
    for n, contact in enumerate(trade.customers):
        day = month + timedelta(days=4 + n)
        if day > gen.today:
            continue
        line = Line("Managed IT services (overseas)", 1, rng.randrange(150_000, 900_000), books.account("200"),
                    gen.tax("exempt_sales"))  # fmt: skip
        invoice = _foreign_doc(gen, trade, "ACCREC", contact, day, line, gen.number("INV", 6), 20)
        paid_on = day + timedelta(days=rng.randrange(10, 50))
        if paid_on <= gen.today:
            into = trade.bank if n % 2 else home
            gen.pay(invoice, paid_on, invoice.outstanding(), bank=into)
            if into is trade.bank:
                _move(trade, paid_on, invoice.total, invoice.payments[-1])
    day = month + timedelta(days=9)
    if day <= gen.today:
        line = Line("Cloud hosting (imported)", 1, rng.randrange(60_000, 250_000), books.account("320"),
                    gen.tax("exempt_purchase"))  # fmt: skip
        bill = _foreign_doc(gen, trade, "ACCPAY", trade.supplier, day, line, f"CP-{month:%Y%m}", 30)
        paid_on = day + timedelta(days=rng.randrange(15, 35))
        if paid_on <= gen.today:
            gen.pay(bill, paid_on, bill.outstanding(), bank=trade.bank)
            _move(trade, paid_on, -bill.total, bill.payments[-1])
    month_end = add_months(month.replace(day=1), 1) - timedelta(days=1)
    if month_end < gen.today:
        revalue(gen, trade, month_end, rate_on(base, trade.currency, month_end))


def _foreign_doc(
    gen: Generator, trade: ForeignTrade, type_: str, contact: Contact, day: date, line: Line, number: str, terms: int
) -> Doc:
    assert line.tax.rate_bp == 0, "foreign documents are zero-rated, so base = round(Total / CurrencyRate)"
    doc = gen.add_doc(
        "invoices", type_, contact, day, [line], due=day + timedelta(days=terms), number=number,
        reference=f"{trade.currency} {line.description}",
        currency=trade.currency, rate=rate_on(gen.books.profile.currency, trade.currency, day),
    )  # fmt: skip
    trade.docs.append(doc)
    return doc


def _move(trade: ForeignTrade, day: date, foreign: int, payment: object) -> None:
    """Money in (+) or out (-) of the foreign bank account, in its currency and in base as the journal posted it."""
    from xero_assets.sandbox.books.model import Payment

    assert isinstance(payment, Payment) and payment.rate is not None
    trade.bank_moves.append((day, foreign, to_base(foreign, payment.rate)))


def _transfer(gen: Generator, trade: ForeignTrade, home: Account, day: date, foreign: int) -> None:
    """Home currency into the foreign account: Amount in the home currency, CurrencyRate the day's rate."""
    assert trade.bank is not None
    rate = rate_on(gen.books.profile.currency, trade.currency, day)
    base = to_base(foreign, rate)
    created = stamp(day, trade.rng, gen.now)
    transfer_id = trade.ids()
    lines: list[JournalLine] = [(trade.bank, base, 0, None, "", None), (home, -base, 0, None, "", None)]
    gen.books.ledger.post(day, created, "TRANSFER", transfer_id, lines, f"Fund {trade.currency} account")
    trade.bank_moves.append((day, foreign, base))
    from xero_assets.sandbox.books.attachments import has_attachment
    from xero_assets.sandbox.books.render import iso_time, ms_date

    gen.plain("bank_transfers", transfer_id, created, {
        "BankTransferID": transfer_id,
        "FromBankAccount": {"AccountID": home.id, "Code": home.code, "Name": home.name},
        "ToBankAccount": {"AccountID": trade.bank.id, "Code": trade.bank.code, "Name": trade.bank.name},
        "Amount": base / 100, "Date": ms_date(day), "DateString": f"{day.isoformat()} 00:00:00",
        "FromBankTransactionID": trade.ids(), "ToBankTransactionID": trade.ids(), "FromIsReconciled": True,
        "ToIsReconciled": True, "Reference": f"Fund {trade.currency} account", "CurrencyRate": float(rate),
        "HasAttachments": has_attachment("bank_transfers", transfer_id),
        "CreatedDateUTCString": iso_time(created).replace("T", " ").rstrip("Z"), "Status": "AUTHORISED",
    }, status="AUTHORISED")  # fmt: skip


def base_outstanding(doc: Doc, as_at: date | None = None) -> int:
    """What the ledger carries for a document in base currency: its posted total less what its payments cleared."""
    total = to_base(doc.total, doc.rate)
    cleared = sum(p.base if p.base is not None else p.amount for p in doc.payments
                  if p.status == "AUTHORISED" and (as_at is None or p.date <= as_at))  # fmt: skip
    return 0 if doc.status not in ("AUTHORISED",) else total - cleared


def revalue(gen: Generator, trade: ForeignTrade, day: date, rate: Decimal) -> None:
    """Month-end revaluation at `rate` against Unrealised Currency Gains, reversed the next day."""
    books = gen.books
    ar_adjust = ap_adjust = 0
    for doc in trade.docs:
        if doc.date > day or doc.status != "AUTHORISED":
            continue
        open_foreign = doc.outstanding(day)
        if open_foreign == 0:
            continue
        change = to_base(open_foreign, rate) - base_outstanding(doc, day)
        if doc.type == "ACCREC":
            ar_adjust += change
        else:
            ap_adjust -= change  # a payable is a credit balance: it grows more negative as it grows
    foreign = sum(f for d, f, _ in trade.bank_moves if d <= day)
    carried = sum(b for d, _, b in trade.bank_moves if d <= day)
    bank_adjust = to_base(foreign, rate) - carried
    assert trade.bank is not None
    lines: list[JournalLine] = [
        (account, cents, 0, None, "Currency revaluation", None)
        for account, cents in (
            (books.controls.ar, ar_adjust),
            (books.controls.ap, ap_adjust),
            (trade.bank, bank_adjust),
        )
        if cents
    ]
    if not lines:
        return
    lines.append((books.account(UNREALISED_CODE), -sum(c for _, c, *_ in lines), 0, None, "Currency revaluation", None))
    narration = f"Unrealised currency revaluation at {day.isoformat()} ({trade.currency} {rate})"
    _manual_journal(gen, trade, day, narration, lines)
    reverse_on = day + timedelta(days=1)
    if reverse_on <= gen.today:
        from xero_assets.sandbox.books.ledger import reversal_lines

        _manual_journal(gen, trade, reverse_on, f"Reversal: {narration}", reversal_lines(lines))


def _manual_journal(gen: Generator, trade: ForeignTrade, day: date, narration: str, lines: list[JournalLine]) -> None:
    from xero_assets.sandbox.books.attachments import has_attachment
    from xero_assets.sandbox.books.render import money, ms_date

    created = stamp(day, trade.rng, gen.now, earliest_hour=18, hours=4)
    journal_id = trade.ids()
    gen.books.ledger.post(day, created, "MANJOURNAL", journal_id, lines, narration)
    tax = gen.tax("none")
    gen.plain("manual_journals", journal_id, created, {
        "ManualJournalID": journal_id, "Narration": narration, "Date": ms_date(day), "Status": "POSTED",
        "LineAmountTypes": "NoTax", "ShowOnCashBasisReports": False,
        "HasAttachments": has_attachment("manual_journals", journal_id),
    }, status="POSTED", lines=[{
        "LineAmount": money(cents), "AccountCode": account.code, "AccountID": account.id, "Description": text,
        "TaxType": tax.tax_type, "TaxAmount": 0.0, "IsBlank": False, "Tracking": [],
    } for account, cents, _, _, text, _ in lines], lines_key="JournalLines")  # fmt: skip


__all__ = ["ForeignTrade", "base_outstanding", "rate_on", "setup_foreign", "to_base", "trade_foreign_month"]
