"""The general ledger at journal-line grain, named: every line with its journal, source document, account, contact
and tracking, so a BI can filter the ledger the way Xero's Account Transactions report does.

Journals come as Xero sent them (the only place the lines' tracking is kept) in batches; contacts and accounts are
small look-ups read once, and each batch's source documents (and the payments pointing at them) are looked up by
their ids with the batch, since an organisation's documents grow with its ledger. `ledger_lines` is pure: a test
hands it a few journals and look-ups and checks every field.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from xero_assets.datasets.chart import CLASS_OF_TYPE
from xero_assets.datasets.ledger_reads import journal_batches, rows_with_ids
from xero_assets.datasets.money import money, month_key
from xero_assets.datasets.spec import DatasetInputs
from xero_assets.xero import dates

GL_COLUMNS = (
    "journal_id", "line_no", "journal_line_id", "date", "month", "journal_number", "source_type", "source_id",
    "document_type", "document_number", "reference", "account_id", "account_code", "account_name", "account_type",
    "account_class", "contact_id", "contact_name", "description", "tracking_category_1", "tracking_option_1",
    "tracking_category_2", "tracking_option_2", "tax_type", "net_amount", "tax_amount", "gross_amount",
)  # fmt: skip

# Journal SourceType -> (what a person calls the document, the typed table holding it).
SOURCE_DOCUMENTS: Mapping[str, tuple[str, str]] = {
    "ACCREC": ("sales invoice", "invoices"),
    "ACCPAY": ("bill", "invoices"),
    "ACCRECCREDIT": ("sales credit note", "credit_notes"),
    "ACCPAYCREDIT": ("purchase credit note", "credit_notes"),
    "CASHREC": ("receive money", "bank_transactions"),
    "CASHPAID": ("spend money", "bank_transactions"),
    "TRANSFER": ("bank transfer", "bank_transfers"),
    "AROVERPAYMENT": ("customer overpayment", "overpayments"),
    "APOVERPAYMENT": ("supplier overpayment", "overpayments"),
    "ARPREPAYMENT": ("customer prepayment", "prepayments"),
    "APPREPAYMENT": ("supplier prepayment", "prepayments"),
    "MANJOURNAL": ("manual journal", "manual_journals"),
    **{kind: ("payment", "payments") for kind in (
        "ACCRECPAYMENT", "ACCPAYPAYMENT", "ARCREDITPAYMENT", "APCREDITPAYMENT", "AROVERPAYMENTPAYMENT",
        "APOVERPAYMENTPAYMENT", "ARPREPAYMENTPAYMENT", "APPREPAYMENTPAYMENT")},
}  # fmt: skip

# Typed table -> (its number column, or None) for the document look-up.
_DOCUMENT_TABLES = {
    "invoices": ("xero_invoices", "invoicenumber"),
    "credit_notes": ("xero_credit_notes", "creditnotenumber"),
    "bank_transactions": ("xero_bank_transactions", "reference"),
    "overpayments": ("xero_overpayments", None),
    "prepayments": ("xero_prepayments", None),
    "manual_journals": ("xero_manual_journals", "narration"),
    "bank_transfers": ("xero_bank_transfers", None),
}
# A payment's column naming the document it pays -> that document's table (SOURCE_DOCUMENTS' second element).
_PAYMENT_TARGETS = {
    "invoiceid": "invoices",
    "creditnoteid": "credit_notes",
    "overpaymentid": "overpayments",
    "prepaymentid": "prepayments",
}


@dataclass(frozen=True)
class Lookups:
    """Small id -> facts maps the ledger lines are named from."""

    documents: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)  # id -> (number, contact)
    payments: Mapping[str, str] = field(default_factory=dict)  # payment id -> the document it pays
    contacts: Mapping[str, str] = field(default_factory=dict)  # contact id -> name
    accounts: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)  # id -> (type, class)


def _tracking(line: Mapping[str, Any]) -> list[tuple[str | None, str | None]]:
    found = [(t.get("Name"), t.get("Option")) for t in line.get("TrackingCategories") or []]
    return [*found, (None, None), (None, None)][:2]


def ledger_lines(journals: Iterable[Mapping[str, Any]], lookups: Lookups) -> pd.DataFrame:
    """One row per journal line (GL_COLUMNS): amounts to the cent, debits positive."""
    rows = []
    for journal in journals:
        moment = dates.parse(journal.get("JournalDate"))
        day = moment.date() if moment else None
        source_type = journal.get("SourceType")
        source_id = journal.get("SourceID")
        document_type = SOURCE_DOCUMENTS.get(str(source_type), (None, None))[0]
        document_id = lookups.payments.get(source_id, source_id) if source_id else None
        number, contact = lookups.documents.get(document_id, (None, None)) if document_id else (None, None)
        for line_no, line in enumerate(journal.get("JournalLines") or []):
            (cat1, opt1), (cat2, opt2) = _tracking(line)
            account_type = line.get("AccountType")
            known_type, known_class = lookups.accounts.get(line.get("AccountID"), (None, None))
            account_type = account_type or known_type
            rows.append((
                journal.get("JournalID"), line_no, line.get("JournalLineID"), day, month_key(day) if day else None,
                journal.get("JournalNumber"), source_type, source_id, document_type, number,
                journal.get("Reference") or None, line.get("AccountID"), line.get("AccountCode"),
                line.get("AccountName"), account_type, known_class or CLASS_OF_TYPE.get(str(account_type)),
                contact, lookups.contacts.get(contact) if contact else None, line.get("Description") or None,
                cat1, opt1, cat2, opt2, line.get("TaxType"), money(line.get("NetAmount")),
                money(line.get("TaxAmount")), money(line.get("GrossAmount")),
            ))  # fmt: skip
    return pd.DataFrame(rows, columns=list(GL_COLUMNS))


def read_names(inputs: DatasetInputs) -> Lookups:
    """The look-ups that do not grow with the ledger, read once: contact names and account types."""
    contacts_frame = inputs.typed("xero_contacts", ["id", "name"])
    accounts_frame = inputs.typed("xero_accounts", ["id", "type", "class"])
    return Lookups(
        contacts=dict(zip(contacts_frame["id"], contacts_frame["name"], strict=True)),
        accounts={i: (t, c) for i, t, c in accounts_frame.itertuples(index=False)},
    )


def read_lookups(inputs: DatasetInputs, sources: Iterable[tuple[str | None, str | None]], names: Lookups) -> Lookups:
    """`names` with the payments and source documents of one batch of journals (their (SourceType, SourceID)
    pairs): only those rows, so the look-ups follow the batch, not the organisation's hundreds of thousands of
    documents. The source type says which table holds each id (a payment's own row says which document it pays),
    so each table is asked only for its own ids, and only when the batch has some: three or four queries a batch
    instead of one per document table."""
    wanted: dict[str, set[str]] = {}
    paid: set[str] = set()
    for source_type, source_id in sources:
        kind = SOURCE_DOCUMENTS.get(str(source_type), (None, None))[1]
        if source_id and kind == "payments":
            paid.add(source_id)
        elif source_id and kind:
            wanted.setdefault(kind, set()).add(source_id)
    payments: dict[str, str] = {}
    for payment_id, *targets in rows_with_ids(inputs, "xero_payments", ["id", *_PAYMENT_TARGETS], sorted(paid)):
        paid_kinds = zip(_PAYMENT_TARGETS.values(), targets, strict=True)
        kind, document_id = next(((kind, value) for kind, value in paid_kinds if value), (None, None))
        if kind and document_id:
            payments[payment_id] = document_id
            wanted.setdefault(kind, set()).add(document_id)
    documents: dict[str, tuple[str | None, str | None]] = {}
    for kind, ids in wanted.items():
        table, number = _DOCUMENT_TABLES[kind]
        has_contact = table not in ("xero_bank_transfers", "xero_manual_journals")
        columns = ["id", *([number] if number else []), *(["contactid"] if has_contact else [])]
        for row in rows_with_ids(inputs, table, columns, sorted(ids)):
            documents[row[0]] = (row[1] if number else None, row[-1] if has_contact else None)
    return replace(names, documents=documents, payments=payments)


def general_ledger_chunks(inputs: DatasetInputs) -> Iterator[pd.DataFrame]:
    """The general ledger a batch of journals at a time (the writer stores each before the next is read), each
    batch named from look-ups of its own documents."""
    names = read_names(inputs)
    for batch in journal_batches(inputs):
        lookups = read_lookups(inputs, ((j.get("SourceType"), j.get("SourceID")) for j in batch), names)
        yield ledger_lines(batch, lookups)
