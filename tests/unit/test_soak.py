"""The soak's own judge (bench/soak.py): every invariant of a landing JSON it checks, and what
each fault phase must show, over recorded observations made up here."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bench.soak import (
    DOWN_WITHIN_S,
    FRESH_WITHIN_S,
    UP_WITHIN_S,
    Body,
    Phase,
    SoakResult,
    Status,
    expected_all,
    landing_violations,
    parse_json,
    phase_problems,
)
from statuspage.demo import seed


def test_the_soak_checks_every_invariant_of_the_landing_json() -> None:
    daily = [{"cum_trades": n} for n in [1] * 29 + [3]]
    good = {"windows": {"7d": {"trades": 1, "wins": 1, "losses": 0, "pnl": "2.00", "fees": "0.10"},
                        "30d": {"trades": 2, "wins": 1, "losses": 1, "pnl": "1.00", "fees": "0.20"},
                        "all": {"trades": 3, "wins": 2, "losses": 1, "pnl": "4.00", "fees": "0.30"}},
            "daily": daily}
    assert landing_violations(good) == []
    bad = {"windows": {"7d": {"trades": 0, "wins": 0, "losses": 0, "pnl": "1.00", "fees": "0.00"},
                       "30d": {"trades": 4, "wins": 3, "losses": 2, "pnl": "1.00", "fees": "0.20"},
                       "all": {"trades": 3, "wins": 2, "losses": 1, "pnl": "4.00", "fees": "0.30"}},
           "daily": [{"cum_trades": n} for n in [2] * 28 + [1, 2]]}
    assert landing_violations(bad) == [
        "7d: no trades but pnl 1.00, fees 0.00, wins 0",
        "30d: wins 3 + losses 2 > trades 4",
        "trades not nested: 0, 4, 3",
        "cum_trades decreases",
        "last cum_trades 2 != all-time trades 3",
    ]


def _result(phases: list[Phase], status: list[Status], bodies: list[Body] = ()) -> SoakResult:
    result = SoakResult(duration_s=100, expected={"trades": 5000}, phases=phases)
    result.status, result.bodies = status, list(bodies)
    return result


def _polls(begin: float, end: float, state: str, detail: str = "") -> list[Status]:
    return [Status(begin + i / 4, "operational", state, detail) for i in range(int((end - begin) * 4))]


FREEZE = Phase("freeze", 10, 25, "2026-01-01T00:00:10Z", "2026-01-01T00:00:25Z")


def test_a_fault_passes_when_reported_down_in_time_and_recovered_with_fresh_numbers() -> None:
    status = _polls(0, 12, "operational") + _polls(12, 27, "down") + _polls(27, 40, "operational")
    fresh = [Body(30, "2026-01-01T00:00:29Z", held=False)]
    assert phase_problems(_result([FREEZE], status, fresh), FREEZE) == []


def test_a_fault_reported_late_recovered_late_or_without_fresh_numbers_fails() -> None:
    late_down = _polls(0, 10 + DOWN_WITHIN_S + 1, "operational") + _polls(10 + DOWN_WITHIN_S + 1, 26, "down")
    late_up = late_down + _polls(26, 25 + UP_WITHIN_S + 1, "down") + _polls(25 + UP_WITHIN_S + 1, 40, "operational")
    stale = [Body(30, "2026-01-01T00:00:20Z", held=False), Body(31, "2026-01-01T00:00:30Z", held=True)]
    problems = phase_problems(_result([FREEZE], late_up, stale), FREEZE)
    assert [p.split(" within")[0] for p in problems] == [
        "database not reported down", "database not operational on every worker", "no numbers read after the fault"]


def test_an_emptied_table_must_be_held_with_its_reason_then_published_again() -> None:
    empty = Phase("empty", 10, 25, "2026-01-01T00:00:10Z", "2026-01-01T00:00:25Z")
    status = _polls(0, 40, "operational", "all-time trade count fell from 5000 to 0; holding the last good numbers")
    bodies = [Body(14, "2026-01-01T00:00:05Z", held=True), Body(29, "2026-01-01T00:00:28Z", held=False)]
    assert phase_problems(_result([empty], status, bodies), empty) == []
    never_held = _result([empty], _polls(0, 40, "operational"), bodies[1:])
    assert phase_problems(never_held, empty) == [
        "the landing JSON never said held", "the snapshot component never said 'fell from 5000 to 0'"]


def test_bad_rows_must_be_answered_200_set_aside_until_the_end_and_followed_by_fresh_numbers() -> None:
    bad = Phase("bad rows", 10, 100, "2026-01-01T00:00:10Z", "2026-01-01T00:01:40Z")
    said = _polls(0, 10, "operational") + _polls(10, 100, "operational", "2 trades set aside as invalid")
    result = _result([bad], said, [Body(15, "2026-01-01T00:00:14Z", held=False)])
    result.responses[("bad rows", "/", 200)] += 3
    assert phase_problems(result, bad) == []
    result.responses[("bad rows", "/", 503)] += 1
    result.status = [*said[:-1], Status(99.9, "operational", "operational", "")]
    result.bodies = []
    assert phase_problems(result, bad) == [
        "answers other than 200/304: {('/', 503): 1}",
        "the snapshot component did not say (until the end) that 2 trades were set aside",
        "no numbers read after the bad rows were published"]


def test_overall_may_change_on_one_connection_only_while_a_fault_or_its_recovery_is_under_way() -> None:
    result = _result([FREEZE], [])
    result.pinned = [(5, 1, "operational"), (6, 2, "degraded"),  # two workers differing is no flip
                     (12, 1, "partial outage"), (25 + FRESH_WITHIN_S - 1, 1, "operational"),
                     (60, 1, "degraded")]
    assert result.uncaused_flips() == [(60, "operational", "degraded")]


def test_the_expected_numbers_are_recomputed_from_the_seeded_trades_and_json_refuses_nan() -> None:
    def trade(i: int, pnl: str, fees: str) -> seed.Trade:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        return seed.Trade(i, "BTC-USD", "long", Decimal(1), Decimal(1), Decimal(1), Decimal(pnl), Decimal(fees), at, at)

    trades = [trade(1, "10.005", "0.125"), trade(2, "-3.001", "0.12"), trade(3, "0", "0")]
    assert expected_all(trades) == {"trades": 3, "wins": 1, "losses": 1, "pnl": "7.00", "fees": "0.25"}
    assert expected_all([trade(1, "-0.004", "0")])["pnl"] == "0.00"  # never -0.00
    for text in (b'{"a": NaN}', b'{"a": Infinity}', b'{"a": -Infinity}'):
        with pytest.raises(ValueError, match="in JSON"):
            parse_json(text)
