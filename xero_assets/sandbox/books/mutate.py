"""Change over time: create, edit, void and delete records as Xero would, as of the clock's now.

A spec is `{"action": ..., "api": ..., "count": N}` or `{"action": ..., "api": ..., "id": "..."}`:

- invoices: create (new sales invoice and its journal); edit (a quantity change: reversal + new journal);
  edit_quiet (DueDate of a part-paid invoice, not bumped); void (reversal journal); delete (a draft becomes DELETED).
- payments: create (pays an open sales invoice); delete (DELETED, with a reversal journal).
- credit_notes: create (and its journal); void (reversal journal).
- bank_transactions: create (spend money); void (VOIDED) and delete (DELETED), each with a reversal journal.
- contacts: create; edit (email change); edit_quiet (IsSupplier flip, not bumped); delete (ARCHIVED).
- any other records API: edit (touch: UpdatedDateUTC = now).

Every change bumps UpdatedDateUTC to now (and moves the record to the end of the default order) except
`edit_quiet`, which reproduces Xero's documented quirk that some edits (a part-paid invoice's DueDate, a contact's
IsSupplier) change a record without bumping it, so an If-Modified-Since sync misses them. Journals are immutable:
edits and voids post reversals. The result lists what changed so a test can assert a client saw it: `ids`, and
`changes` (`{"api", "id", "created"}` once per record, which the sandbox turns into webhook events).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from xero_assets.sandbox.books.generate import SIZES, Generator
from xero_assets.sandbox.books.ledger import doc_posting, reversal_lines
from xero_assets.sandbox.books.model import Doc, Line, Payment
from xero_assets.sandbox.books.query import VALIDATION, QueryError
from xero_assets.sandbox.books.truth import iso

if TYPE_CHECKING:
    from xero_assets.sandbox.books.books import Books

ACTIONS = ("create", "edit", "edit_quiet", "void", "delete")


class Change:
    """One mutation in progress: a generator writing at `now`, and the records it touched."""

    def __init__(self, books: Books, spec: Mapping[str, Any]) -> None:
        self.books = books
        self.spec = spec
        self.now = books.now()
        self.gen = Generator(books, SIZES[books.size])
        self.gen.stamp = lambda day: self.now  # type: ignore[method-assign]
        self.touched: list[tuple[str, Any]] = []
        self.changed: list[str] = []
        self.journals_before = len(books.ledger.journals)

    @property
    def today(self):  # type: ignore[no-untyped-def]
        return self.now.date()

    def touch(self, api: str, record: Any) -> None:
        self.touched.append((api, record))

    def pick(self, api: str, predicate: Callable[[Any], bool], what: str) -> list[Any]:
        """The record named by `id`, or `count` deterministic choices among those `predicate` accepts."""
        collection = self.books.collections[api]
        if self.spec.get("id"):
            record = collection.find(str(self.spec["id"]))
            if record is None:
                raise QueryError(VALIDATION, f"No {api} record with id {self.spec['id']}")
            if not predicate(record):
                raise QueryError(VALIDATION, f"{api} {self.spec['id']} is not {what}")
            return [record]
        candidates = [r for r in collection if predicate(r)]
        count = self.count()
        if len(candidates) < count:
            raise QueryError(VALIDATION, f"only {len(candidates)} {api} records are {what}; asked for {count}")
        return self.books.rng.sample(candidates, count)

    def count(self) -> int:
        return int(self.spec.get("count", 1))

    def finish(self, bumped: bool = True) -> dict[str, Any]:
        changes: dict[tuple[str, str], bool] = {}  # (api, id) -> created; what webhooks announce
        for name, records in self.gen.out.items():
            for record in records:
                self.books.collections[name].add(record)
                self.changed.append(record.id)
                changes[(name, record.id)] = True
        if bumped:
            for name, record in self.touched:
                self.books.collections[name].touch(record, self.now)
                self.changed.append(record.id)
        else:
            self.changed += [record.id for _, record in self.touched]
        for name, record in self.touched:
            changes.setdefault((name, record.id), False)
        journals = self.books.ledger.journals[self.journals_before :]
        return {
            "action": self.spec["action"],
            "api": self.spec["api"],
            "ids": list(dict.fromkeys(self.changed)),
            "changes": [{"api": api, "id": rid, "created": created} for (api, rid), created in changes.items()],
            "journals": [j.number for j in journals],
            "updated": iso(self.now) if bumped else None,
            "bumped": bumped,
        }


# --- invoices ---------------------------------------------------------------------------------------------------
def _customers(books: Books) -> list[Any]:
    return [c for c in books.collections["contacts"] if c.is_customer and c.status == "ACTIVE"]


def create_invoices(change: Change) -> None:
    gen, books = change.gen, change.books
    customers = _customers(books)
    for _ in range(change.count()):
        contact = books.rng.choice(customers)
        line = Line("Ad-hoc support hours", books.rng.randrange(1, 10), 15000, books.account("220"), gen.tax("sales"))
        gen.add_doc("invoices", "ACCREC", contact, change.today, [line], due=change.today + timedelta(days=20),
                    number=gen.number("INV", 6), reference="Ad-hoc support")  # fmt: skip


def _repost(change: Change, doc: Doc, edit: Callable[[], None]) -> None:
    """Journals are immutable: reverse what the document posted, apply the edit, post it again."""
    controls = change.books.controls
    source, old = doc_posting(doc, controls)
    ledger = change.books.ledger
    ledger.post(doc.date, change.now, source, doc.id, reversal_lines(old), doc.reference)
    edit()
    ledger.post(doc.date, change.now, source, doc.id, doc_posting(doc, controls)[1], doc.reference)


def edit_invoices(change: Change) -> None:
    def editable(doc: Doc) -> bool:
        return doc.type == "ACCREC" and doc.status == "AUTHORISED" and doc.outstanding() > 0

    for doc in change.pick("invoices", editable, "open sales invoices"):

        def grow(doc: Doc = doc) -> None:
            doc.lines[0] = replace(doc.lines[0], quantity=doc.lines[0].quantity + 1)
            doc.reference = f"{doc.reference} (revised)".strip()

        _repost(change, doc, grow)
        change.touch("invoices", doc)


def edit_invoices_quietly(change: Change) -> None:
    """Xero's quirk: a DueDate change on a part-paid invoice does not bump UpdatedDateUTC."""

    def part_paid(doc: Doc) -> bool:
        return doc.type == "ACCREC" and doc.status == "AUTHORISED" and doc.paid() > 0 and doc.outstanding() > 0

    for doc in change.pick("invoices", part_paid, "part-paid sales invoices"):
        doc.due = (doc.due or doc.date) + timedelta(days=14)
        change.touch("invoices", doc)


