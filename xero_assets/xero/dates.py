"""Xero's Microsoft JSON dates: `/Date(1573755038314+0000)/` for fields, `/Date(1552326816230)/` in envelopes.

The offset is part of the value: `/Date(1539993600000+1300)/` is the same instant as its millisecond count, and the
offset only says which local time Xero rendered. Payroll NZ/UK and Identity send ISO strings instead, so `parse`
accepts both and always returns an aware UTC datetime.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_MS_DATE = re.compile(r"^\\?/Date\((-?\d+)([+-]\d{4})?\)\\?/$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse(value: str | None) -> datetime | None:
    """An aware UTC datetime from an MS date or an ISO string (naive ISO strings are UTC, as Xero sends them)."""
    if value is None or value == "":
        return None
    match = _MS_DATE.match(value)
    if match:
        return _EPOCH + timedelta(milliseconds=int(match.group(1)))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a Xero date: {value!r} (expected /Date(ms+zzzz)/ or ISO 8601)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_ms(moment: datetime, with_offset: bool = True) -> str:
    """`/Date(ms+0000)/` for a field (with_offset) or `/Date(ms)/` for an envelope's DateTimeUTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    millis = (moment - _EPOCH) // timedelta(milliseconds=1)
    return f"/Date({millis}+0000)/" if with_offset else f"/Date({millis})/"


def format_if_modified_since(moment: datetime) -> str:
    """The If-Modified-Since header value: UTC, to the second, as Xero's docs show it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
