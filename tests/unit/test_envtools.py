"""``python -m statuspage env``: check, snapshot and diff against a dict, and what render.yaml declares.

Against Render's API (a stand-in on a real socket): tests/integration/test_envtools_render.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from statuspage import config
from statuspage.cli import env as envtools

from ..helpers.envtools import DSN, SENTINEL, good_environ, run, take_snapshot


def blueprint() -> dict[str, Any]:
    return yaml.safe_load(envtools.BLUEPRINT.read_text())


def web_service() -> dict[str, Any]:
    return next(s for s in blueprint()["services"] if s["name"] == envtools.SERVICE_NAME)


def env_entry(key: str) -> dict[str, Any]:
    return next(entry for entry in web_service()["envVars"] if entry.get("key") == key)


# --- check ---


def test_check_passes_when_every_variable_is_set_and_valid() -> None:
    code, out, err = run(["check"], good_environ())
    assert (code, err) == (0, "")
    assert re.fullmatch(r"env check: \d+ variables OK\n", out)


def test_check_fails_naming_each_missing_variable() -> None:
    environ = good_environ()
    del environ["DATABASE_URL"], environ["WEB_CONCURRENCY"]
    environ["ENGINE_METRICS_URL"] = "  "  # blank is as missing as absent

    code, out, err = run(["check", "--blueprint", str(envtools.BLUEPRINT)], environ)

    assert code == 1
    assert out == ""
    for name in ("DATABASE_URL", "WEB_CONCURRENCY", "ENGINE_METRICS_URL"):
        assert f"{name}: missing" in err.splitlines()


def test_check_without_a_blueprint_requires_only_what_the_settings_table_calls_required() -> None:
    required = [setting.env for setting in config.SETTINGS if setting.required]
    assert run(["check"], {"DATABASE_URL": DSN}) == (0, "env check: 1 variables OK\n", "")
    code, _, err = run(["check"], {"LOG_LEVEL": "INFO"})
    assert code == 1
    assert [line.split(":")[0] for line in err.splitlines()[:-1]] == required


def test_check_fails_naming_an_invalid_setting() -> None:
    code, _, err = run(["check"], good_environ() | {"REFRESH_INTERVAL_S": "abc"})
    assert code == 1
    assert [line for line in err.splitlines() if line.startswith("REFRESH_INTERVAL_S:")] == [
        "REFRESH_INTERVAL_S: must be a number"
    ]
    assert "abc" not in err


def test_check_applies_the_rules_across_settings() -> None:
    code, _, err = run(["check"], good_environ() | {"STALE_AFTER_S": "30", "REFRESH_INTERVAL_S": "60"})
    assert code == 1
    assert "STALE_AFTER_S must be greater than REFRESH_INTERVAL_S" in err


def test_check_validates_optional_settings_that_are_set() -> None:
    code, _, err = run(["check"], good_environ() | {"LOG_LEVEL": "chatty"})
    assert code == 1
    assert "LOG_LEVEL:" in err


def test_check_never_prints_a_value() -> None:
    for environ in (
        good_environ(),
        good_environ() | {"DATABASE_URL": f"mysql://statuspage:{SENTINEL}@db.internal/engine"},
        good_environ() | {"REFRESH_INTERVAL_S": SENTINEL},  # config's parser echoes this one
    ):
        code, out, err = run(["check"], environ)
        assert SENTINEL not in out + err, (code, out, err)


def test_check_requires_what_the_given_blueprint_declares(tmp_path: Path) -> None:
    other = tmp_path / "render.yaml"
    other.write_text(yaml.safe_dump({"services": [{
        "type": "web", "name": "statuspage",
        "envVars": [{"key": "DATABASE_URL", "fromDatabase": {"name": "db", "property": "connectionString"}},
                    {"key": "OPS_TOKEN", "sync": False}],
    }]}))
    code, _, err = run(["check", "--blueprint", str(other)], good_environ())
    assert code == 1
    assert err.splitlines()[0] == "OPS_TOKEN: missing"


def test_check_without_a_readable_blueprint_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = run(["check", "--blueprint", str(tmp_path / "absent.yaml")], good_environ())
    assert code == 2
    assert "absent.yaml" in err


# --- snapshot ---


def test_snapshot_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    code, _, _ = run(["snapshot", "--out", str(path)], good_environ())
    assert code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_snapshot_records_each_value_as_its_sha256_and_no_value(tmp_path: Path) -> None:
    environ = good_environ()
    path = tmp_path / "env.json"

    code, out, err = run(["snapshot", "--out", str(path)], environ)

    assert (code, err) == (0, "")
    assert f" {len(environ)} variables " in out
    text = path.read_text()
    assert SENTINEL not in text + out
    snapshot = json.loads(text)
    assert snapshot["source"] == "local"
    assert snapshot["taken_at"]
    assert snapshot["variables"] == {
        name: {"sha256": hashlib.sha256(value.encode()).hexdigest()} for name, value in environ.items()
    }


def test_snapshot_records_values_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    code, out, _ = run(["snapshot", "--out", str(path), "--include-values"], good_environ())
    assert code == 0
    assert json.loads(path.read_text())["variables"]["DATABASE_URL"] == {
        "sha256": hashlib.sha256(DSN.encode()).hexdigest(), "value": DSN,
    }
    assert SENTINEL not in out


def test_snapshot_never_overwrites_an_earlier_one(tmp_path: Path) -> None:
    path = tmp_path / "env.json"
    path.write_text("the only good copy")
    code, _, err = run(["snapshot", "--out", str(path)], good_environ())
    assert code == 2
    assert "already exists" in err
    assert path.read_text() == "the only good copy"


# --- diff ---


def test_diff_lists_removed_added_and_changed_names(tmp_path: Path) -> None:
    before = good_environ() | {"TRACKER_JSON_PATH": "/srv/tracker.json", "FEATURE_X": "on"}
    snapshot = take_snapshot(tmp_path, before)
    after = dict(before)
    del after["FEATURE_X"]
    after |= {"TRACKER_JSON_PATH": "/srv/other.json", "LOG_LEVEL": "DEBUG", "NEW_ONE": "1"}

    code, out, err = run(["diff", str(snapshot)], after)

    assert (code, err) == (0, "")
    assert out.splitlines() == ["removed: FEATURE_X", "added: NEW_ONE", "changed: LOG_LEVEL, TRACKER_JSON_PATH"]


def test_diff_passes_when_only_an_optional_variable_changed(tmp_path: Path) -> None:
    snapshot = take_snapshot(tmp_path, good_environ() | {"TRACKER_JSON_PATH": "/srv/tracker.json"})
    code, out, _ = run(["diff", str(snapshot)], good_environ() | {"TRACKER_JSON_PATH": "/srv/moved.json"})
    assert code == 0
    assert out.splitlines() == ["removed: -", "added: -", "changed: TRACKER_JSON_PATH"]


def test_diff_fails_when_database_url_was_removed(tmp_path: Path) -> None:
    snapshot = take_snapshot(tmp_path, good_environ())
    after = good_environ()
    del after["DATABASE_URL"]

    code, out, err = run(["diff", str(snapshot)], after)

    assert code == 1
    assert "removed: DATABASE_URL" in out.splitlines()
    assert "DATABASE_URL" in err
    assert SENTINEL not in out + err


def test_diff_fails_when_a_variable_the_blueprint_declares_was_removed(tmp_path: Path) -> None:
    snapshot = take_snapshot(tmp_path, good_environ())
    after = good_environ()
    del after["WEB_CONCURRENCY"]
    code, _, err = run(["diff", str(snapshot)], after)
    assert code == 1
    assert "WEB_CONCURRENCY" in err


def test_diff_of_an_unreadable_snapshot_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    assert run(["diff", str(path)], good_environ())[0] == 2


# --- render.yaml ---


def test_blueprint_health_check_is_healthz() -> None:
    assert web_service()["healthCheckPath"] == "/healthz"


def test_blueprint_runs_env_check_then_migrations_before_each_deploy() -> None:
    # the check first: a deploy missing a variable stops before anything touches the database
    assert web_service()["preDeployCommand"].split(" && ") == ["python -m statuspage env check --blueprint render.yaml",
                                                               "python -m statuspage db migrate"]


def test_blueprint_takes_database_url_from_its_database() -> None:
    source = env_entry("DATABASE_URL")["fromDatabase"]
    assert source["property"] == "connectionString"
    assert source["name"] in {database["name"] for database in blueprint()["databases"]}


def test_blueprint_leaves_engine_metrics_url_to_an_operator() -> None:
    assert env_entry("ENGINE_METRICS_URL") == {"key": "ENGINE_METRICS_URL", "sync": False}


def test_blueprint_declares_every_required_setting() -> None:
    declared = envtools.declared_variables(envtools.BLUEPRINT)
    assert {setting.env for setting in config.SETTINGS if setting.required} <= declared.keys()


def test_blueprint_values_pass_their_parsers_and_hold_no_secret() -> None:
    declared = envtools.declared_variables(envtools.BLUEPRINT)
    for setting in config.SETTINGS:
        entry = declared.get(setting.env, {})
        if setting.secret:
            assert "value" not in entry, setting.env
        elif "value" in entry:
            setting.parse(entry["value"])


def test_blueprint_and_config_agree_on_a_fresh_environment() -> None:
    """A deploy given exactly what render.yaml declares (plus the operator's URL) passes check."""
    environ = {key: entry["value"] for key, entry in envtools.declared_variables(envtools.BLUEPRINT).items()
               if "value" in entry}
    environ |= {key: DSN for key, entry in envtools.declared_variables(envtools.BLUEPRINT).items()
                if "fromDatabase" in entry}  # DATABASE_URL and HISTORY_DATABASE_URL, as Render sets them
    environ |= {"DATABASE_URL": DSN, "ENGINE_METRICS_URL": "https://engine.example/metrics"}
    assert run(["check", "--blueprint", str(envtools.BLUEPRINT)], environ)[0] == 0


def test_blueprint_declares_a_setting_only_to_change_its_default() -> None:
    """Defaults live in config.SETTINGS alone; a copy here would drift from it."""
    declared = envtools.declared_variables(envtools.BLUEPRINT)
    for setting in config.SETTINGS:
        if "value" in declared.get(setting.env, {}):
            assert declared[setting.env]["value"] != setting.default, setting.env


# --- usage errors ---


def test_render_without_an_api_key_exits_2(tmp_path: Path) -> None:
    code, _, err = run(["snapshot", "--out", str(tmp_path / "x.json"), "--render-service", "srv-abc"], {})
    assert code == 2
    assert len(err.splitlines()) == 1
    assert "RENDER_API_KEY" in err
    assert not (tmp_path / "x.json").exists()


def test_a_usage_error_exits_2_on_the_given_stream() -> None:
    code, out, err = run(["snapshot"], good_environ())
    assert code == 2
    assert "--out" in err
    assert out == ""
