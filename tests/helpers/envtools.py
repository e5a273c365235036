"""``python -m statuspage env`` run in process against a dict, its output captured."""

from __future__ import annotations

import io
from pathlib import Path

from statuspage import config
from statuspage.cli import env as envtools

SENTINEL = "Sentinel-pw-4f9c2e"  # a password that must never reach stdout or stderr
DSN = f"postgresql://statuspage:{SENTINEL}@db.internal:5432/engine"


def good_environ() -> dict[str, str]:
    environ = {setting.env: setting.default for setting in config.SETTINGS if setting.default is not None}
    return environ | {
        "DATABASE_URL": DSN,
        "HISTORY_DATABASE_URL": DSN,  # render.yaml gives history a database of its own
        "ENGINE_METRICS_URL": "http://engine.internal:9100/metrics",
        "PYTHON_VERSION": "3.11.9",
        "WEB_CONCURRENCY": "2",
    }


def run(argv: list[str], environ: dict[str, str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = envtools.main(argv, environ=environ, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def take_snapshot(tmp_path: Path, environ: dict[str, str], *extra: str) -> Path:
    path = tmp_path / "before.json"
    assert run(["snapshot", "--out", str(path), *extra], environ)[0] == 0
    return path