def _voider(api: str) -> Callable[[Change], None]:
    """Void authorised documents of `api`; Xero refuses while payments or allocations are applied to them."""

    def voidable(doc: Doc) -> bool:
        return doc.status == "AUTHORISED" and not doc.payments and not doc.allocations

    def void(change: Change) -> None:
        for doc in change.pick(api, voidable, "authorised without payments or allocations"):
            change.gen.void(doc, doc.date)
            change.touch(api, doc)

    return void


def delete_invoices(change: Change) -> None:
    def draft(doc: Doc) -> bool:
        return doc.status in ("DRAFT", "SUBMITTED")

    for doc in change.pick("invoices", draft, "draft or submitted invoices"):
        doc.status = "DELETED"
        change.touch("invoices", doc)


# --- payments, credit notes, bank transactions -------------------------------------------------------------------
def create_payments(change: Change) -> None:
    def open_sale(doc: Doc) -> bool:
        return doc.type == "ACCREC" and doc.status == "AUTHORISED" and doc.outstanding() > 0

    for doc in change.pick("invoices", open_sale, "open sales invoices"):
        change.gen.pay(doc, change.today, doc.outstanding())
        change.touch("invoices", doc)


def delete_payments(change: Change) -> None:
    def live(payment: Payment) -> bool:
        return payment.status == "AUTHORISED" and payment.doc.kind == "invoices"

    for payment in change.pick("payments", live, "authorised invoice payments"):
        change.gen.delete_payment(payment, change.today)
        change.touch("payments", payment)
        change.touch("invoices", payment.doc)


