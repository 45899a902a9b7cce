"""Xero's `where` and `order` parameters: a small parser and evaluator over rendered records.

Xero accepts a C#-like expression (`Status=="AUTHORISED" && Date >= DateTime(2024, 01, 01)`,
`Contact.ContactID==GUID("...")`, `Name.Contains("Ltd")`, `AmountDue > 0`, `X != null`). We evaluate it against the
record as it is served (so a filter sees exactly the fields a client sees), comparing MS dates as instants, GUIDs
case-insensitively and numbers as numbers. A malformed expression is Xero's QueryParseException.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from xero_assets.sandbox.books.query import QUERY_PARSE, VALIDATION, QueryError
from xero_assets.xero import dates

Record = dict[str, Any]
Predicate = Callable[[Record], bool]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<op>==|!=|>=|<=|&&|\|\||[<>!(),.])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_MS = re.compile(r"^\\?/Date\(")
_METHODS = {"contains", "startswith", "endswith", "tolower", "toupper", "equals"}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise QueryError(QUERY_PARSE, f"Syntax error in where clause at position {pos}: {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    """Recursive descent over the token list; every node compiles to a function of the record."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def error(self, what: str) -> QueryError:
        return QueryError(QUERY_PARSE, f"{what} in where clause: {self.text!r}")

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1].lower() != value.lower()):
            raise self.error(f"Expected {value or 'a value'}")
        self.i += 1
        return tok

    def at(self, *values: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[1].upper() in values

    def parse(self) -> Predicate:
        node = self.or_()
        if self.peek() is not None:
            raise self.error(f"Unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return lambda record: bool(node(record))

    def or_(self) -> Callable[[Record], Any]:
        left = self.and_()
        while self.at("||", "OR"):
            self.i += 1
            right = self.and_()
            left = (lambda a, b: lambda r: bool(a(r)) or bool(b(r)))(left, right)
        return left

    def and_(self) -> Callable[[Record], Any]:
        left = self.not_()
        while self.at("&&", "AND"):
            self.i += 1
            right = self.not_()
            left = (lambda a, b: lambda r: bool(a(r)) and bool(b(r)))(left, right)
        return left

    def not_(self) -> Callable[[Record], Any]:
        if self.at("!", "NOT"):
            self.i += 1
            inner = self.not_()
            return lambda r: not inner(r)
        return self.comparison()

    def comparison(self) -> Callable[[Record], Any]:
        left = self.operand()
        if self.at("==", "!=", ">", ">=", "<", "<="):
            op = self.take()[1]
            right = self.operand()
            return (lambda a, b, o: lambda r: _compare(a(r), b(r), o))(left, right, op)
        return left

    def operand(self) -> Callable[[Record], Any]:
        tok = self.peek()
        if tok is None:
            raise self.error("Unexpected end")
        kind, value = tok
        if value == "(":
            self.i += 1
            inner = self.or_()
            self.take(")")
            return self.methods(inner)
        if kind == "string":
            self.i += 1
            text = bytes(value[1:-1], "utf-8").decode("unicode_escape")
            return self.methods(lambda r: text)
        if kind == "number":
            self.i += 1
            number = float(value)
            return lambda r: number
        if kind != "name":
            raise self.error(f"Unexpected {value!r}")
        upper = value.upper()
        if upper in {"TRUE", "FALSE"}:
            self.i += 1
            flag = upper == "TRUE"
            return lambda r: flag
        if upper == "NULL":
            self.i += 1
            return lambda r: None
        if upper in {"DATETIME", "DATETIMEOFFSET", "DATE"} and self._next_is("("):
            moment = self.datetime_literal()
            return lambda r: moment
        if upper == "GUID" and self._next_is("("):
            self.i += 2
            guid = self.take()[1].strip('"').lower()
            self.take(")")
            return lambda r: guid
        return self.methods(self.path())

    def _next_is(self, value: str) -> bool:
        return self.i + 1 < len(self.toks) and self.toks[self.i + 1][1] == value

    def datetime_literal(self) -> datetime:
        self.i += 2
        parts: list[str] = []
        while not self.at(")"):
            _, value = self.take()
            if value != ",":
                parts.append(value.strip('"'))
        self.take(")")
        try:
            if len(parts) == 1:
                parsed = dates.parse(parts[0])
                if parsed is None:
                    raise ValueError(parts[0])
                return parsed
            numbers = [int(float(p)) for p in parts]
            return datetime(*numbers, tzinfo=UTC)  # type: ignore[misc]
        except (TypeError, ValueError):
            raise self.error("Invalid DateTime") from None

    def path(self) -> Callable[[Record], Any]:
        names = [self.take()[1]]
        while self.at(".") and self.i + 1 < len(self.toks) and self.toks[self.i + 1][1].lower() not in _METHODS:
            self.i += 1
            names.append(self.take()[1])
        return lambda r: _lookup(r, names)

    def methods(self, target: Callable[[Record], Any]) -> Callable[[Record], Any]:
        while self.at("."):
            self.i += 1
            method = self.take()[1].lower()
            if method not in _METHODS:
                raise self.error(f"Unknown method {method!r}")
            self.take("(")
            args: list[Callable[[Record], Any]] = []
            while not self.at(")"):
                args.append(self.operand())
                if self.at(","):
                    self.i += 1
            self.take(")")
            target = _method(target, method, args)
        return target


def _method(target: Callable[[Record], Any], method: str, args: Sequence[Callable[[Record], Any]]) -> Callable:
    def call(record: Record) -> Any:
        value = target(record)
        if value is None:
            return None if method in {"tolower", "toupper"} else False
        text = str(value)
        if method == "tolower":
            return text.lower()
        if method == "toupper":
            return text.upper()
        arg = str(args[0](record)) if args else ""
        return {
            "contains": arg in text,
            "startswith": text.startswith(arg),
            "endswith": text.endswith(arg),
            "equals": text == arg,
        }[method]

    return call


def _lookup(record: Record, names: Sequence[str]) -> Any:
    value: Any = record
    for name in names:
        if not isinstance(value, dict):
            return None
        if name in value:
            value = value[name]
        else:
            folded = {key.lower(): key for key in value}
            key = folded.get(name.lower())
            value = value[key] if key is not None else None
    return value


def _normalise(left: Any, right: Any) -> tuple[Any, Any]:
    """Make the two sides comparable: dates as instants, GUIDs and enums as text, numbers as numbers."""
    if isinstance(left, datetime) or isinstance(right, datetime):
        return _as_datetime(left), _as_datetime(right)
    if isinstance(left, bool) or isinstance(right, bool):
        return left, right
    if isinstance(left, int | float) and isinstance(right, str):
        return left, _as_number(right)
    if isinstance(right, int | float) and isinstance(left, str):
        return _as_number(left), right
    if isinstance(left, str) and isinstance(right, str):
        return left.lower(), right.lower()
    return left, right


def _as_number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            return dates.parse(value)
        except ValueError:
            return None
    return None


def _compare(left: Any, right: Any, op: str) -> bool:
    left, right = _normalise(left, right)
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        return bool(
            {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]  # type: ignore[operator]
        )
    except TypeError:
        return False


def compile_where(text: str) -> Predicate:
    """A predicate over rendered records, or QueryParseException for text Xero would not parse."""
    return _Parser(text).parse()


def sort_key(value: Any) -> tuple[int, Any]:
    """Order values the way Xero does: nulls first, MS dates by instant, text case-insensitively."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        if _MS.match(value):
            parsed = dates.parse(value)
            return (1, parsed.timestamp() if parsed else 0)
        return (2, value.lower())
    return (3, str(value))


def order_clauses(order: str) -> list[tuple[list[str], bool]]:
    """`order` ("Field [ASC|DESC], Field2 ...") as (field path, descending) pairs, or ValidationException."""
    clauses: list[tuple[list[str], bool]] = []
    for part in order.split(","):
        words = part.strip().split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].upper() not in {"ASC", "DESC"}):
            raise QueryError(VALIDATION, f"Invalid order clause: {order!r}")
        clauses.append((words[0].split("."), len(words) == 2 and words[1].upper() == "DESC"))
    return clauses


def order_value(record: Record, names: Sequence[str]) -> tuple[int, Any]:
    """The sort key of one rendered record for one order clause's field path."""
    return sort_key(_lookup(record, names))
