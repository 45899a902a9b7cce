"""Xero webhook events, stored before the receiver answers, so an event Xero counts as delivered is never lost.

A row is one event as Xero sent it (what changed, never the data: the sync reads the record from Xero). Its
`event_key` is a digest of everything that identifies the event, so a batch Xero delivers again (a retry whose 200
was lost, a replay) inserts nothing new. The sensor moves each row on exactly once: `pending` -> `claimed` by a run,
or `dropped` (a tenant we do not sync) or `already_synced` (older than what the warehouse holds, e.g. an
out-of-order batch), so a replayed or late batch starts nothing twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from xero_assets.store.db import create_missing_tables, metadata

PENDING, CLAIMED, DROPPED, ALREADY_SYNCED = "pending", "claimed", "dropped", "already_synced"

webhook_events = sa.Table(
    "xero_webhook_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_key", sa.String(64), nullable=False, unique=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),  # INVOICE, CONTACT, CREDITNOTE
    sa.Column("event_type", sa.String(16), nullable=False),  # CREATE, UPDATE
    sa.Column("resource_id", sa.String(64), nullable=False),
    sa.Column("event_date", sa.DateTime, nullable=False),  # naive UTC, as every timestamp in our tables
    sa.Column("received_at", sa.DateTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, server_default=PENDING),
    sa.Column("run_key", sa.String(200), nullable=True),
    sa.Index("ix_xero_webhook_events_state", "state", "tenant_id"),
)

_FIELDS = ("tenantId", "eventCategory", "eventType", "resourceId", "eventDateUtc")


class MalformedEvent(ValueError):
    """A correctly signed delivery whose event lacks what every Xero event carries."""


@dataclass(frozen=True)
class StoredEvent:
    id: int
    tenant_id: str
    category: str
    event_type: str
    resource_id: str
    event_date: datetime
    received_at: datetime


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def parse_event_date(text: str) -> datetime:
    """Xero's eventDateUtc ("2017-06-21T01:15:39.902", UTC, sometimes with a Z or an offset) as naive UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _row(event: Mapping[str, Any], received_at: datetime) -> dict[str, Any]:
    missing = [name for name in _FIELDS if not isinstance(event.get(name), str) or not event.get(name)]
    if missing:
        raise MalformedEvent(f"a webhook event without {', '.join(missing)}")
    identity = "|".join(str(event[name]) for name in _FIELDS)
    try:
        event_date = parse_event_date(event["eventDateUtc"])
    except ValueError as exc:
        raise MalformedEvent(f"eventDateUtc {event['eventDateUtc']!r} is not a date: {exc}") from None
    return {
        "event_key": hashlib.sha256(identity.encode()).hexdigest(),
        "tenant_id": event["tenantId"],
        "category": event["eventCategory"],
        "event_type": event["eventType"],
        "resource_id": event["resourceId"],
        "event_date": event_date,
        "received_at": received_at,
        "state": PENDING,
    }


class WebhookEventStore:
    """The events table: the receiver records, the sensor reads pending events and settles them."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        create_missing_tables(engine, [webhook_events])

    def record(self, events: Iterable[Mapping[str, Any]]) -> int:
        """Store a delivery's events in one transaction; returns how many were new (a re-delivery adds none)."""
        now = _utcnow()
        rows = {row["event_key"]: row for row in (_row(event, now) for event in events)}  # a batch may repeat one
        if not rows:
            return 0
        insert = _insert_ignoring_duplicates(self.engine, list(rows.values()))
        with self.engine.begin() as conn:
            return conn.execute(insert).rowcount

    def pending(self) -> list[StoredEvent]:
        """Every event no run has claimed yet, oldest first."""
        query = sa.select(webhook_events).where(webhook_events.c.state == PENDING).order_by(webhook_events.c.id)
        with self.engine.connect() as conn:
            return [
                StoredEvent(r.id, r.tenant_id, r.category, r.event_type, r.resource_id, r.event_date, r.received_at)
                for r in conn.execute(query)
            ]

    def settle(self, ids: Sequence[int], state: str, run_key: str | None = None) -> int:
        """Move pending events on (claimed by `run_key`, dropped or already synced); returns how many moved. Only
        pending ones move, so two sensor ticks racing over one event cannot both claim it."""
        if not ids:
            return 0
        update = (
            webhook_events.update()
            .where(webhook_events.c.id.in_(list(ids)), webhook_events.c.state == PENDING)
            .values(state=state, run_key=run_key)
        )
        with self.engine.begin() as conn:
            return conn.execute(update).rowcount

    def counts(self) -> dict[str, int]:
        """Events by state (for tests and the CLI)."""
        query = sa.select(webhook_events.c.state, sa.func.count()).group_by(webhook_events.c.state)
        with self.engine.connect() as conn:
            return {state: count for state, count in conn.execute(query)}


def _insert_ignoring_duplicates(engine: sa.Engine, rows: list[dict[str, Any]]) -> sa.Insert:
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(webhook_events).values(rows).on_conflict_do_nothing(index_elements=["event_key"])
