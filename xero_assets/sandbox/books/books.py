"""One organisation's books and the five calls the sandbox server makes on them: list, get, report, truth, mutate.

The server owns HTTP, the envelope and wire encoding; the books own what the records are and which of them a call
returns. Every catalog API an organisation serves is answered here, dispatched on the catalog entry itself, so the
catalog stays the single list of what exists.
"""

from __future__ import annotations

import bisect
import random
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from xero_assets.catalog import JOURNALS_PAGE_SIZE, Endpoint, Kind, XeroApi
from xero_assets.sandbox.books.collections import build_collections
from xero_assets.sandbox.books.ids import Ids
from xero_assets.sandbox.books.ledger import Controls, Ledger
from xero_assets.sandbox.books.model import Account, TaxRate, TrackingOption
from xero_assets.sandbox.books.profiles import CountryProfile
from xero_assets.sandbox.books.query import VALIDATION, Page, Query, QueryError
from xero_assets.sandbox.books.render import Renderer
from xero_assets.sandbox.books.store import Collection


class Clock(Protocol):
    def now(self) -> datetime: ...


class Books:
    """An organisation: its settings, collections, ledger and payroll, all derived from one seeded stream."""

    def __init__(
        self,
        tenant_id: str,
        name: str,
        profile: CountryProfile,
        size: str,
        tier: str,
        short_code: str,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self.tenant_id = tenant_id
        self.name = name
        self.profile = profile
        self.country = profile.code
        self.size = size
        self.tier = tier
        self.short_code = short_code
        self.clock = clock
        self.rng = rng
        self.ids = Ids(rng)
        self.renderer = Renderer(profile.currency, lambda: self.now().date())
        self.collections: dict[str, Collection[Any]] = build_collections(self.renderer)
        self.ledger = Ledger(self.ids)
        self.tax_rates: dict[str, TaxRate] = {rate.tax_type: rate for rate in profile.tax_rates}
        self.accounts_by_code: dict[str, Account] = {}
        self._controls: Controls | None = None
        self.tracking_options: list[TrackingOption] = []
        self.organisation: dict[str, Any] = {}
        self.invoice_reminders: dict[str, Any] = {"Enabled": True}
        self.payroll: Any = None  # payroll.PayrollBooks, for countries with payroll
        self.created: datetime | None = None  # when the organisation was set up (its first records)
        # The server answers from worker threads and /_sandbox/mutate may run at the same time: one lock keeps a
        # response from seeing a record half-moved in the default order.
        self.lock = threading.RLock()
        self.seq = 0  # creation order across every record, continued by mutations
        self.numbers: dict[str, int] = {}  # last document number used per prefix (INV, CN, QU, PO)

    # --- helpers the generator and mutations share ----------------------------------------------------------------
    @property
    def controls(self) -> Controls:
        """Receivables, payables and the tax account (built once the chart exists, then reused per posting)."""
        if self._controls is None:
            self._controls = Controls(
                ar=self.account("610"),
                ap=self.account("800"),
                tax=self.account("820"),
                realised=self.accounts_by_code.get("497"),
            )
        return self._controls

    def account(self, code: str) -> Account:
        return self.accounts_by_code[code]

    def now(self) -> datetime:
        return self.clock.now()

    # --- the server's calls -------------------------------------------------------------------------------------
    def list(self, api: XeroApi, endpoint: Endpoint, query: Query) -> Page:
        """One list response for `api` as the catalog's `endpoint` pages and filters it."""
        with self.lock:
            return self._list(api, endpoint, query)

    def _list(self, api: XeroApi, endpoint: Endpoint, query: Query) -> Page:
        if api.kind is Kind.SINGLETON:
            return Page([dict(self.invoice_reminders)])
        if api.name == "organisation":
            return Page([dict(self.organisation)])
        if api.name == "journals":
            return self._journals(query)
        if api.name == "tax_reports":
            from xero_assets.sandbox.books.tax_returns import published_reports

            return Page(published_reports(self))
        if api.name.startswith("payroll_"):
            return self._payroll().list(api, endpoint, query)
        collection = self.collections.get(api.name)
        if collection is None:
            raise QueryError(VALIDATION, f"{api.title} is not served for this organisation")
        return collection.list(endpoint, query)

    def get(self, api: XeroApi, endpoint: Endpoint, record_id: str) -> dict[str, Any] | None:
        """A single record with its line items, or None (the server answers 404)."""
        with self.lock:
            return self._get(api, endpoint, record_id)

    def _get(self, api: XeroApi, endpoint: Endpoint, record_id: str) -> dict[str, Any] | None:
        if api.name == "journals":
            journal = self._journal_by_key(record_id)
            return None if journal is None else self.renderer.journal(journal, with_source=False)
        if api.name == "organisation":
            return dict(self.organisation) if record_id.lower() == self.organisation["OrganisationID"] else None
        if api.name.startswith("payroll_"):
            return self._payroll().get(api, endpoint, record_id)
        collection = self.collections.get(api.name)
        if collection is None:
            return None
        record = collection.find(record_id)
        if record is not None and api.name == "contact_groups":
            return self._contact_group(record)
        if record is None and api.name in ("invoices", "credit_notes", "purchase_orders", "contacts"):
            record = next((r for r in collection if r.number == record_id), None)
        return None if record is None else collection.render(record, True)

    def report(self, api: XeroApi, params: Mapping[str, str], report_id: str | None = None) -> Any:
        """One Report object (ReportWithRow); QueryError for parameters Xero rejects.

        For the published tax reports (`tax_reports`, GET /Reports) without an id this is the list of published
        returns (a list of Report objects); with an id, that one return with its boxes.
        """
        from xero_assets.sandbox.books.reports import build_report

        with self.lock:
            return build_report(self, api, params, report_id)

    def truth(self) -> dict[str, Any]:
        """What a full sync must see per collection, report totals and counts (see truth.ground_truth)."""
        from xero_assets.sandbox.books.truth import ground_truth

        with self.lock:
            return ground_truth(self)

    def mutate(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """Create, edit, void or delete records as of the clock's now (see mutate.apply_mutation)."""
        from xero_assets.sandbox.books.mutate import apply_mutation

        with self.lock:
            return apply_mutation(self, spec)

    def _contact_group(self, group: Any) -> dict[str, Any]:
        """A single contact group lists its members (the list endpoint leaves Contacts empty, as Xero does)."""
        out = self.collections["contact_groups"].render(group, True)
        # In creation order, not the contacts' default order: bumping a member must not reorder its groups.
        members = sorted((c for c in self.collections["contacts"] if group in c.groups), key=lambda c: c.seq)
        out["Contacts"] = [{"ContactID": c.id, "Name": c.name, "HasValidationErrors": False} for c in members]
        return out

    # --- journals --------------------------------------------------------------------------------------------------
    def _journals(self, query: Query) -> Page:
        """Xero's /Journals: JournalNumber > offset, oldest first, 100 at most; If-Modified-Since on CreatedDateUTC."""
        if query.flag("paymentsOnly"):
            from xero_assets.sandbox.books.reports import CASH_BASIS_UNSUPPORTED

            raise QueryError(VALIDATION, CASH_BASIS_UNSUPPORTED)
        journals = self.ledger.journals
        start = max(query.offset or 0, 0)
        if query.if_modified_since is not None:  # journals are in CreatedDateUTC order, so bisect on it
            start = bisect.bisect_left(journals, query.if_modified_since, lo=start, key=lambda j: j.created)
        chosen = journals[start : start + JOURNALS_PAGE_SIZE]
        return Page([self.renderer.journal(j) for j in chosen])

    def _journal_by_key(self, key: str) -> Any:
        if key.isdigit():
            number = int(key)
            journals = self.ledger.journals
            return journals[number - 1] if 0 < number <= len(journals) else None
        return self.ledger.find(key)

    def _payroll(self) -> Any:
        if self.payroll is None:
            raise QueryError(VALIDATION, f"Payroll is not available for organisations in {self.country}")
        return self.payroll


__all__ = ["Books", "Clock"]
