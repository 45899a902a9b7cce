"""where / order / IDs / Statuses / summaryOnly / endpoint parameters, as far as a sync uses them."""

from __future__ import annotations

from datetime import date

import pytest

from xero_assets import catalog
from xero_assets.sandbox.books import Books, Query, World
from xero_assets.xero.dates import parse


@pytest.fixture(scope="module")
def books(small_world: World) -> Books:
    return next(iter(small_world.tenants.values()))


def invoices(books: Books, **params: str) -> list[dict]:
    api = catalog.get("invoices")
    return books.list(api, api.endpoint, Query.from_params(params)).records


def test_where_filters_on_status_type_and_dates(books: Books) -> None:
    found = invoices(books, where='Status=="AUTHORISED" && Type=="ACCREC" && Date >= DateTime(2026, 06, 01)')
    assert found
    assert all(i["Status"] == "AUTHORISED" and i["Type"] == "ACCREC" for i in found)
    assert all(parse(i["Date"]).date() >= date(2026, 6, 1) for i in found)  # type: ignore[union-attr]


def test_where_follows_nested_fields_guids_and_string_methods(books: Books) -> None:
    contact = invoices(books)[0]["Contact"]
    by_guid = invoices(books, where=f'Contact.ContactID==GUID("{contact["ContactID"].upper()}")')
    assert by_guid and {i["Contact"]["ContactID"] for i in by_guid} == {contact["ContactID"]}
    api = catalog.get("contacts")
    named = books.list(api, api.endpoint, Query.from_params({"where": 'Name.Contains("#1")'})).records
    assert named and all("#1" in c["Name"] for c in named)


def test_where_with_or_and_numbers(books: Books) -> None:
    found = invoices(books, where='(Status=="DRAFT" || Status=="VOIDED") AND Total > 0')
    assert found and {i["Status"] for i in found} <= {"DRAFT", "VOIDED"}


def test_order_sorts_descending_and_keeps_ties_stable(books: Books) -> None:
    found = invoices(books, order="Total DESC")
    totals = [i["Total"] for i in found]
    assert totals == sorted(totals, reverse=True)


def test_default_order_is_oldest_update_first(books: Books) -> None:
    stamps = [parse(i["UpdatedDateUTC"]) for i in invoices(books)]
    assert stamps == sorted(stamps)  # type: ignore[type-var]


def test_ids_and_statuses_filters(books: Books) -> None:
    some = [i["InvoiceID"] for i in invoices(books)[:3]]
    assert {i["InvoiceID"] for i in invoices(books, IDs=",".join(some))} == set(some)
    assert {i["Status"] for i in invoices(books, Statuses="PAID,VOIDED")} <= {"PAID", "VOIDED"}


def test_summary_only_drops_heavy_fields_even_on_a_page(books: Books) -> None:
    found = invoices(books, page="1", summaryOnly="true")
    assert found and not any("LineItems" in i or "Payments" in i for i in found)


def test_quote_and_purchase_order_parameters(books: Books) -> None:
    quotes = catalog.get("quotes")
    declined = books.list(quotes, quotes.endpoint, Query.from_params({"Status": "DECLINED"})).records
    assert declined and {q["Status"] for q in declined} == {"DECLINED"}
    orders = catalog.get("purchase_orders")
    ranged = books.list(orders, orders.endpoint, Query.from_params({"DateFrom": "2026-09-01", "DateTo": "2026-09-30"}))
    assert ranged.records and all(
        date(2026, 9, 1) <= parse(o["Date"]).date() <= date(2026, 9, 30)
        for o in ranged.records  # type: ignore[union-attr]
    )


def test_tracking_categories_hide_archived_unless_asked(books: Books) -> None:
    api = catalog.get("tracking_categories")
    default = books.list(api, api.endpoint, Query()).records
    everything = books.list(api, api.endpoint, Query.from_params(dict(api.endpoint.params))).records
    assert {c["Status"] for c in default} == {"ACTIVE"} and "ARCHIVED" in {c["Status"] for c in everything}


def test_bank_transfers_hide_deleted_unless_include_deleted(books: Books) -> None:
    api = catalog.get("bank_transfers")
    default = books.list(api, api.endpoint, Query()).records
    everything = books.list(api, api.endpoint, Query.from_params({"includeDeleted": "true"})).records
    assert len(everything) > len(default) and all(t["Status"] == "AUTHORISED" for t in default)


def test_search_term_matches_invoice_numbers_and_contact_names(books: Books) -> None:
    number = invoices(books)[5]["InvoiceNumber"]
    assert [i["InvoiceNumber"] for i in invoices(books, searchTerm=number.lower())] == [number]
    api = catalog.get("contacts")
    found = books.list(api, api.endpoint, Query.from_params({"searchTerm": "former client"})).records
    assert found == []  # archived, and includeArchived was not asked for
    found = books.list(api, api.endpoint, Query.from_params({"searchTerm": "former client", "includeArchived": "true"}))
    assert found.records and all("Former Client" in c["Name"] for c in found.records)


