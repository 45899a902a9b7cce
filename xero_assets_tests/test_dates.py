from datetime import UTC, datetime

import pytest

from xero_assets.xero import dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/Date(1573755038314+0000)/", datetime(2019, 11, 14, 18, 10, 38, 314000, tzinfo=UTC)),
        ("\\/Date(1552326816230)\\/", datetime(2019, 3, 11, 17, 53, 36, 230000, tzinfo=UTC)),
        ("/Date(1539993600000+1300)/", datetime(2018, 10, 20, 0, 0, tzinfo=UTC)),
        ("2019-12-07T18:46:19.5165400", None),
        ("2019-03-05T18:59:06Z", datetime(2019, 3, 5, 18, 59, 6, tzinfo=UTC)),
    ],
)
def test_parse_reads_ms_and_iso_dates_as_utc(value: str, expected: datetime | None) -> None:
    parsed = dates.parse(value)
    assert parsed is not None and parsed.tzinfo is not None
    if expected is not None:
        assert parsed == expected


def test_format_round_trips_to_the_millisecond() -> None:
    moment = datetime(2024, 2, 29, 23, 59, 58, 123000, tzinfo=UTC)
    assert dates.format_ms(moment) == "/Date(1709251198123+0000)/"
    assert dates.parse(dates.format_ms(moment)) == moment
    assert dates.format_ms(moment, with_offset=False) == "/Date(1709251198123)/"


def test_garbage_is_rejected_with_the_value_named() -> None:
    with pytest.raises(ValueError, match="not a Xero date: 'yesterday'"):
        dates.parse("yesterday")