def create_credit_notes(change: Change) -> None:
    customers = _customers(change.books)
    for _ in range(change.count()):
        change.gen.credit_note(change.books.rng.choice(customers), change.today, 5000)


def create_bank_transactions(change: Change) -> None:
    books, gen = change.books, change.gen
    suppliers = [c for c in books.collections["contacts"] if c.is_supplier and c.status == "ACTIVE"]
    for _ in range(change.count()):
        line = Line("Office supplies", 1, books.rng.randrange(1000, 20000), books.account("429"), gen.tax("purchase"))
        gen.add_doc("bank_transactions", "SPEND", books.rng.choice(suppliers), change.today, [line],
                    bank=books.account("090"), reference="Office supplies")  # fmt: skip


def _cancel_bank_transactions(status: str) -> Callable[[Change], None]:
    def cancel(change: Change) -> None:
        for doc in change.pick("bank_transactions", lambda d: d.status == "AUTHORISED", "authorised"):
            change.gen.void(doc, doc.date)
            doc.status = status
            change.touch("bank_transactions", doc)

    return cancel


# --- contacts and everything else -----------------------------------------------------------------------------------
def create_contacts(change: Change) -> None:
    for n in range(change.count()):
        change.gen.new_contact(f"New Client {change.books.seq + n}", "Sam", "Lee", customer=True, day=change.today)


def edit_contacts(change: Change) -> None:
    for contact in change.pick("contacts", lambda c: c.status == "ACTIVE", "active"):
        contact.email = f"accounts+{change.books.seq}@{contact.email.split('@')[-1]}"
        change.touch("contacts", contact)


def edit_contacts_quietly(change: Change) -> None:
    for contact in change.pick("contacts", lambda c: c.status == "ACTIVE", "active"):
        contact.is_supplier = not contact.is_supplier
        change.touch("contacts", contact)


def archive_contacts(change: Change) -> None:
    for contact in change.pick("contacts", lambda c: c.status == "ACTIVE" and not c.docs, "active without documents"):
        contact.status = "ARCHIVED"
        change.touch("contacts", contact)


def touch_any(change: Change) -> None:
    api = change.spec["api"]
    for record in change.pick(api, lambda r: getattr(r, "updated", None) is not None, "timestamped"):
        change.touch(api, record)


HANDLERS: dict[tuple[str, str], Callable[[Change], None]] = {
    ("invoices", "create"): create_invoices,
    ("invoices", "edit"): edit_invoices,
    ("invoices", "edit_quiet"): edit_invoices_quietly,
    ("invoices", "void"): _voider("invoices"),
    ("invoices", "delete"): delete_invoices,
    ("payments", "create"): create_payments,
    ("payments", "delete"): delete_payments,
    ("credit_notes", "create"): create_credit_notes,
    ("credit_notes", "void"): _voider("credit_notes"),
    ("bank_transactions", "create"): create_bank_transactions,
    ("bank_transactions", "void"): _cancel_bank_transactions("VOIDED"),
    ("bank_transactions", "delete"): _cancel_bank_transactions("DELETED"),
    ("contacts", "create"): create_contacts,
    ("contacts", "edit"): edit_contacts,
    ("contacts", "edit_quiet"): edit_contacts_quietly,
    ("contacts", "delete"): archive_contacts,
}


def apply_mutation(books: Books, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Apply one mutation spec; QueryError (ValidationException) for specs that cannot apply."""
    action, api = spec.get("action"), spec.get("api")
    if action not in ACTIONS:
        raise QueryError(VALIDATION, f"action must be one of {', '.join(ACTIONS)} (got {action!r})")
    handler = HANDLERS.get((str(api), str(action)))
    if handler is None and action == "edit" and api in books.collections:
        handler = touch_any
    if handler is None:
        supported = sorted({f"{a}:{act}" for a, act in HANDLERS} | {"<any records api>:edit"})
        raise QueryError(VALIDATION, f"cannot {action} {api}; supported: {', '.join(supported)}")
    change = Change(books, spec)
    handler(change)
    return change.finish(bumped=action != "edit_quiet")


__all__ = ["ACTIONS", "HANDLERS", "apply_mutation"]
