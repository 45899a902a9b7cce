"""Fault injection: the failures a client must survive against real Xero, on demand.

A rule says what goes wrong (`kind`), how often (`rate` 0..1, or the next `count` matching calls) and where (`path`
regex searched in the request path, optional `tenant`, `target` "data" for api.xro/payroll.xro, "token" for
/connect/token, or "any"). Kinds:

- "500" and "503": Xero's unhandled-error JSON and plain-text maintenance page;
- "429": a rate-limit refusal with X-Rate-Limit-Problem (`problem`, default minute) and Retry-After (`retry_after`);
- "slow": the call waits `delay_ms` (while holding its rate-limit slot) and then answers normally; clearing the rules
  releases every waiting call at once, so tests never sit out a delay;
- "drop": the connection is closed without a response;
- "truncate": the full Content-Length is announced but only part of the body is sent before the connection closes
  (`mode` "close"), or a cut body is sent with a matching Content-Length so the JSON itself is broken (`mode` "json");
- "404": Xero's not-found answer, as it gives for a report type or regional endpoint an organisation does not have;
- "null_list": the normal answer with its record list (`key`, default the first top-level list) set to null;
- "bad_field": the normal answer with `field` of the list's first record set to `value` (a malformed record).

Randomness comes from a generator seeded by the sandbox seed, so a fault-rate run is reproducible.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import re
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from xero_assets.sandbox import wire

KINDS = ("500", "503", "429", "slow", "drop", "truncate", "404", "null_list", "bad_field")
TARGETS = ("data", "token", "any")


@dataclass
class FaultRule:
    kind: str
    rate: float | None = None
    count: int | None = None
    path: str | None = None
    tenant: str | None = None
    target: str = "data"
    delay_ms: float = 2000.0
    retry_after: int = 1
    problem: str = "minute"
    mode: str = "close"
    key: str | None = None
    field: str = "Total"
    value: Any = "not-a-number"
    id: int = 0
    hits: int = 0
    _pattern: re.Pattern[str] | None = dataclasses.field(default=None, repr=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FaultRule:
        """A rule from /_sandbox/faults JSON; raises ValueError naming what is wrong."""
        known = {"kind", "rate", "count", "path", "tenant", "target", "delay_ms", "retry_after", "problem", "mode"}
        known |= {"key", "field", "value"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault fields {sorted(unknown)}; known: {sorted(known)}")
        kind = str(data.get("kind", ""))
        if kind not in KINDS:
            raise ValueError(f"fault kind must be one of {KINDS}, got {kind!r}")
        rule = cls(kind=kind, **{k: data[k] for k in known - {"kind"} if data.get(k) is not None})
        if rule.rate is not None and not 0.0 <= float(rule.rate) <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        if rule.count is not None and int(rule.count) < 0:
            raise ValueError("count must be zero or more")
        if rule.target not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}")
        if rule.mode not in ("close", "json"):
            raise ValueError("mode must be close or json")
        try:
            rule._pattern = re.compile(rule.path) if rule.path else None
        except re.error as exc:
            raise ValueError(f"path is not a regular expression: {exc}") from None
        return rule

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "rate": self.rate,
            "count": self.count,
            "path": self.path,
            "tenant": self.tenant,
            "target": self.target,
            "delay_ms": self.delay_ms,
            "retry_after": self.retry_after,
            "problem": self.problem,
            "mode": self.mode,
            "key": self.key,
            "field": self.field,
            "value": self.value,
            "hits": self.hits,
        }

    def matches(self, path: str, tenant_id: str | None, target: str) -> bool:
        if self.target != "any" and self.target != target:
            return False
        if self.tenant is not None and self.tenant != tenant_id:
            return False
        return self._pattern is None or self._pattern.search(path) is not None


class Faults:
    """The active rules, in the order they were added; the first rule that fires decides the call's fate."""

    def __init__(self, seed: int = 1, fault_rate: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._next_id = 1
        self._generation = 0
        self._base: list[FaultRule] = []
        if fault_rate > 0:
            # --fault-rate: a mix of the transient failures a sync meets, each a third of the rate.
            self._base = [FaultRule.from_json({"kind": k, "rate": fault_rate / 3}) for k in ("500", "503", "429")]

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.id = self._next_id
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule added at run time (the --fault-rate base stays) and release waiting slow calls."""
        with self._lock:
            self._rules.clear()
            self._generation += 1

    def rules(self) -> list[FaultRule]:
        with self._lock:
            return list(self._rules)

    def pick(self, path: str, tenant_id: str | None, target: str) -> FaultRule | None:
        """The rule that fires for this call, or None; a count rule uses up one of its calls."""
        with self._lock:
            for rule in [*self._rules, *self._base]:
                if not rule.matches(path, tenant_id, target):
                    continue
                if rule.count is not None:
                    if rule.count <= 0:
                        continue
                    rule.count -= 1
                elif rule.rate is not None and self._random.random() >= rule.rate:
                    continue
                rule.hits += 1
                return rule
        return None

    async def hold(self, rule: FaultRule) -> None:
        """A slow call's wait: `delay_ms`, cut short when the rules are cleared."""
        with self._lock:
            generation = self._generation
        deadline = time.monotonic() + rule.delay_ms / 1000
        while time.monotonic() < deadline:
            with self._lock:
                if self._generation != generation:
                    return
            await asyncio.sleep(min(0.02, max(0.0, deadline - time.monotonic())))


async def _close_connection(receive: Receive) -> bool:
    """Close the client's TCP connection under uvicorn, without writing anything more.

    ASGI has no "abort"; uvicorn's `receive` is a bound method of the request cycle that owns the transport. If
    that ever changes, callers fall back to raising, which uvicorn also answers by closing the connection.
    """
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if transport is None:
        return False
    transport.close()
    for _ in range(3):  # let uvicorn see the disconnect before the app returns, so it does not send a 500
        await asyncio.sleep(0)
    return True


class ConnectionDropped(Exception):
    """Raised when the transport could not be closed directly; the server then closes it."""


class DroppedResponse(Response):
    """No response at all: the client sees the connection close (httpx: RemoteProtocolError / ReadError)."""

    def __init__(self) -> None:
        super().__init__(status_code=599)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await _close_connection(receive):
            raise ConnectionDropped("fault: drop")


class TruncatedResponse(Response):
    """`inner`'s status and headers with only part of its body (see the module docstring for the two modes)."""

    def __init__(self, inner: Response, mode: str = "close") -> None:
        super().__init__(status_code=inner.status_code)
        self.inner = inner
        self.mode = mode

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = bytes(self.inner.body)
        cut = body[: max(1, len(body) // 2)] if body else b""
        headers = [(k, v) for k, v in self.inner.raw_headers if k.lower() != b"content-length"]
        length = len(body) if self.mode == "close" else len(cut)
        headers.append((b"content-length", str(length).encode()))
        await send({"type": "http.response.start", "status": self.inner.status_code, "headers": headers})
        if self.mode == "json":
            await send({"type": "http.response.body", "body": cut, "more_body": False})
            return
        await send({"type": "http.response.body", "body": cut, "more_body": True})
        if not await _close_connection(receive):
            raise ConnectionDropped("fault: truncate")


async def faulted(
    faults: Faults,
    rule: FaultRule | None,
    produce: Callable[[], Awaitable[Response]],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The response for a call that `rule` may fault: `produce()` builds the normal one when it is needed."""
    if rule is None:
        return await produce()
    if rule.kind == "500":
        return _with_headers(wire.server_error(), headers)
    if rule.kind == "503":
        return _with_headers(wire.unavailable(), headers)
    if rule.kind == "429":
        return wire.rate_limited(rule.problem, rule.retry_after, headers)
    if rule.kind == "drop":
        return DroppedResponse()
    if rule.kind == "slow":
        await faults.hold(rule)
        return await produce()
    if rule.kind == "404":
        return _with_headers(wire.not_found(), headers)
    if rule.kind in ("null_list", "bad_field"):
        return _edited(await produce(), rule)
    return TruncatedResponse(await produce(), rule.mode)


def _edited(response: Response, rule: FaultRule) -> Response:
    """A JSON answer with its record list nulled (`null_list`) or one field of its first record replaced
    (`bad_field`); any other answer (XML, an error) passes unchanged."""
    try:
        body = json.loads(bytes(response.body))
    except ValueError:
        return response
    if not isinstance(body, dict):
        return response
    key = rule.key or next((k for k, v in body.items() if isinstance(v, list)), None)
    if key is None or key not in body:
        return response
    if rule.kind == "null_list":
        body[key] = None
    elif isinstance(body[key], list) and body[key] and isinstance(body[key][0], dict):
        body[key][0][rule.field] = rule.value
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
    return Response(wire.dumps(body), status_code=response.status_code, headers=headers)


def _with_headers(response: Response, headers: Mapping[str, str] | None) -> Response:
    response.headers.update(headers or {})
    return response
