"""Configuration fails loudly: the incident began with a lost DATABASE_URL and a silent localhost."""

from __future__ import annotations

import pytest

from statuspage.config import ConfigError, load_settings, redact_dsn

from ..helpers.app import settings_for

GOOD = "postgresql://page:s3cret-pw@db.internal:5432/engine"


def test_defaults_apply_when_only_database_url_is_set() -> None:
    s = load_settings({"DATABASE_URL": GOOD})
    assert (s.refresh_interval_s, s.stale_after_s, s.db_connect_timeout_s, s.db_statement_timeout_ms) == \
        (60, 180, 5, 5000)
    assert (s.probe_interval_s, s.probe_timeout_s, s.probe_confirm, s.engine_stale_after_s, s.db_slow_ms) == \
        (15, 3, 2, 120, 250)
    assert s.engine_metrics_url is None and s.tracker_json_path is None


def test_missing_database_url_names_it_and_says_how_to_set_it() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"PGHOST": "localhost", "DB_URL": GOOD})  # no fallback to lookalikes
    assert err.value.problems == [
        "DATABASE_URL is not set: set DATABASE_URL to the engine database, "
        "e.g. postgresql://user:password@host:5432/dbname"
    ]


@pytest.mark.parametrize("dsn", ["not a url", "mysql://u:p@h/db", "postgresql:///engine", "postgresql://:5432/engine"])
def test_malformed_or_hostless_database_url_is_refused(dsn: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"DATABASE_URL": dsn})
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith("DATABASE_URL ")


@pytest.mark.parametrize(("name", "raw"), [("REFRESH_INTERVAL_S", "abc"), ("REFRESH_INTERVAL_S", "0"),
                                           ("STALE_AFTER_S", "-5"), ("DB_STATEMENT_TIMEOUT_MS", "1.5"),
                                           ("PROBE_CONFIRM", "0"), ("ENGINE_METRICS_URL", "engine:9100"),
                                           ("REFRESH_INTERVAL_S", "nan"), ("LOG_LEVEL", "LOUD")])
def test_a_bad_value_is_one_line_naming_the_variable(name: str, raw: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"DATABASE_URL": GOOD, name: raw})
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith(f"{name} ")


def test_every_bad_setting_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"REFRESH_INTERVAL_S": "x", "PROBE_TIMEOUT_S": "0"})
    assert [p.split()[0] for p in err.value.problems] == ["DATABASE_URL", "REFRESH_INTERVAL_S", "PROBE_TIMEOUT_S"]


def test_stale_after_must_exceed_the_refresh_interval() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"DATABASE_URL": GOOD, "REFRESH_INTERVAL_S": "60", "STALE_AFTER_S": "30"})
    assert "STALE_AFTER_S" in err.value.problems[0]


def test_password_is_never_shown() -> None:
    assert redact_dsn(GOOD) == "host=db.internal port=5432 dbname=engine user=page password=<redacted>"
    assert "s3cret-pw" not in repr(load_settings({"DATABASE_URL": GOOD}))
    with pytest.raises(ConfigError) as err:
        load_settings({"DATABASE_URL": "mysql://u:s3cret-pw@h/db"})
    assert "s3cret-pw" not in str(err.value)


# --- the operator view's token and proxy trust ---


@pytest.mark.parametrize(("token", "reason"), [
    ("short-secret", "must be at least 16 characters; generate one with "
                     "python -c 'import secrets; print(secrets.token_urlsafe(32))'"),
    ("a long secret with spaces", "must be printable ASCII without spaces, so it can be sent as a Bearer token"),
    ("s\u00e9cret-non-ascii-0123456789", "must be printable ASCII without spaces, so it can be sent as a Bearer token"),
])
def test_a_weak_or_unsendable_token_stops_start_up_without_being_echoed(token: str, reason: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_for(GOOD, OPS_TOKEN=token)  # what create_app is given: it raises before building anything
    assert raised.value.problems == [f"OPS_TOKEN {reason}"]


@pytest.mark.parametrize(("raw", "message"), [("-1", "TRUSTED_PROXY_HOPS must be 0 or more, got '-1'"),
                                              ("one", "TRUSTED_PROXY_HOPS must be a whole number, got 'one'")])
def test_a_bad_trusted_proxy_hops_stops_start_up(raw: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        settings_for(GOOD, TRUSTED_PROXY_HOPS=raw)
    assert raised.value.problems == [message]
