"""Every whole-number setting refuses a bad value the same way, naming the variable and what to give."""

from __future__ import annotations

import pytest

from xero_assets import fleet, reports
from xero_assets.settings import whole_number
from xero_assets.xero.config import ConfigError

NAME = "XERO_ASSETS_TEST_SETTING"


@pytest.mark.parametrize("raw", ["", "  "])
def test_unset_or_blank_is_the_default(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(NAME, raw)
    assert whole_number(NAME, 7) == 7


def test_a_whole_number_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAME, " 12 ")
    assert whole_number(NAME, 7, minimum=1) == 12


@pytest.mark.parametrize(("raw", "minimum"), [("lots", 0), ("1.5", 0), ("-1", 0), ("0", 1)])
def test_a_bad_value_names_the_variable_the_value_and_the_default(
    monkeypatch: pytest.MonkeyPatch, raw: str, minimum: int
) -> None:
    monkeypatch.setenv(NAME, raw)
    with pytest.raises(ConfigError, match=f"{NAME}='{raw}': give a whole number, {minimum} or more, or unset it"):
        whole_number(NAME, 7, minimum=minimum)


def test_the_settings_that_use_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XERO_ASSETS_AGED_CONTACTS_PER_SYNC", "0")  # 0 contacts a sync is allowed
    assert reports.aged_contacts_per_sync() == 0
    monkeypatch.setenv(fleet.MAX_PARALLEL_ENV, "0")  # 0 tenants at once is not
    with pytest.raises(ConfigError, match="XERO_ASSETS_MAX_PARALLEL_TENANTS='0'"):
        fleet.max_parallel_tenants()
