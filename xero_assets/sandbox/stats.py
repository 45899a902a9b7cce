"""Request statistics: what a client asked the sandbox, so a test can count its calls and prove it read-only.

Every Xero call (identity, /connections, data APIs; never /_sandbox/) is counted by method, route, status, tenant
and catalog API; writes to the data APIs are counted apart, and token grants are counted by grant type and client so
"exactly one refresh" is one lookup. Routes are labelled by their template (`/api.xro/2.0/Invoices/{id}`), so a
sync of 10,000 records does not make 10,000 keys. The most recent requests are kept in order for debugging.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict, deque
from datetime import datetime
from typing import Any

RECENT_LIMIT = 2000
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._by_method: Counter[str] = Counter()
            self._by_status: Counter[str] = Counter()
            self._by_path: Counter[str] = Counter()
            self._by_route: Counter[str] = Counter()
            self._by_tenant: Counter[str] = Counter()
            self._by_api: Counter[str] = Counter()
            self._writes: Counter[str] = Counter()
            self._grants: Counter[str] = Counter()
            self._grants_by_client: defaultdict[str, Counter[str]] = defaultdict(Counter)
            self._token_errors: Counter[str] = Counter()
            self._rate_limited: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_LIMIT)

    def record_request(
        self,
        method: str,
        path: str,
        status: int | str,
        tenant_id: str | None,
        api: str | None,
        data_api: bool,
        at: datetime,
    ) -> None:
        """One finished request. `path` is the route template; status is "dropped" when no response was sent."""
        with self._lock:
            self._total += 1
            self._by_method[method] += 1
            self._by_status[str(status)] += 1
            self._by_path[path] += 1
            self._by_route[f"{method} {path}"] += 1
            if tenant_id:
                self._by_tenant[tenant_id] += 1
            if api:
                self._by_api[api] += 1
            if data_api and method in WRITE_METHODS:
                self._writes[f"{method} {path}"] += 1
            self._recent.append(
                {
                    "method": method,
                    "path": path,
                    "status": status,
                    "tenant": tenant_id,
                    "api": api,
                    "at": at.isoformat(),
                }
            )

    def record_grant(self, grant_type: str, client_id: str) -> None:
        with self._lock:
            self._grants[grant_type] += 1
            self._grants_by_client[client_id][grant_type] += 1

    def record_token_error(self, error: str) -> None:
        with self._lock:
            self._token_errors[error] += 1

    def record_rate_limited(self, problem: str) -> None:
        with self._lock:
            self._rate_limited[problem] += 1

    def record_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def snapshot(self) -> dict[str, Any]:
        """The JSON of GET /_sandbox/stats."""
        with self._lock:
            return {
                "total": self._total,
                "by_method": dict(self._by_method),
                "by_status": dict(self._by_status),
                "by_path": dict(self._by_path),
                "by_route": dict(self._by_route),
                "by_tenant": dict(self._by_tenant),
                "by_api": dict(self._by_api),
                "writes": sum(self._writes.values()),
                "writes_by_route": dict(self._writes),
                "token_grants": dict(self._grants),
                "token_grants_by_client": {k: dict(v) for k, v in self._grants_by_client.items()},
                "token_errors": dict(self._token_errors),
                "rate_limited": dict(self._rate_limited),
                "faults": dict(self._faults),
                "recent": list(self._recent),
            }
