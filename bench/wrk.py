"""wrk, the HTTP load generator: found (or installed from Debian's packages) and run with a script
that reports exact counts and latency percentiles as JSON."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).with_name("report.lua")
MARKER = "BENCH-RESULT "
INSTALL_HINT = ("the benchmark needs wrk, the HTTP load generator: on Debian or Ubuntu run "
                "`sudo apt-get install -y wrk` (as root the benchmark installs it itself); "
                "on macOS `brew install wrk`; or build it from https://github.com/wg/wrk")


def ensure_wrk() -> str:
    """The path of wrk; installed with apt-get when missing and we are root, else a clear exit."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's package (apt-get install -y wrk)", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, env=env, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
        if found:
            return found
    raise SystemExit(INSTALL_HINT)


def version(wrk: str) -> str:
    out = subprocess.run([wrk, "--version"], capture_output=True, text=True).stdout  # exits 1, prints usage
    first = out.splitlines()[0] if out else "wrk (unknown version)"
    return first.split(" [")[0].removeprefix("wrk ")  # "debian/4.1.0-3+b2"


@dataclass(frozen=True)
class WrkResult:
    connections: int
    requests: int
    bytes: int  # everything read: status lines, headers and bodies
    duration_s: float
    errors: int  # connect/read/write errors, timeouts and responses with status >= 400
    timeouts: int
    p50_ms: float
    p99_ms: float
    statuses: Counter[int] = field(default_factory=Counter)  # from the server's access log, when read
    server_cpu_s: float = 0.0  # CPU time the server's workers spent during the run, when measured
    database_ms: float = 0.0  # execution time of the statements the database ran meanwhile, when measured

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s

    @property
    def bytes_per_response(self) -> float:
        return self.bytes / self.requests if self.requests else 0.0

    @property
    def transfer_per_s(self) -> float:
        return self.bytes / self.duration_s


def run(wrk: str, url: str, connections: int, duration_s: int, headers: dict[str, str] | None = None,
        timeout_s: float = 10) -> WrkResult:
    """``connections`` keep-alive connections for ``duration_s`` against one URL."""
    threads = max(1, min(connections, os.cpu_count() or 1))
    args = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration_s}s", "--timeout", f"{timeout_s:g}s",
            "-s", str(SCRIPT)]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True,
                         timeout=duration_s + timeout_s + 30).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith(MARKER)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result for {url}:\n{out}")
    r = json.loads(line[len(MARKER):])
    return WrkResult(
        connections=connections, requests=r["requests"], bytes=r["bytes"], duration_s=r["duration_us"] / 1e6,
        errors=r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"], timeouts=r["timeout"],
        p50_ms=r["p50_us"] / 1000, p99_ms=r["p99_us"] / 1000,
    )


@dataclass(frozen=True)
class Rounds:
    """Several runs of one target at one connection count. Throughput is the best run's: on a shared
    machine other work only ever slows a run down, so the fastest of several is the one it touched
    least (timeit's reasoning); latencies are the medians."""

    runs: list[WrkResult]

    def _median(self, value: str) -> float:
        return statistics.median(getattr(r, value) for r in self.runs)

    @property
    def rps(self) -> float:
        return max(r.rps for r in self.runs)

    @property
    def p50_ms(self) -> float:
        return self._median("p50_ms")

    @property
    def p99_ms(self) -> float:
        return self._median("p99_ms")

    @property
    def transfer_per_s(self) -> float:
        return max(r.transfer_per_s for r in self.runs)

    @property
    def bytes_per_response(self) -> float:
        return sum(r.bytes for r in self.runs) / max(1, sum(r.requests for r in self.runs))

    @property
    def cpu_us_per_request(self) -> float:
        """The workers' CPU time per response: the server's own cost, which other load on the
        machine moves less than throughput (it slows the run more than the work)."""
        return sum(r.server_cpu_s for r in self.runs) / max(1, sum(r.requests for r in self.runs)) * 1e6

    @property
    def database_ms_per_request(self) -> float:
        return sum(r.database_ms for r in self.runs) / max(1, sum(r.requests for r in self.runs))

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)

    @property
    def timeouts(self) -> int:
        return sum(r.timeouts for r in self.runs)

    @property
    def statuses(self) -> Counter[int]:
        return sum((r.statuses for r in self.runs), Counter())

    def cpu_share_of(self, other: Rounds) -> float:
        return self.cpu_us_per_request / other.cpu_us_per_request if other.cpu_us_per_request else 0.0

    def share_of(self, other: Rounds) -> float:
        """This throughput over ``other``'s, best run against best run."""
        return self.rps / other.rps

    def paired_share_of(self, other: Rounds) -> float:
        """The median over rounds of this run's throughput over ``other``'s in the same round: runs
        of one round meet the same spell of other load on the machine, so a lucky or unlucky best
        run of either moves this less than share_of."""
        return statistics.median(mine.rps / theirs.rps for mine, theirs in zip(self.runs, other.runs, strict=True))
