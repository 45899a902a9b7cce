"""Large list bodies kept as JSON text: decoded exactly as orjson would, and refused wherever orjson would refuse."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xero_assets.xero import lazy_json

RECORDS = [
    {"RepeatingInvoiceID": "r-1", "Total": 10.5, "LineItems": [{"Description": 'a "quoted", [bracketed] line'}]},
    {"RepeatingInvoiceID": "r-2", "Total": -3, "Schedule": {"Unit": "MONTHLY"}, "Reference": None, "Sent": True},
    {"RepeatingInvoiceID": "r-3", "Name": "Ünïcødé ✓ \\ \u2028", "Empty": [], "Nested": {"x": [[], {}]}},
]
BODY = {"Id": "abc", "Status": "OK", "RepeatingInvoices": RECORDS, "pagination": {"pageCount": 1}}


def test_the_list_is_kept_as_text_and_reads_back_exactly_as_orjson_decodes_it() -> None:
    content = orjson.dumps(BODY, option=orjson.OPT_INDENT_2)
    body = lazy_json.loads(content, "RepeatingInvoices")
    records = body["RepeatingInvoices"]
    assert isinstance(records, lazy_json.LazyRecords)
    assert len(records) == 3 and list(records) == RECORDS and records[-1] == RECORDS[-1] and records[:2] == RECORDS[:2]
    assert {k: v for k, v in body.items() if k != "RepeatingInvoices"} == {
        k: v for k, v in BODY.items() if k != "RepeatingInvoices"
    }


def test_an_empty_list_and_a_body_without_the_list_decode_as_usual() -> None:
    assert list(lazy_json.loads(b'{"Items": [ ]}', "Items")["Items"]) == []
    assert lazy_json.loads(b'{"Other": [1, 2]}', "Items") == {"Other": [1, 2]}
    assert lazy_json.loads(b' {"Items": null} ', "Items") == {"Items": None}
    assert lazy_json.loads(b"[1, 2]", "Items") == [1, 2]


def test_a_body_cut_off_anywhere_is_refused_like_orjson_refuses_it() -> None:
    content = orjson.dumps(BODY)
    for end in range(len(content)):
        with pytest.raises(ValueError):
            lazy_json.loads(content[:end], "RepeatingInvoices")


@pytest.mark.parametrize(
    "content",
    [
        b'{"Items": [{"a": 1},]}',
        b'{"Items": [{"a": 1}] "x": 1}',
        b'{"Items": [NaN]}',
        b'{"Items": []} x',
        b'{"Items": [1 2]}',
    ],
)
def test_malformed_json_is_refused(content: bytes) -> None:
    with pytest.raises(ValueError):
        orjson.loads(content)
    with pytest.raises(ValueError):
        lazy_json.loads(content, "Items")


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=100, deadline=None)
@given(records=st.lists(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=5), max_size=6))
def test_any_list_of_records_reads_back_as_orjson_decodes_it(records: list[dict]) -> None:
    content = orjson.dumps({"Status": "OK", "Items": records})
    assert list(lazy_json.loads(content, "Items")["Items"]) == orjson.loads(content)["Items"]