def test_linked_transactions_filter_by_source_and_contact(books: Books) -> None:
    api = catalog.get("linked_transactions")
    first = books.list(api, api.endpoint, Query()).records[0]
    by_source = books.list(api, api.endpoint, Query.from_params({"SourceTransactionID": first["SourceTransactionID"]}))
    assert by_source.records and all(
        r["SourceTransactionID"] == first["SourceTransactionID"] for r in by_source.records
    )
    by_contact = books.list(api, api.endpoint, Query.from_params({"ContactID": first["ContactID"]})).records
    assert first["LinkedTransactionID"] in {r["LinkedTransactionID"] for r in by_contact}


def test_a_single_contact_group_lists_its_members(books: Books) -> None:
    api = catalog.get("contact_groups")
    listed = books.list(api, api.endpoint, Query()).records[0]
    single = books.get(api, api.endpoint, listed["ContactGroupID"])
    assert listed["Contacts"] == [] and single is not None and single["Contacts"]


def _expected_order(records: list[dict], field: str, descending: bool) -> list[str]:
    """A brute-force stable sort of the default order: what the collection's cached order must equal."""
    from xero_assets.sandbox.books.where import sort_key

    ordered = sorted(records, key=lambda r: sort_key(r.get(field)), reverse=descending)
    return [r["InvoiceID"] for r in ordered]


@pytest.mark.parametrize("order", ["UpdatedDateUTC ASC", "UpdatedDateUTC DESC", "Date DESC", "Total"])
def test_cached_orders_equal_a_full_sort_with_and_without_if_modified_since(books: Books, order: str) -> None:
    field, *direction = order.split()
    everything = invoices(books)
    assert [i["InvoiceID"] for i in invoices(books, order=order)] == _expected_order(
        everything, field, direction == ["DESC"]
    )
    api = catalog.get("invoices")
    # Half the records are picked out of the cached order; the last few are sorted by their places in it.
    for since_at in (len(everything) // 2, len(everything) - len(everything) // 50):
        since = parse(everything[since_at]["UpdatedDateUTC"])
        query = Query(order=order, if_modified_since=since)
        recent = [r for r in everything if parse(r["UpdatedDateUTC"]) >= since]  # type: ignore[operator]
        got = [r["InvoiceID"] for r in books.list(api, api.endpoint, query).records]
        assert got == _expected_order(recent, field, direction == ["DESC"])
    authorised = [r for r in everything if r["Status"] == "AUTHORISED"]
    got = [r["InvoiceID"] for r in invoices(books, order=order, Statuses="AUTHORISED")]
    assert got == _expected_order(authorised, field, direction == ["DESC"]) and authorised


def test_fields_read_from_the_model_equal_what_the_render_shows(small_world: World) -> None:
    """`order` on these keys sorts without rendering (a large organisation's first ordered page took a minute), so
    each reader must give exactly the rendered value, for every record of every organisation, extras included."""
    compared = 0
    for books in small_world.tenants.values():
        for name, collection in books.collections.items():
            for record in collection:
                rendered = collection.render(record, False)
                for key, read in collection.fields.items():
                    assert read(record) == rendered.get(key), (name, key, record.id)
                    compared += 1
    assert compared > 10_000


@pytest.mark.parametrize("order", ["InvoiceNumber ASC", "DueDate DESC", "Reference", "Type DESC", "currencycode"])
def test_orders_on_model_fields_equal_a_full_sort_of_the_rendered_records(books: Books, order: str) -> None:
    field, *direction = order.split()
    rendered_key = {"invoicenumber": "InvoiceNumber", "currencycode": "CurrencyCode"}.get(field.lower(), field)
    assert [i["InvoiceID"] for i in invoices(books, order=order)] == _expected_order(
        invoices(books), rendered_key, direction == ["DESC"]
    )


def test_a_change_moves_a_record_in_every_cached_order(small_world: World) -> None:
    from xero_assets.sandbox.books.mutate import apply_mutation

    books = list(small_world.tenants.values())[-1]  # not the module's shared organisation
    before = [i["InvoiceID"] for i in invoices(books, order="UpdatedDateUTC DESC")]
    change = apply_mutation(books, {"action": "edit", "api": "invoices", "count": 1})
    after = [i["InvoiceID"] for i in invoices(books, order="UpdatedDateUTC DESC")]
    assert after[0] == change["ids"][0] != before[0]
    assert sorted(after) == sorted(before)
