"""The benchmark's one table, and bench/RESULTS.md around it."""

from __future__ import annotations

import json
import statistics
from dataclasses import fields
from datetime import UTC, datetime
from http.client import HTTPConnection
from pathlib import Path
from typing import Any

from bench.wrk import Rounds

BEGIN, END = "<!-- bench:begin (written by bench/run.py) -->", "<!-- bench:end -->"
# Targets of issue 8
FLOOR_SHARE, REFRESH_MS, FIRST_NUMBERS_S, RSS_MB = 0.95, 250.0, 2.0, 150.0
KINDS = {"steady": "every refresh", "midnight": "first after midnight", "cold": "first after start-up"}


def fetch(url: str) -> tuple[bytes, str]:
    """Body and ETag (quoted, as sent) of one GET."""
    host, rest = url.removeprefix("http://").split("/", 1)
    name, port = host.split(":")
    conn = HTTPConnection(name, int(port), timeout=10)
    try:
        conn.request("GET", "/" + rest)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {url}: {response.status}")
        return body, response.getheader("ETag") or ""
    finally:
        conn.close()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def _size(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:,.1f} MB"
    return f"{n / 1000:.1f} kB" if n >= 1000 else f"{n:.0f} B"


def _http(r: Rounds, floor: Rounds | None = None) -> str:
    share = f" (**{r.share_of(floor):.0%}** of floor's)" if floor else ""
    cpu_share = f" ({r.cpu_share_of(floor):.0%} of floor's)" if floor else ""
    statuses = r.statuses
    answered = sum(statuses.values())
    extra = ""
    if statuses.get(304):
        extra += f" · 304 for {statuses[304] / answered:.0%}"
    failed = sum(n for status, n in statuses.items() if status >= 500)
    if r.errors or failed:
        extra += f" · **{r.errors} errors** ({r.timeouts} timeouts, {failed} answered 5xx)"
    return (f"{r.rps:,.{1 if r.rps < 100 else 0}f} req/s{share} · p50 {r.p50_ms:.1f} ms · p99 {r.p99_ms:.1f} ms · "
            f"{_size(r.bytes_per_response)}/response, {_size(r.transfer_per_s)}/s · "
            f"server CPU {_cpu(r.cpu_us_per_request)}/response{cpu_share} · "
            f"database {r.database_ms_per_request:,.2f} ms/response"
            f"{extra}")


def _cpu(us: float) -> str:
    return f"{us / 1000:,.0f} ms" if us >= 10_000 else f"{us:,.0f} µs"


def _verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(float(r[key]) for r in runs)


def refresh_cost_ms(runs: list[dict[str, Any]]) -> float:
    """Median over runs of database execution time plus the refreshing process's CPU time."""
    return statistics.median(float(r["db_ms"]) + float(r["cpu_ms"]) for r in runs)


