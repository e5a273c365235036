"""How figures read on the page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from statuspage import formatting as f

MINUS = "\u2212"


@pytest.mark.parametrize(("value", "text"), [
    ("1234.5", "+1,234.50"), ("-12", f"{MINUS}12.00"), ("0.00", "0.00"), ("-0.001", "0.00"),
    (Decimal(1000000), "+1,000,000.00"), (None, "—"),
])
def test_signed_amounts_carry_an_explicit_sign(value: object, text: str) -> None:
    assert f.signed(value) == text


@pytest.mark.parametrize(("value", "kind"), [("3.10", "pos"), ("-0.01", "neg"), ("0.00", "zero"), (None, "zero")])
def test_sign_names_the_treatment(value: str | None, kind: str) -> None:
    assert f.sign(value) == kind


def test_amount_groups_thousands_and_keeps_a_real_minus_sign() -> None:
    assert f.amount("98765.432") == "98,765.43"
    assert f.amount("-5") == f"{MINUS}5.00"
    assert f.amount(Decimal(-250), 0) == f"{MINUS}250"


def test_ratios_and_percentages_have_fixed_places() -> None:
    assert f.percent(0.58333) == "58.3%"
    assert f.percent(1.0) == "100.0%"
    assert f.ratio(2.75) == "2.75"


def test_missing_values_read_as_a_dash() -> None:
    for formatter in (f.amount, f.signed, f.percent, f.ratio, f.clock, f.stamp):
        assert formatter(None) == "—"


def test_times_are_shown_in_utc() -> None:
    moment = datetime(2024, 5, 1, 16, 30, 5, tzinfo=timezone(timedelta(hours=2)))
    assert f.clock(moment) == "14:30:05 UTC"
    assert f.stamp(moment) == "2024-05-01 14:30:05 UTC"
    assert f.iso(moment) == "2024-05-01T14:30:05Z"


def test_age_uses_the_same_words_as_the_status_module() -> None:
    now = datetime(2024, 5, 1, 14, 30, 5, tzinfo=UTC)
    assert f.age(now - timedelta(seconds=12), now) == "12 s ago"
    assert f.age(now - timedelta(minutes=4), now) == "4 min ago"
