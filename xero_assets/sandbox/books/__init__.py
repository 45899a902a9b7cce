"""The sandbox's data half: deterministic books that balance, served with Xero's list, paging and filter semantics.

    from xero_assets.sandbox.books import build_world, World, Books, Query, Page, QueryError

`build_world(seed, tenants, size, clock)` builds the organisations; each `Books` answers `list`, `get`, `report`,
`truth` and `mutate`. The server half (HTTP, OAuth, limits, wire format) lives beside this package.
"""

from xero_assets.sandbox.books.books import Books, Clock
from xero_assets.sandbox.books.query import Page, Query, QueryError
from xero_assets.sandbox.books.world import World, build_books, build_world

__all__ = ["Books", "Clock", "Page", "Query", "QueryError", "World", "build_books", "build_world"]
