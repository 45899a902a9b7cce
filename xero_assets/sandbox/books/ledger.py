"""The general ledger: journals posted from documents, and the running sums every report reads.

Every document that moves money posts one journal whose lines' net amounts sum to zero (debits positive). Reports
never re-derive numbers from documents; they read the per-account daily sums kept here as journals are posted, so a
client that sums the journals it synced gets Xero's report figures to the cent. Journals are immutable: voiding or
deleting posts a reversal with the original's date, and edits post a reversal and a new journal.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime

from xero_assets.sandbox.books.currency import to_base
from xero_assets.sandbox.books.model import Account, Doc, Journal, JournalLine, Payment

# Source types whose lines mirror the document's line items, and the sign their line items take (+1 debit).
_DOC_SIGNS: dict[str, tuple[int, str]] = {
    "ACCREC": (-1, "ar"),
    "ACCPAY": (1, "ap"),
    "ACCRECCREDIT": (1, "ar"),
    "ACCPAYCREDIT": (-1, "ap"),
    "RECEIVE": (-1, "bank"),
    "SPEND": (1, "bank"),
}
_DOC_SOURCE = {"RECEIVE": "CASHREC", "SPEND": "CASHPAID"}
# Overpayments and prepayments sit in the control account until allocated: bank against AR (receive) or AP (spend).
_CREDIT_SOURCE = {
    "RECEIVE-OVERPAYMENT": ("AROVERPAYMENT", "ar", 1),
    "RECEIVE-PREPAYMENT": ("ARPREPAYMENT", "ar", 1),
    "SPEND-OVERPAYMENT": ("APOVERPAYMENT", "ap", -1),
    "SPEND-PREPAYMENT": ("APPREPAYMENT", "ap", -1),
}
# Payment types: (control account, +1 when money comes into the bank).
_PAYMENT_FLOW = {
    "ACCRECPAYMENT": ("ar", 1),
    "ACCPAYPAYMENT": ("ap", -1),
    "ARCREDITPAYMENT": ("ar", -1),
    "APCREDITPAYMENT": ("ap", 1),
    "AROVERPAYMENTPAYMENT": ("ar", -1),
    "APOVERPAYMENTPAYMENT": ("ap", 1),
    "ARPREPAYMENTPAYMENT": ("ar", -1),
    "APPREPAYMENTPAYMENT": ("ap", 1),
}
# The journal SourceType a payment posts under (Xero's enum has no refund-of-over/prepayment type of its own).
_PAYMENT_SOURCE = {
    "AROVERPAYMENTPAYMENT": "AROVERPAYMENT",
    "APOVERPAYMENTPAYMENT": "APOVERPAYMENT",
    "ARPREPAYMENTPAYMENT": "ARPREPAYMENT",
    "APPREPAYMENTPAYMENT": "APPREPAYMENT",
}


@dataclass(frozen=True)
class Controls:
    """The system accounts postings need: receivables, payables and the tax liability."""

    ar: Account
    ap: Account
    tax: Account
    realised: Account | None = None  # Realised Currency Gains, where foreign-currency payments post the difference

    def control(self, name: str, bank: Account | None) -> Account:
        if name == "bank":
            assert bank is not None, "a bank transaction needs its bank account"
            return bank
        return self.ar if name == "ar" else self.ap


def doc_posting(doc: Doc, controls: Controls) -> tuple[str, list[JournalLine]]:
    """The SourceType and lines a document posts when authorised."""
    if doc.type in _CREDIT_SOURCE:
        source, control, direction = _CREDIT_SOURCE[doc.type]
        assert doc.bank is not None
        total = doc.total * direction
        return source, [
            (doc.bank, total, 0, None, doc.reference, None),
            (controls.control(control, None), -total, 0, None, doc.reference, None),
        ]
    sign, control = _DOC_SIGNS[doc.type]
    lines: list[JournalLine] = []
    tax_total = 0
    for line in doc.lines:  # in base currency: a foreign document's amounts divided by its rate
        tax = to_base(line.tax_cents, doc.rate) * sign
        tax_total += tax
        net = to_base(line.amount, doc.rate) * sign
        lines.append((line.account, net, tax, line.tax, line.description, line.options))
    if tax_total:
        lines.append((controls.tax, tax_total, 0, None, "", None))
    lines.append((controls.control(control, doc.bank), -sum(net for _, net, *_ in lines), 0, None, "", None))
    return _DOC_SOURCE.get(doc.type, doc.type), lines


def payment_posting(payment: Payment, controls: Controls) -> tuple[str, list[JournalLine]]:
    """Bank against the document's control account, in the direction the money moves."""
    control, direction = _PAYMENT_FLOW[payment.type]
    source = _PAYMENT_SOURCE.get(payment.type, payment.type)
    if payment.rate is None:
        amount = payment.amount * direction
        return source, [
            (payment.bank, amount, 0, None, payment.reference, None),
            (controls.control(control, None), -amount, 0, None, payment.reference, None),
        ]
    # Foreign currency: the bank takes the amount at the payment's rate, the control account is cleared at what the
    # document carried; the difference is a realised gain (credit) or loss (debit).
    banked = to_base(payment.amount, payment.rate) * direction
    cleared = (payment.base if payment.base is not None else to_base(payment.amount, payment.doc.rate)) * direction
    assert controls.realised is not None, "foreign-currency payments need a Realised Currency Gains account"
    lines: list[JournalLine] = [
        (payment.bank, banked, 0, None, payment.reference, None),
        (controls.control(control, None), -cleared, 0, None, payment.reference, None),
    ]
    if banked != cleared:
        lines.append((controls.realised, cleared - banked, 0, None, "Realised currency gain/loss", None))
    return source, lines


