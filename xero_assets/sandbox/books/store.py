"""One served collection: records kept in Xero's default order, with the list semantics of its catalog endpoint.

Records stay sorted as Xero sorts a list by default, ascending by UpdatedDateUTC and then by id (XeroAPI's own
xero-mcp-server, PR #21, describes that default), so If-Modified-Since is a bisect and a page is a slice:
serving page 200 of a 200,000-invoice organisation renders only the 1,000 records on it. Edits move a record to
the end (its UpdatedDateUTC is now the newest), which is also why a client that pages while Xero changes can see a
record twice or skip one, exactly as against real Xero.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

from xero_assets.catalog import PAGE_ONLY_SIZE, Endpoint, Paging
from xero_assets.sandbox.books.query import Page, Query
from xero_assets.sandbox.books.where import compile_where, order_clauses, order_value, sort_key

R = TypeVar("R")
Render = Callable[[Any, bool], dict[str, Any]]
Predicate = Callable[[Any], bool]
FilterFor = Callable[[Query], Predicate | None]

DEFAULT_PAGE_SIZE = 100


Key = tuple[float, str]


@lru_cache(maxsize=1 << 16)
def _cached_sort_key(value: Any) -> tuple[int, Any]:
    """`sort_key` of a plain value, remembered: a collection's dates repeat, and each would be parsed again."""
    return sort_key(value)


def _updated_key(record: Any) -> tuple[int, Any]:
    """What `where.sort_key` makes of the rendered UpdatedDateUTC (an MS date, to the millisecond), unrendered."""
    updated = record.updated
    return sort_key(None) if updated is None else (1, int(updated.timestamp() * 1000) / 1000)


def _normalized(order: str) -> str:
    return " ".join(order.split()).lower()


# Xero's default order, in which a collection keeps its records: UpdatedDateUTC to the millisecond sorts them as
# (timestamp, id) does, and a stable sort keeps ties in that order.
_DEFAULT_ORDERS = frozenset({"updateddateutc", "updateddateutc asc"})


def _key(record: Any) -> Key:
    updated = record.updated
    return (updated.timestamp() if updated is not None else 0.0, record.id.lower())


