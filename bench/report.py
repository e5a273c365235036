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
# Targets of issue 8, and the bare floor's of issue 15
REFRESH_MS, FIRST_NUMBERS_S, RSS_MB = 250.0, 2.0, 150.0
FLOOR_SHARE = 0.90  # of the bare floor, with 1 worker and 16 connections
TARGET_CONFIG = (1, 16)
THROUGHPUT_BEGIN = "<!-- bench:throughput:begin (written by bench/run.py, alone with --only throughput) -->"
THROUGHPUT_END = "<!-- bench:throughput:end -->"
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


def _http(r: Rounds, floor: Rounds | None = None, also: Rounds | None = None, of: str = "floor's",
          also_of: str = "", paired: bool = False) -> str:
    share = f" (**{r.share_of(floor):.0%}** of {of}" if floor else ""
    share += f"; median of the rounds' ratios {r.paired_share_of(floor):.0%}" if floor and paired else ""
    share += f", {r.share_of(also):.0%} of {also_of})" if floor and also else ")" if floor else ""
    cpu_share = f" ({r.cpu_share_of(floor):.0%} of {of})" if floor and floor.cpu_us_per_request else ""
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
    """The full run's table: the naive app, the refresh, start-up and memory (the throughput of the
    page itself is throughput_table's)."""
    rows: list[tuple[str, str, str, str]] = []
    for c, naive in sorted(facts["naive"].items()):
        rows.append((f"naive: the queries per request, {c} connection{'s' if c > 1 else ''}", _http(naive), "", ""))
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
    rss = [m for config in facts["throughput"]["configs"]
           for m in facts["throughput"][f"{config[0]}x{config[1]}"]["rss_mb"]]
    rows.append(("resident memory per gunicorn worker after the load (every configuration of the throughput "
                 "section)", ", ".join(f"{m:.0f} MB" for m in rss), "≤ 150 MB", _verdict(max(rss) <= RSS_MB)))
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
        f"{facts['sizes'][-1]:,} trades over {facts['days']:g} days served. The naive app: one wrk run of "
        f"{facts['duration'] * facts['rounds']:g} s per connection count (the page's own throughput is in the "
        "throughput section above).",
        "",
        f"- machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']:.0f} GB, {m['platform']}",
        f"- load average (1, 5, 15 min): {load}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
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


def _config_name(workers: int, connections: int) -> str:
    return f"{workers} worker{'s' if workers > 1 else ''}, {connections} connections"


def throughput_table(facts: dict[str, Any]) -> str:
    """The page's throughput beside its two floors and behind nginx, per server configuration."""
    t = facts["throughput"]
    rows: list[tuple[str, str, str, str]] = []
    for workers, connections in t["configs"]:
        config = t[f"{workers}x{connections}"]
        runs, (landing_size, page_size) = config["runs"], config["body_bytes"]
        where = _config_name(workers, connections)
        target = "≥ 90 % of the bare floor" if (workers, connections) == TARGET_CONFIG else ""
        for name, path, size in (("landing", "`GET /performance/landing`", landing_size),
                                 ("page", "`GET /` (the page)", page_size)):
            bare, floor, mine = runs[f"bare_{name}"], runs[f"floor_{name}"], runs[name]
            rows += [
                (f"bare floor: a hookless Flask app answering these {_size(size)}, no access log, {where}",
                 _http(bare), "", ""),
                (f"in-app floor (the old reference): constant {_size(size)} from a route behind the app's hooks, "
                 f"{where}", _http(floor, bare, of="the bare floor's"), "", ""),
                (f"{path}, production settings, {where}",
                 _http(mine, bare, floor, of="the bare floor's", also_of="the in-app floor's", paired=True), target,
                 _verdict(mine.share_of(bare) >= FLOOR_SHARE) if target else ""),
            ]
            if name == "landing":
                rows.append((f"poll with matching `If-None-Match`, {where}",
                             _http(runs["landing_304"], bare, of="the bare floor's"), "", ""))
            rows += [
                (f"{path} through nginx over TLS, cache off, {where}",
                 _http(runs[f"proxied_{name}"], mine, of="straight to gunicorn"), "", ""),
                (f"{path} through nginx over TLS, caching (deploy/nginx/statuspage.conf as shipped), {where}",
                 _http(runs[f"cached_{name}"], mine, runs[f"proxied_{name}"], of="straight to gunicorn",
                       also_of="nginx without its cache"), "", ""),
            ]
    us = t["worker_us"]
    for name in ("landing", "page"):
        rows.append((f"CPU per request in process, {name} (best of 15 runs of 1,000; no network, poller or load "
                     "generator)",
                     f"whole gthread worker on a socket pair: bare floor {us[f'worker:bare_{name}']:.0f} µs, app "
                     f"{us[f'worker:{name}']:.0f} µs (**{us[f'worker:bare_{name}'] / us[f'worker:{name}']:.0%}**), "
                     f"in-app floor {us[f'worker:floor_{name}']:.0f} µs; the WSGI call alone: bare floor "
                     f"{us[f'wsgi:bare_{name}']:.0f} µs, app {us[f'wsgi:{name}']:.0f} µs, in-app floor "
                     f"{us[f'wsgi:floor_{name}']:.0f} µs", "", ""))
    lines = ["| measurement | result | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def throughput_section(facts: dict[str, Any]) -> str:
    t, m = facts["throughput"], facts["machine"]
    load = "; ".join(f"{', '.join(f'{x:.2f}' for x in sample)} {when}" for when, sample in m["load"].items())
    same = ", ".join(f"{_config_name(w, c)}: {'yes' if t[f'{w}x{c}']['same_etag'] else '**no** (after 70 s)'}"
                     for w, c in t["configs"])
    return "\n".join([
        THROUGHPUT_BEGIN,
        f"Run of {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. {facts['sizes'][-1]:,} trades over {facts['days']:g} days "
        f"served. Each row: {t['rounds']} wrk runs of {t['duration']:g} s, every target of a configuration in "
        "turn, round after round; throughput of the best run, latencies the medians, CPU and bytes over all "
        "runs. \"Server CPU\" is gunicorn's workers' (for the rows through nginx too: what reached gunicorn).",
        "",
        f"- machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']:.0f} GB, {m['platform']}",
        f"- load average (1, 5, 15 min): {load}",
        "- versions: " + ", ".join(f"{k} {val}" for k, val in facts["versions"].items()),
        f"- before the load, every worker served the landing with the same ETag: {same}",
        "",
        throughput_table(facts),
        THROUGHPUT_END,
    ])


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


def write(path: Path, facts: dict[str, Any], full: bool) -> None:
    """Replace the generated parts of ``path`` (the throughput section, and with ``full`` the full
    run's), keeping what is written around them."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    text = _replace(text, THROUGHPUT_BEGIN, THROUGHPUT_END, throughput_section(facts))
    if full:
        text = _replace(text, BEGIN, END, section(table(facts), facts))
    path.write_text(text)


def _replace(text: str, begin: str, end: str, generated: str) -> str:
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        return head + generated + rest.split(end, 1)[1]
    return text.rstrip("\n") + "\n\n" + generated + "\n"