def transfer_posting(source: Account, target: Account, cents: int) -> list[JournalLine]:
    return [(target, cents, 0, None, "", None), (source, -cents, 0, None, "", None)]


def reversal_lines(lines: Iterable[JournalLine]) -> list[JournalLine]:
    """The same lines with every amount negated: posted on the original's date, they cancel it in every report."""
    return [(acc, -net, -tax, rate, desc, opt) for acc, net, tax, rate, desc, opt in lines]


class _Series:
    """Daily net sums for one key, with cumulative sums rebuilt lazily so a balance is two bisects."""

    __slots__ = ("by_day", "cum", "days", "dirty")

    def __init__(self) -> None:
        self.by_day: dict[date, int] = defaultdict(int)
        self.days: list[date] = []
        self.cum: list[int] = []
        self.dirty = False

    def add(self, day: date, cents: int) -> None:
        self.by_day[day] += cents
        self.dirty = True

    def upto(self, day: date | None) -> int:
        """Sum of every day on or before `day` (everything when None)."""
        if self.dirty:
            self.days = sorted(self.by_day)
            running, self.cum = 0, []
            for d in self.days:
                running += self.by_day[d]
                self.cum.append(running)
            self.dirty = False
        if not self.cum:
            return 0
        if day is None:
            return self.cum[-1]
        at = bisect.bisect_right(self.days, day)
        return self.cum[at - 1] if at else 0

    def between(self, start: date | None, end: date | None) -> int:
        if start is None:
            return self.upto(end)
        return self.upto(end) - self.upto(_day_before(start))


def _day_before(day: date) -> date:
    return date.fromordinal(day.toordinal() - 1)


class Ledger:
    """Journals in JournalNumber order plus running sums per account, per account and tracking option, per tax type.

    While the world is built, journals are collected and numbered by CreatedDateUTC at `seal()`, so JournalNumber
    order is creation order as in Xero. After sealing, each post gets the next number at once.
    """

    def __init__(self, new_id: Callable[[], str]) -> None:
        self.journals: list[Journal] = []
        self._pending: list[tuple[datetime, int, date, str, str, list[JournalLine], str]] = []
        self._sealed = False
        self._new_id = new_id
        self._by_id: dict[str, Journal] | None = None
        self.accounts: dict[int, _Series] = defaultdict(_Series)
        self.tracked: dict[tuple[int, str], _Series] = defaultdict(_Series)
        self.tax_net: dict[str, _Series] = defaultdict(_Series)
        self.tax_tax: dict[str, _Series] = defaultdict(_Series)
        self.debits: dict[int, _Series] = defaultdict(_Series)  # debit side only, for cash received/spent
        self.line_count = 0

    def post(
        self, day: date, created: datetime, source_type: str, source_id: str, lines: list[JournalLine], ref: str = ""
    ) -> Journal | None:
        """Post a balanced journal (numbered now, or at seal() while building); returns it once numbered."""
        assert sum(line[1] for line in lines) == 0, f"unbalanced journal for {source_type} {source_id}"
        if not self._sealed:
            self._pending.append((created, len(self._pending), day, source_type, source_id, lines, ref))
            return None
        return self._append(day, created, source_type, source_id, lines, ref)

    def seal(self) -> None:
        self._pending.sort(key=lambda p: (p[0], p[1]))
        for created, _, day, source_type, source_id, lines, ref in self._pending:
            self._append(day, created, source_type, source_id, lines, ref)
        self._pending = []
        self._sealed = True

    def _append(
        self, day: date, created: datetime, source_type: str, source_id: str, lines: list[JournalLine], ref: str
    ) -> Journal:
        journal = Journal(len(self.journals) + 1, self._new_id(), day, created, source_type, source_id, lines, ref)
        self.journals.append(journal)
        if self._by_id is not None:
            self._by_id[journal.id.lower()] = journal
        for account, net, tax, rate, _, option in lines:
            self.accounts[account.index].add(day, net)
            if net > 0:
                self.debits[account.index].add(day, net)
            if option is not None:
                for one in option if isinstance(option, tuple) else (option,):
                    self.tracked[(account.index, one.id)].add(day, net)
            if rate is not None:
                self.tax_net[rate.tax_type].add(day, net)
                self.tax_tax[rate.tax_type].add(day, tax)
        self.line_count += len(lines)
        return journal

    def find(self, journal_id: str) -> Journal | None:
        if self._by_id is None:
            self._by_id = {j.id.lower(): j for j in self.journals}
        return self._by_id.get(journal_id.lower())

    def balance(self, account: Account, start: date | None, end: date | None) -> int:
        """Net debits minus credits on `account` between two dates inclusive (None: open-ended)."""
        series = self.accounts.get(account.index)
        return series.between(start, end) if series is not None else 0

    def debited(self, account: Account, start: date | None, end: date | None) -> int:
        """Debits alone on `account` (money in, for a bank account); credits are debits minus the balance."""
        series = self.debits.get(account.index)
        return series.between(start, end) if series is not None else 0

    def tracked_balance(self, account: Account, option_id: str, start: date | None, end: date | None) -> int:
        series = self.tracked.get((account.index, option_id))
        return series.between(start, end) if series is not None else 0

    def tax_totals(self, tax_type: str, start: date | None, end: date | None) -> tuple[int, int]:
        net = self.tax_net.get(tax_type)
        tax = self.tax_tax.get(tax_type)
        return (net.between(start, end) if net else 0, tax.between(start, end) if tax else 0)
