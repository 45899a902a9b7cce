"""A large response's list of records kept as JSON text and decoded one record at a time as it is read.

Why: decoded, a record takes about four times its JSON text (1,000 invoices: 2.4 MB of JSON, 10 MB of dicts), and
some lists Xero answers in ONE call whatever their size (RepeatingInvoices, Items, BankTransfers): 8,100 repeating
invoices (17 MB of JSON) decoded at once were a 70 MB spike, the largest of a large organisation's sync. `loads`
checks the whole body is complete JSON up front, as decoding it would (a cut-off body is still retried by the
client), but keeps the list as text with each record's bounds; the sync then decodes it a record at a time as it
writes. The text is a `str` (the standard library's scanner reads nothing else): one byte a character for ASCII,
two or four where a record holds characters beyond Latin-1, still well under the decoded records.
"""

from __future__ import annotations

import json
from array import array
from collections.abc import Iterator, Sequence
from typing import Any, overload

import orjson

_WHITESPACE = " \t\n\r"


def _reject_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


# The standard library's C scanner finds where each value ends; strict like orjson (no NaN or Infinity).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


class LazyRecords(Sequence[dict[str, Any]]):
    """The records of one JSON list, decoded (by orjson) each time one is read; nothing decoded is kept."""

    def __init__(self, text: str, starts: array[int], ends: array[int]) -> None:
        self._text = text
        self._starts = starts
        self._ends = ends

    def __len__(self) -> int:
        return len(self._starts)

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return orjson.loads(self._text[self._starts[index] : self._ends[index]])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        text = self._text
        for start, end in zip(self._starts, self._ends, strict=True):
            yield orjson.loads(text[start:end])


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index


def _expect(text: str, index: int, allowed: str) -> str:
    char = text[index] if index < len(text) else ""
    if not char or char not in allowed:
        raise json.JSONDecodeError(f"expecting one of {allowed!r}", text, index)
    return char


def _list_bounds(text: str, index: int) -> tuple[LazyRecords, int]:
    """The list starting at `index` ('['): each element checked by decoding it (then dropped), and its bounds."""
    starts, ends = array("q"), array("q")
    index = _skip(text, index + 1)
    if text.startswith("]", index):
        return LazyRecords(text, starts, ends), index + 1
    while True:
        _, end = _DECODER.raw_decode(text, index)
        starts.append(index)
        ends.append(end)
        index = _skip(text, end)
        if _expect(text, index, ",]") == "]":
            return LazyRecords(text, starts, ends), index + 1
        index = _skip(text, index + 1)


def loads(content: bytes, list_key: str) -> Any:
    """`content` decoded as JSON, except that a top-level object's `list_key` list is a `LazyRecords`.

    Raises ValueError (json.JSONDecodeError, UnicodeDecodeError) wherever orjson.loads would: the whole body is
    checked before anything is returned."""
    text = content.decode("utf-8")
    index = _skip(text, 0)
    if not text.startswith("{", index):  # not an object: nothing to keep lazily
        return orjson.loads(content)
    body: dict[str, Any] = {}
    index = _skip(text, index + 1)
    if _expect(text, index, '}"') == "}":
        index += 1
    else:
        while True:
            _expect(text, index, '"')
            key, index = _DECODER.raw_decode(text, index)
            index = _skip(text, index)
            _expect(text, index, ":")
            index = _skip(text, index + 1)
            if key == list_key and text.startswith("[", index):
                body[key], index = _list_bounds(text, index)
            else:
                body[key], index = _DECODER.raw_decode(text, index)
            index = _skip(text, index)
            if _expect(text, index, ",}") == "}":
                index += 1
                break
            index = _skip(text, index + 1)
    if _skip(text, index) != len(text):
        raise json.JSONDecodeError("extra data", text, index)
    return body
