"""Change over time: mutations show up for an If-Modified-Since sync exactly as Xero's would, quirks included."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from xero_assets import catalog
from xero_assets.sandbox.books import Books, Query, QueryError, build_world
from xero_assets.sandbox.books.mutate import HANDLERS
from xero_assets_tests.sandbox_books.conftest import FixedClock


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def books(clock: FixedClock) -> Books:
    """A fresh small organisation per test: mutations change it."""
    world = build_world(seed=5, tenants=1, size="small", clock=clock)
    return next(iter(world.tenants.values()))


def changed_since(books: Books, name: str, moment: datetime) -> dict[str, dict[str, Any]]:
    api = catalog.get(name)
    query = Query.from_params(dict(api.endpoint.params), moment.strftime("%Y-%m-%dT%H:%M:%S"))
    return {r[api.endpoint.id_field]: r for r in books.list(api, api.endpoint, query).records}  # type: ignore[index]


def fetch(books: Books, name: str, record_id: str) -> dict[str, Any]:
    api = catalog.get(name)
    record = books.get(api, api.endpoint, record_id)
    assert record is not None
    return record


def test_created_invoices_appear_after_an_if_modified_since_cursor(books: Books, clock: FixedClock) -> None:
    cursor = clock.advance(hours=1)
    result = books.mutate({"action": "create", "api": "invoices", "count": 3})
    assert len(result["ids"]) == 3 and len(result["journals"]) == 3
    assert set(changed_since(books, "invoices", cursor)) == set(result["ids"])
    assert set(result["ids"]) <= set(books.truth()["collections"]["invoices"])


def test_an_edit_bumps_updated_date_and_posts_a_reversal_and_a_new_journal(books: Books, clock: FixedClock) -> None:
    cursor = clock.advance(hours=1)
    (invoice_id,) = books.mutate({"action": "edit", "api": "invoices"})["ids"]
    journals = [j for j in books.ledger.journals if j.source_id == invoice_id]
    assert len(journals) == 3  # the original, its reversal, the revised posting
    original, reversal, revised = journals
    assert [line[1] for line in reversal.lines] == [-line[1] for line in original.lines]
    assert sum(line[1] for line in revised.lines) == 0 and revised.lines != original.lines
    assert invoice_id in changed_since(books, "invoices", cursor)
    assert books.truth()["reports"]["trial_balance_net"] == 0


def test_edit_quiet_changes_a_record_without_bumping_updated_date(books: Books, clock: FixedClock) -> None:
    cursor = clock.advance(hours=1)
    result = books.mutate({"action": "edit_quiet", "api": "invoices"})
    assert result["bumped"] is False and result["updated"] is None
    (invoice_id,) = result["ids"]
    assert invoice_id not in changed_since(books, "invoices", cursor), "an IMS sync must miss this, as with Xero"
    record = fetch(books, "invoices", invoice_id)
    assert record["AmountPaid"] > 0 and record["AmountDue"] > 0
    assert datetime.fromisoformat(books.truth()["collections"]["invoices"][invoice_id]) < cursor


def test_voiding_posts_a_reversal_dated_as_the_original(books: Books, clock: FixedClock) -> None:
    cursor = clock.advance(hours=1)
    (invoice_id,) = books.mutate({"action": "void", "api": "invoices"})["ids"]
    original, reversal = [j for j in books.ledger.journals if j.source_id == invoice_id]
    assert reversal.date == original.date and reversal.created == cursor
    assert fetch(books, "invoices", invoice_id)["Status"] == "VOIDED"
    assert changed_since(books, "invoices", cursor)[invoice_id]["Status"] == "VOIDED"


def test_a_paid_invoice_cannot_be_voided(books: Books) -> None:
    paid = next(d for d in books.collections["invoices"] if d.payments)
    with pytest.raises(QueryError):
        books.mutate({"action": "void", "api": "invoices", "id": paid.id})


def test_deleting_a_draft_invoice_keeps_it_listed_as_deleted(books: Books, clock: FixedClock) -> None:
    cursor = clock.advance(hours=1)
    (invoice_id,) = books.mutate({"action": "delete", "api": "invoices"})["ids"]
    assert changed_since(books, "invoices", cursor)[invoice_id]["Status"] == "DELETED"
    assert not [j for j in books.ledger.journals if j.source_id == invoice_id]


def test_a_deleted_payment_is_listed_as_deleted_and_reopens_its_invoice(books: Books, clock: FixedClock) -> None:
    cursor = clock.advance(hours=1)
    result = books.mutate({"action": "delete", "api": "payments"})
    payment_id, invoice_id = result["ids"]
    payment = changed_since(books, "payments", cursor)[payment_id]
    assert payment["Status"] == "DELETED"
    assert changed_since(books, "invoices", cursor)[invoice_id]["AmountDue"] > 0
    assert len(result["journals"]) == 1
    assert books.truth()["reports"]["aged_receivables_total"] == books.truth()["reports"]["accounts_receivable_balance"]


def test_contact_edits_bump_but_an_is_supplier_flip_does_not(books: Books, clock: FixedClock) -> None:
    cursor = clock.advance(hours=1)
    (edited,) = books.mutate({"action": "edit", "api": "contacts"})["ids"]
    quiet = next(c for c in books.collections["contacts"] if c.status == "ACTIVE" and c.id != edited)
    was_supplier = fetch(books, "contacts", quiet.id)["IsSupplier"]
    books.mutate({"action": "edit_quiet", "api": "contacts", "id": quiet.id})
    seen = changed_since(books, "contacts", cursor)
    assert edited in seen and quiet.id not in seen
    assert fetch(books, "contacts", quiet.id)["IsSupplier"] is not was_supplier


def test_archived_contacts_leave_default_lists_but_not_include_archived_ones(books: Books, clock: FixedClock) -> None:
    clock.advance(hours=1)
    books.mutate({"action": "create", "api": "contacts"})
    (archived,) = books.mutate({"action": "delete", "api": "contacts"})["ids"]
    api = catalog.get("contacts")
    default = {r["ContactID"] for r in books.list(api, api.endpoint, Query()).records}
    everything = {r["ContactID"] for r in books.list(api, api.endpoint, Query(include_archived=True)).records}
    assert archived not in default and archived in everything


def test_every_mutation_keeps_the_books_balanced(books: Books, clock: FixedClock) -> None:
    for api, action in [("invoices", "create"), ("payments", "create"), ("credit_notes", "create"),
                        ("credit_notes", "void"), ("bank_transactions", "create"), ("bank_transactions", "void"),
                        ("bank_transactions", "delete"), ("items", "edit")]:  # fmt: skip
        clock.advance(minutes=5)
        books.mutate({"action": action, "api": api})
    reports = books.truth()["reports"]
    assert reports["trial_balance_net"] == 0
    assert reports["aged_receivables_total"] == reports["accounts_receivable_balance"]


def test_journals_created_by_mutations_continue_the_offset_sequence(books: Books, clock: FixedClock) -> None:
    last = books.ledger.journals[-1].number
    clock.advance(hours=1)
    books.mutate({"action": "create", "api": "invoices", "count": 2})
    api = catalog.get("journals")
    fresh = books.list(api, api.endpoint, Query.from_params({"offset": str(last)})).records
    assert [j["JournalNumber"] for j in fresh] == [last + 1, last + 2]


@pytest.mark.parametrize(
    "spec",
    [{"action": "explode", "api": "invoices"}, {"action": "void", "api": "users"}, {"action": "edit", "api": "nope"}],
)
def test_unsupported_mutations_are_validation_errors(books: Books, spec: dict[str, str]) -> None:
    with pytest.raises(QueryError) as caught:
        books.mutate(spec)
    assert caught.value.type == "ValidationException"


def test_a_payment_changes_contact_balances_without_bumping_the_contact(books: Books, clock: FixedClock) -> None:
    cursor = clock.advance(hours=1)
    result = books.mutate({"action": "create", "api": "payments"})
    invoice = fetch(books, "invoices", result["ids"][-1])
    contact_id = invoice["Contact"]["ContactID"]
    assert contact_id not in changed_since(books, "contacts", cursor), "Xero does not bump contacts for balances"
    balances = fetch(books, "contacts", contact_id)["Balances"]["AccountsReceivable"]
    expected = sum(i["AmountDue"] for i in books.list(catalog.get("invoices"), catalog.get("invoices").endpoint,
                   Query.from_params({"ContactIDs": contact_id})).records if i["Type"] == "ACCREC")  # fmt: skip
    assert balances["Outstanding"] == pytest.approx(expected)


def snapshot(books: Books) -> dict[tuple[str, str], str]:
    """Every record of every records API as a single GET serves it (line items included), JSON-serialised.

    Contacts' Balances are left out: they follow the contact's invoices without bumping the contact, the edit Xero
    documents as invisible to If-Modified-Since (test_a_payment_changes_contact_balances_without_bumping_the_contact).
    """
    out: dict[tuple[str, str], str] = {}
    for name, collection in books.collections.items():
        api = catalog.get(name)
        for record in collection:
            served = books.get(api, api.endpoint, record.id)
            assert served is not None
            served.pop("Balances", None)
            out[(name, record.id)] = json.dumps(served, sort_keys=True, default=str)
    journals = catalog.get("journals")
    for journal in books.ledger.journals:
        out[("journals", journal.id)] = json.dumps(books.get(journals, journals.endpoint, journal.id), default=str)
    return out


def quoted_open_invoice(books: Books) -> str:
    """An open sales invoice made from a quote: same contact, same line items as an INVOICED quote."""

    def lines(record: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(li["Description"], li["Quantity"], li["UnitAmount"]) for li in record["LineItems"]]

    quotes, invoices = catalog.get("quotes"), catalog.get("invoices")

    def every(api: Any) -> Iterator[dict[str, Any]]:
        number = 1
        while page := books.list(api, api.endpoint, Query.from_params({"page": str(number)})).records:
            yield from page
            number += 1

    quoted = {(q["Contact"]["ContactID"], tuple(lines(q))) for q in every(quotes) if q["Status"] == "INVOICED"}
    for invoice in every(invoices):
        open_sale = invoice["Type"] == "ACCREC" and invoice["Status"] == "AUTHORISED" and invoice["AmountDue"] > 0
        if open_sale and (invoice["Contact"]["ContactID"], tuple(lines(invoice))) in quoted:
            return str(invoice["InvoiceID"])
    raise AssertionError("the world has no open invoice made from a quote")


def every_mutation(books: Books) -> list[dict[str, Any]]:
    # The quoted invoice first: a later random payment could settle it before its edit comes round.
    specs: list[dict[str, Any]] = [{"action": "edit", "api": "invoices", "id": quoted_open_invoice(books)}]
    specs += [{"action": action, "api": api} for api, action in HANDLERS]
    timestamped = {api for api, records in books.truth()["collections"].items() if any(records.values())}
    touched = [api for api in books.collections if api in timestamped and (api, "edit") not in HANDLERS]
    specs += [{"action": "edit", "api": api} for api in touched]
    return specs


def test_a_mutation_changes_only_the_records_it_reports(books: Books, clock: FixedClock) -> None:
    """Each mutation changes exactly the records in its ids (plus the journals it posts), and bumps them all,
    except edit_quiet, which changes its records without bumping them; records never share what they own."""
    for spec in every_mutation(books):
        before = snapshot(books)
        truth_before = books.truth()["collections"]
        clock.advance(minutes=5)
        result = books.mutate(spec)
        after = snapshot(books)
        changed = {key for key in after if before.get(key) != after[key]}
        assert not set(before) - set(after), f"{spec}: records disappeared"
        assert {i for api, i in changed if api != "journals"} == set(result["ids"]), spec
        new_journals = {i for api, i in changed if api == "journals"}
        assert all(("journals", i) not in before for i in new_journals), f"{spec}: a journal changed"
        assert len(new_journals) == len(result["journals"]), spec
        truth = books.truth()["collections"]
        for api, record_id in changed - {("journals", i) for i in new_journals}:
            if api not in truth or record_id not in truth[api]:
                continue
            if result["bumped"]:
                assert truth[api][record_id] == result["updated"], f"{spec}: {api} {record_id} not bumped"
            else:
                assert truth[api][record_id] == truth_before[api][record_id], f"{spec}: {api} {record_id} bumped"