def table(facts: dict[str, Any]) -> str:
    rows: list[tuple[str, str, str, str]] = []
    http, naive = facts["http"], facts["naive"]
    landing_size, page_size = facts["body_bytes"]
    for c in sorted(http["landing"]):
        conns = f"{c} connection{'s' if c > 1 else ''}"
        floor_l, floor_p = http["floor_landing"][c], http["floor_page"][c]
        landing, page, poll = http["landing"][c], http["page"][c], http["landing_304"][c]
        rows += [
            (f"floor: constant {_size(landing_size)}, {conns}", _http(floor_l), "", ""),
            (f"`GET /performance/landing`, {conns}", _http(landing, floor_l), "≥ 95 % of floor",
             _verdict(landing.share_of(floor_l) >= FLOOR_SHARE)),
            (f"poll with matching `If-None-Match`, {conns}", _http(poll, floor_l), "", ""),
            (f"naive: the queries per request, {conns}", _http(naive[c]), "", ""),
            (f"floor: constant {_size(page_size)}, {conns}", _http(floor_p), "", ""),
            (f"`GET /` (the page), {conns}", _http(page, floor_p), "≥ 95 % of floor",
             _verdict(page.share_of(floor_p) >= FLOOR_SHARE)),
        ]
    us = facts["wsgi_us"]
    rows.append(("the app's own CPU per request, in process (best of 15 runs of 1,000 WSGI calls, no server)",
                 f"landing {us['landing']:.0f} µs, floor at its size {us['floor_landing']:.0f} µs "
                 f"(+{us['landing'] - us['floor_landing']:.0f}); page {us['page']:.0f} µs, floor at its size "
                 f"{us['floor_page']:.0f} µs (+{us['page'] - us['floor_page']:.0f})", "", ""))
    sizes = facts["sizes"]
    for n in sizes:
        runs = facts["refresh"][n]
        steady, midnight = refresh_cost_ms(runs["steady"]), refresh_cost_ms(runs["midnight"])
        track = _median(runs["steady"], "track_db_ms")
        detail = (f"{steady:.0f} ms (database {_median(runs['steady'], 'db_ms'):.0f}, of which the track record "
                  f"{track:.0f}, + CPU {_median(runs['steady'], 'cpu_ms'):.1f}); the first after midnight "
                  f"{midnight:.0f} ms; the first after start-up {refresh_cost_ms(runs['cold']):.0f} ms")
        last = n == sizes[-1]
        rows.append((f"one refresh, {n:,} trades", detail, "≤ 250 ms" if last else "",
                     _verdict(max(steady, midnight) <= REFRESH_MS) if last else ""))
    starts = facts["first_numbers_s"]
    first = statistics.median(starts)
    rows.append((f"first numbers after start-up, {sizes[-1]:,} trades", f"{first:.2f} s from starting gunicorn "
                 f"to the first 200 on `/performance/landing` (median of {', '.join(f'{t:.2f}' for t in starts)})",
                 "≤ 2 s", _verdict(first <= FIRST_NUMBERS_S)))
    rss = facts["rss_mb"]
    rows.append(("resident memory per gunicorn worker after the load", ", ".join(f"{m:.0f} MB" for m in rss),
                 "≤ 150 MB", _verdict(max(rss) <= RSS_MB)))
    lines = ["| measurement | result | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def _refresh_detail(facts: dict[str, Any]) -> str:
    lines = ["| trades | refresh | wall | database | CPU | full passes | per statement (database ms) |",
             "|---|---|---|---|---|---|---|"]
    for n in facts["sizes"]:
        for kind in ("steady", "midnight", "cold"):
            runs = facts["refresh"][n][kind]
            names = sorted({q for r in runs for q in r["queries"]})
            per = ", ".join(f"{q} {statistics.median(r['queries'].get(q, 0.0) for r in runs):.1f}" for q in names
                            if statistics.median(r["queries"].get(q, 0.0) for r in runs) >= 0.05)
            lines.append(f"| {n:,} | {KINDS[kind]} (median of {len(runs)}) | {_median(runs, 'wall_ms'):.1f} ms | "
                         f"{_median(runs, 'db_ms'):.1f} ms | {_median(runs, 'cpu_ms'):.1f} ms | "
                         f"{_median(runs, 'full_passes'):g} | {per} |")
    return "\n".join(lines)


def section(table_md: str, facts: dict[str, Any]) -> str:
    m, v = facts["machine"], facts["versions"]
    load = "; ".join(f"{', '.join(f'{x:.2f}' for x in sample)} {when}" for when, sample in m["load"].items())
    parts = [
        BEGIN,
        f"Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {facts['runtime_s'] / 60:.1f} min. "
        f"{facts['sizes'][-1]:,} trades over {facts['days']:g} days served. Each HTTP row: {facts['rounds']} wrk "
        f"runs of {facts['duration']:g} s interleaved with its floor's; throughput of the best run, latencies the "
        f"medians, CPU and bytes over all runs (the naive app: one run of {facts['duration'] * facts['rounds']:g} s).",
        "",
        f"- machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']:.0f} GB, {m['platform']}",
        f"- load average (1, 5, 15 min): {load}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
        "- before the load, every worker served the landing with the same ETag: "
        + ("yes" if facts["same_etag"] else "**no** (after 70 s)"),
        "",
        table_md,
        "",
        f"Naive implementation, resident memory per worker: {', '.join(f'{x:.0f} MB' for x in facts['naive_rss_mb'])}.",
        "",
        "### One refresh, statement by statement",
        "",
        _refresh_detail(facts),
        "",
        "### Query plans at the largest size, and the index they rely on",
        "",
        "```sql",
        facts["plans"].pop("indexes"),
        "```",
    ]
    for name, plan in facts["plans"].items():
        parts += ["", f"<details><summary><code>{name}</code></summary>", "", "```", plan, "```", "", "</details>"]
    parts.append(END)
    return "\n".join(parts)


def dump(path: Path, facts: dict[str, Any]) -> None:
    """The raw facts as JSON: wrk results as dictionaries, round by round."""

    def plain(value: Any) -> Any:
        if isinstance(value, Rounds):
            # not dataclasses.asdict: it rebuilds a Counter from (key, count) pairs, counting the pairs
            return [{f.name: plain(getattr(run, f.name)) for f in fields(run)} for run in value.runs]
        if isinstance(value, dict):
            return {str(k): plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    path.write_text(json.dumps(plain(facts), indent=1, default=str))


def write(path: Path, table_md: str, facts: dict[str, Any]) -> None:
    """Replace the generated part of ``path``, keeping what is written around it."""
    generated = section(table_md, facts)
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n{BEGIN}\n{END}\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + generated + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + generated + "\n"
    path.write_text(text)
