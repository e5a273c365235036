"""The example alert rules parse and refer only to series the page really exports."""

from __future__ import annotations

import re

import yaml
from prometheus_client.parser import text_string_to_metric_families

from ..helpers import ROOT
from ..helpers.wait import wait_until

RULES = ROOT / "deploy" / "alerts.rules.yml"


def test_alert_rules_cover_engine_snapshot_and_database_with_exported_series(writer, make_app, serve) -> None:
    rules = {r["alert"]: r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}
    assert {"EngineDegradedOrDown", "StatusSnapshotStale", "StatusDatabaseDown"} <= set(rules)
    assert rules["EngineDegradedOrDown"]["for"] == "2m"
    server = serve(make_app())
    wait_until(lambda: server.get("/performance/landing").status == 200, what="first snapshot")
    exported = {s.name for f in text_string_to_metric_families(server.get("/metrics").text) for s in f.samples}
    for name, rule in rules.items():
        series = set(re.findall(r"\b(statuspage_[a-z_]+)", rule["expr"]))
        assert series and series <= exported, (name, series - exported)
