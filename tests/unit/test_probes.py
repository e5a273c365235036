"""What the probes make of what they read: the engine's metrics text and the tracker file."""

from __future__ import annotations

import pytest

from statuspage.jobs.probes import parse_engine_metrics, tracker_trades


def test_parser_rejects_text_that_is_not_prometheus() -> None:
    with pytest.raises(ValueError):
        parse_engine_metrics("<html>{oops\n")
    assert parse_engine_metrics("# TYPE engine_db_connected gauge\nengine_db_connected 0\n") == {"db_connected": 0}


def test_tracker_counts_lists_and_objects(tmp_path) -> None:
    (tmp_path / "a.json").write_text('[{"id": 1}, {"id": 2}]')
    (tmp_path / "b.json").write_text('{"trades": [{}, {}, {}]}')
    (tmp_path / "c.json").write_text('{"total_trades": 107}')
    (tmp_path / "d.json").write_text('{"nothing": true}')
    assert [tracker_trades(str(tmp_path / f"{n}.json")) for n in "abc"] == [2, 3, 107]
    with pytest.raises(ValueError):
        tracker_trades(str(tmp_path / "d.json"))