class Collection(Generic[R]):
    """The records of one API, how to render them, and which a default call hides.

    `render(record, full)` returns the Xero dict; `full` adds line items (paged and single-record responses).
    `filter_for(query)` returns the predicate for Xero's default filters (archived contacts, deleted transfers, ...)
    and any endpoint-specific parameters, or None when the query filters nothing: parameters are read once per
    call, not once per record, so an unfiltered page of a 200,000-record collection stays a slice.
    `summary_drop` lists the heavy keys summaryOnly=true leaves out.
    `fields` reads what the render puts under plain top-level keys straight from the record, so `order` on them
    sorts without rendering the collection (`Renderer.doc_fields`).
    """

    def __init__(
        self,
        name: str,
        render: Render,
        filter_for: FilterFor | None = None,
        summary_drop: Iterable[str] = (),
        status_of: Callable[[Any], str | None] | None = None,
        fields: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        self.name = name
        self.render = render
        self.filter_for = filter_for
        self.summary_drop = tuple(summary_drop)
        self.status_of = status_of or (lambda record: getattr(record, "status", None))
        self.fields = dict(fields or {})
        self._field_by_name = {key.lower(): read for key, read in self.fields.items()}
        self._records: list[Any] = []
        self._keys: list[Key] = []
        self._by_id: dict[str, Any] = {}
        self._placed: dict[int, Key] = {}  # id(record) -> the key it is filed under
        self._orders: dict[str, list[Any]] = {}  # normalized order -> every record in that order
        self._ranks: dict[str, dict[int, int]] = {}  # normalized order -> {id(record): its place in that order}

    # --- building and changing ----------------------------------------------------------------------------------
    def extend(self, records: Iterable[Any]) -> None:
        """Add many records at once (world build); one sort afterwards instead of an insort each."""
        for record in records:
            self._by_id[record.id.lower()] = record
            self._records.append(record)
        self._records.sort(key=_key)
        self._keys = [_key(r) for r in self._records]
        self._placed = {id(r): k for r, k in zip(self._records, self._keys, strict=True)}
        self.forget_orders()

    def add(self, record: Any) -> None:
        key = _key(record)
        at = bisect.bisect_right(self._keys, key)
        self._keys.insert(at, key)
        self._records.insert(at, record)
        self._placed[id(record)] = key
        self._by_id[record.id.lower()] = record
        self.forget_orders()

    def touch(self, record: Any, now: datetime) -> None:
        """Set UpdatedDateUTC to `now` and move the record to its new place in the default order.

        Safe after code has already changed `record.updated`: the record is found by the key it was filed under.
        """
        self._remove(record)
        record.updated = now
        self.add(record)

    def _remove(self, record: Any) -> None:
        key = self._placed.pop(id(record))  # where it was filed, even if its timestamp has changed since
        at = bisect.bisect_left(self._keys, key)
        while self._records[at] is not record:
            at += 1
        del self._keys[at]
        del self._records[at]
        self.forget_orders()

    def forget_orders(self) -> None:
        """Drop the cached orders: any change to a record (even one that keeps its UpdatedDateUTC) may move it."""
        self._orders.clear()
        self._ranks.clear()

    def _ordered(self, order: str) -> list[Any]:
        """Every record in `order`, computed once per order and kept until a change.

        Clients page with the same `order` on every call, so sorting the whole collection per request made page
        200 cost a sort of 200,000 records. `UpdatedDateUTC ASC`, what most clients send, is the order the records
        are kept in and costs nothing. Orders on UpdatedDateUTC, or on a key in `fields`, read the record itself and
        never render; other keys render each record once, on the first call.
        """
        normalized = _normalized(order)
        if normalized in _DEFAULT_ORDERS:
            return self._records
        cached = self._orders.get(normalized)
        if cached is None:
            records = list(self._records)
            clauses = order_clauses(order)
            rendered: list[dict[str, Any]] | None = None
            for names, descending in reversed(clauses):
                field = names[0].lower() if len(names) == 1 else ""
                if field == "updateddateutc":
                    keyed = [(_updated_key(r), n) for n, r in enumerate(records)]
                elif field in self._field_by_name:
                    read = self._field_by_name[field]
                    keyed = [(_cached_sort_key(read(r)), n) for n, r in enumerate(records)]
                else:
                    if rendered is None:
                        by_record = {id(r): self.render(r, False) for r in self._records}
                        rendered = [by_record[id(r)] for r in records]
                    keyed = [(order_value(d, names), n) for n, d in enumerate(rendered)]
                keyed.sort(key=lambda pair: pair[0], reverse=descending)  # stable: ties keep the earlier order
                records = [records[n] for _, n in keyed]
                if rendered is not None:
                    rendered = [rendered[n] for _, n in keyed]
            cached = self._orders[normalized] = records
        return cached

    def _in_order(self, records: list[Any], order: str) -> list[Any]:
        """`records`, all or some of the collection, in `order`, at about the cost of the unordered page.

        Sorting a filtered 200,000 records by their cached places on every page made an ordered page 2.4x an
        unordered one; picking them out of the cached order is one pass. A few records (If-Modified-Since, IDs) are
        sorted by their places instead, which costs less than a pass over the whole collection."""
        ordered = self._ordered(order)
        if records is self._records:  # nothing filtered: the cached order is the answer
            return ordered
        if ordered is self._records:  # the order the records are kept in: a subset is already in it
            return records
        if len(records) * 16 < len(ordered):
            normalized = _normalized(order)
            ranks = self._ranks.get(normalized)
            if ranks is None:
                ranks = self._ranks[normalized] = {id(r): n for n, r in enumerate(ordered)}
            return sorted(records, key=lambda r: ranks[id(r)])
        keep = {id(r) for r in records}
        return [r for r in ordered if id(r) in keep]

    # --- reading -------------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._records)

    def find(self, record_id: str) -> Any | None:
        return self._by_id.get(record_id.lower())

    def since(self, moment: datetime | None) -> list[Any]:
        """Records updated at or after `moment` (to the second, inclusive), in default order."""
        if moment is None:
            return self._records
        return self._records[bisect.bisect_left(self._keys, (moment.timestamp(), "")) :]

    def select(self, endpoint: Endpoint, query: Query) -> list[Any]:
        """Records a call returns before where/order/paging: IMS, default filters, IDs, Statuses."""
        records = self.since(query.if_modified_since if endpoint.modified_since else None)
        ids = {i.lower() for i in query.ids} if query.ids else None
        statuses = set(query.statuses) if query.statuses else None
        visible = self.filter_for(query) if self.filter_for is not None else None
        if ids is None and statuses is None and visible is None:
            return records
        out = []
        for record in records:
            if ids is not None and record.id.lower() not in ids:
                continue
            if statuses is not None and self.status_of(record) not in statuses:
                continue
            if visible is not None and not visible(record):
                continue
            out.append(record)
        return out

    def list(self, endpoint: Endpoint, query: Query) -> Page:
        """One list response, paged exactly as the endpoint's catalog entry says."""
        records = self.select(endpoint, query)
        rendered: list[dict[str, Any]] | None = None
        if query.where:
            predicate = compile_where(query.where)
            pairs = [(record, self.render(record, False)) for record in records]
            pairs = [pair for pair in pairs if predicate(pair[1])]
            records = [record for record, _ in pairs]
            rendered = [d for _, d in pairs]
        if query.order:
            if rendered is not None:
                by_record = {id(r): d for r, d in zip(records, rendered, strict=True)}
            records = self._in_order(records, query.order)
            if rendered is not None:
                rendered = [by_record[id(r)] for r in records]
        paged = endpoint.paging in (Paging.PAGE_SIZE, Paging.PAGE_ONLY) and query.page is not None
        pagination = None
        if paged:
            size = (query.page_size or DEFAULT_PAGE_SIZE) if endpoint.paging is Paging.PAGE_SIZE else PAGE_ONLY_SIZE
            assert query.page is not None
            start = (query.page - 1) * size
            if endpoint.paging is Paging.PAGE_SIZE:
                pagination = {
                    "page": query.page,
                    "pageSize": size,
                    "pageCount": math.ceil(len(records) / size),
                    "itemCount": len(records),
                }
            records = records[start : start + size]
            rendered = None
        full = not query.summary_only and (paged or endpoint.paging not in (Paging.PAGE_SIZE, Paging.PAGE_ONLY))
        if rendered is None or full:
            rendered = [self.render(record, full) for record in records]
        if query.summary_only and self.summary_drop:
            rendered = [{k: v for k, v in d.items() if k not in self.summary_drop} for d in rendered]
        return Page(rendered, pagination)

    def get(self, record_id: str) -> dict[str, Any] | None:
        record = self.find(record_id)
        return None if record is None else self.render(record, True)
