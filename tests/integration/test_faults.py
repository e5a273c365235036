"""Real faults against the running app: a PostgreSQL that stops and starts, an engine that lies,
hangs or breaks. Waits are bounded; intervals are short."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from statuspage.demo import seed

from ..helpers.freeze import prepare
from ..helpers.wait import wait_until

PROBE = 1.0
TIMEOUT = 0.5


def component(server, name: str) -> dict:
    return next(c for c in server.get("/status.json").json()["components"] if c["name"] == name)


def test_database_outage_degrades_and_recovers_without_restart(private_pg, make_app, serve, engine) -> None:
    prepare(private_pg)
    app = make_app(private_pg.dsn, ENGINE_METRICS_URL=engine.url, STALE_AFTER_S="4", DB_CONNECT_TIMEOUT_S="1")
    server = serve(app)
    wait_until(lambda: server.get("/readyz").status == 200, what="ready")
    before = server.get("/performance/landing").json()
    assert before["windows"]["all"]["trades"] == 3 and before["stale"] is False

    private_pg.stop()
    # two probes must agree before the badge changes: within two probe intervals plus their timeouts
    wait_until(lambda: component(server, "database")["state"] == "down", timeout=2 * PROBE + 2 * 1 + 3,
               what="database badge down")
    assert server.get("/readyz").status == 503
    health = server.get("/healthz")
    assert health.status == 200 and health.json()["status"] == "degraded"
    during = server.get("/performance/landing")
    assert during.status == 200 and during.json()["windows"] == before["windows"]
    stale = wait_until(lambda: (r := server.get("/performance/landing").json())["stale"] and r, timeout=15,
                       what="landing turns stale")
    assert stale["windows"] == before["windows"] and stale["as_of"] == before["as_of"]
    # the badge is re-evaluated by the next probe run, at most one interval later
    wait_until(lambda: component(server, "snapshot")["state"] == "degraded", timeout=2 * PROBE + 3,
               what="snapshot badge degraded")
    assert "statuspage_db_connected 0.0" in server.get("/metrics").text

    private_pg.start()
    wait_until(lambda: server.get("/readyz").status == 200, timeout=30, what="ready again after restart")
    after = server.get("/performance/landing").json()
    assert after["stale"] is False and after["as_of"] > before["as_of"]
    wait_until(lambda: component(server, "database")["state"] == "operational", timeout=10, what="database up")
    assert server.get("/healthz").json()["status"] == "ok"


def test_app_started_during_an_outage_goes_live_once_the_database_appears(private_pg, make_app, serve) -> None:
    prepare(private_pg)
    private_pg.stop()
    server = serve(make_app(private_pg.dsn, DB_CONNECT_TIMEOUT_S="1"))
    wait_until(lambda: component(server, "database")["state"] == "down", timeout=10, what="database down")
    health = server.get("/healthz")
    assert health.status == 503 and health.json()["status"] == "starting"
    assert server.get("/performance/landing").status == 503
    assert "error" in server.get("/performance/landing").json()
    assert server.get("/livez").status == 200  # the process itself is fine: do not restart it

    private_pg.start()
    wait_until(lambda: server.get("/healthz").status == 200, timeout=30, what="healthz 200 after the database appears")
    assert server.get("/performance/landing").json()["windows"]["all"]["trades"] == 3


def test_engine_without_its_database_is_degraded_while_metrics_stay_operational(writer, make_app, serve,
                                                                              engine) -> None:
    server = serve(make_app(ENGINE_METRICS_URL=engine.url))
    wait_until(lambda: component(server, "engine")["state"] == "operational", what="engine operational")
    engine.db_connected = False
    wait_until(lambda: component(server, "engine")["state"] == "degraded", timeout=10, what="engine degraded")
    assert component(server, "engine")["detail"].startswith("engine reports no database connection")
    assert component(server, "metrics")["state"] == "operational"
    assert server.get("/status.json").json()["status"] == "degraded"
    assert server.get("/healthz").json()["status"] == "degraded"
    metrics = server.get("/metrics").text
    assert 'statuspage_component_state{component="engine",state="degraded"} 1.0' in metrics
    assert 'statuspage_component_state{component="engine",state="operational"} 0.0' in metrics


def test_a_stalled_main_loop_degrades_the_engine(writer, make_app, serve, engine) -> None:
    server = serve(make_app(ENGINE_METRICS_URL=engine.url, ENGINE_STALE_AFTER_S="2"))
    wait_until(lambda: component(server, "engine")["state"] == "operational", what="engine operational")
    engine.ticking = False
    wait_until(lambda: component(server, "engine")["state"] == "degraded", timeout=10, what="engine degraded")
    assert "main loop stalled" in component(server, "engine")["detail"]


def test_a_hung_metrics_endpoint_times_out_and_nothing_else_waits(writer, make_app, serve, engine) -> None:
    app = make_app(ENGINE_METRICS_URL=engine.url)
    server = serve(app)
    wait_until(lambda: component(server, "metrics")["state"] == "operational", what="metrics operational")
    engine.mode = "hang"
    wait_until(lambda: component(server, "metrics")["state"] == "down", timeout=10, what="metrics down")
    assert component(server, "engine")["state"] == "down"
    rt = app.extensions["statuspage"]
    assert "timed out" in rt.state.components["metrics"].operator_detail

    def refreshes() -> float:
        return next(s.value for m in rt.state.metrics.registry.collect() for s in m.samples
                    if s.name == "statuspage_refreshes_total" and s.labels == {"outcome": "ok"})

    count = refreshes()
    wait_until(lambda: refreshes() >= count + 2, timeout=10, what="refreshes continue during the hang")
    assert component(server, "database")["state"] == "operational"
    assert server.get("/livez").status == 200


@pytest.mark.parametrize(("mode", "reason"), [("error", "HTTP 500"), ("garbage", "unparseable metrics")])
def test_a_broken_metrics_endpoint_is_down_with_an_operator_reason(writer, make_app, serve, engine,
                                                                   mode: str, reason: str) -> None:
    app = make_app(ENGINE_METRICS_URL=engine.url)
    server = serve(app)
    wait_until(lambda: component(server, "metrics")["state"] == "operational", what="metrics operational")
    engine.mode = mode
    wait_until(lambda: component(server, "metrics")["state"] == "down", timeout=10, what="metrics down")
    detail = app.extensions["statuspage"].state.components["metrics"].operator_detail
    assert reason in detail
    public = server.get("/status.json").text
    assert reason not in public and "127.0.0.1" not in public  # operator detail stays private


def test_tracker_file_never_changes_a_public_number(writer, make_app, serve, tmp_path) -> None:
    """Bug 3: a stale tracker file (107 trades) beside the database (432 trades)."""
    now = datetime.now(UTC)
    seed.insert(writer, seed.history(432, 60, now))
    tracker = tmp_path / "tracker.json"
    tracker.write_text(json.dumps({"trades": [{"id": i, "pnl": -2.59} for i in range(107)]}))
    app = make_app(TRACKER_JSON_PATH=str(tracker))
    server = serve(app)
    wait_until(lambda: "statuspage_tracker_drift_trades -325.0" in server.get("/metrics").text, timeout=10,
               what="drift reported")
    landing = server.get("/performance/landing").json()
    assert landing["windows"]["all"]["trades"] == 432
    assert 'statuspage_landing_trades{window="all"} 432.0' in server.get("/metrics").text
    rt = app.extensions["statuspage"]
    assert rt.state.tracker_drift == "tracker file has 107 trades, database 432 (-325)"
    tracker.write_text("{not json")
    wait_until(lambda: "unreadable" in rt.state.tracker_drift, timeout=10, what="malformed file reported")
    tracker.unlink()
    wait_until(lambda: "FileNotFoundError" in rt.state.tracker_drift, timeout=10, what="missing file reported")
    assert server.get("/performance/landing").json()["windows"]["all"]["trades"] == 432
    assert server.get("/livez").status == 200
