"""The sandbox's data half: deterministic books that balance, served with Xero's list, paging and filter semantics.

    from xero_assets.sandbox.books import build_world, World, Books, Query, Page, QueryError

`build_world(seed, tenants, size, clock, starter=0, shapes=0) -> World`: `World.tenants` maps tenant id -> Books, in
order; countries go AU, NZ, GB, US round-robin; sizes are small / medium / large (generate.SIZES); the last `starter`
organisations are on the Starter tier; `shapes=N` generates only N books and serves them to every tenant under its own
identity, refusing mutations (world.SharedBooks). Ids, names and amounts depend only on the seed; dates run up to the
clock's day when the world is built (so the books are current whenever the sandbox starts).

A `Books` answers the server's calls (each under one lock, safe from worker threads):

- `list(api, endpoint, query) -> Page(records, pagination)`: pagination only for Paging.PAGE_SIZE endpoints called
  with `page` (and for payroll.xro/2.0 lists, as Xero sends it); line items only on paged calls and single records.
- `get(api, endpoint, record_id) -> dict | None`: one record with its line items (Journals also by JournalNumber,
  invoices, credit notes, purchase orders and contacts also by number).
- `report(api, params, report_id) -> dict`: one ReportWithRow; for `tax_reports` without an id, the list of
  published GST/BAS returns (a list). QueryError for parameters Xero rejects (aged reports without contactId, ...).
- `truth() -> {"tenant_id", "country", "collections": {api: {id: updated ISO or None}}, "reports": {...},
  "leave_balances": {employee id: [{leave_type_id, leave_name, balance, units}]}, "counts": {...}}`: see truth.py
  (leave balances: payroll.py).
- `mutate(spec) -> {"action", "api", "ids", "journals", "updated", "bumped"}`: see mutate.py for the actions.

`Query.from_params(params, if_modified_since_header, **path_args)` parses a request (the server does no parsing);
QueryError carries Xero's `.type` (ValidationException / QueryParseException) and `.message`.
"""

from xero_assets.sandbox.books.books import Books, Clock
from xero_assets.sandbox.books.query import Page, Query, QueryError
from xero_assets.sandbox.books.world import World, build_books, build_world

__all__ = ["Books", "Clock", "Page", "Query", "QueryError", "World", "build_books", "build_world"]
