"""gunicorn as in production (``gunicorn -c gunicorn.conf.py <module>:app``), started and stopped
by the benchmark and the soak: its own process group, logs to files, workers measured with psutil."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from http.client import HTTPConnection
from pathlib import Path

import psutil

from statuspage.config import SETTINGS
from statuspage.demo.pgserver import free_port

ROOT = Path(__file__).resolve().parent.parent
# What the caller's environment must not leak into the server: every page setting and gunicorn's own.
_OWN = {s.env for s in SETTINGS} | {"PROMETHEUS_MULTIPROC_DIR", "PORT", "WEB_CONCURRENCY"}
_STATUS = re.compile(rb'"status": "(\d{3})"')  # in gunicorn.conf.py's JSON access log


def status_of(url: str, path: str, timeout: float = 5) -> int | None:
    """The status of one GET on a fresh connection; None when nothing answers."""
    reply = _get(url, path, timeout)
    return reply[0] if reply else None


def _get(url: str, path: str, timeout: float = 5) -> tuple[int, str] | None:
    """Status and ETag of one GET on a fresh connection; None when nothing answers."""
    host, port = url.removeprefix("http://").split(":")
    conn = HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status, response.getheader("ETag") or ""
    except OSError:
        return None
    finally:
        conn.close()


@dataclass
class Gunicorn:
    proc: subprocess.Popen[bytes]
    url: str
    started: float  # time.monotonic() just before the master was started
    out: Path  # the access log
    err: Path  # gunicorn's and the app's log

    def workers(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []

    def workers_cpu_s(self) -> float:
        """User and system CPU time of every worker so far."""
        total = 0.0
        for worker in self.workers():
            try:
                times = worker.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def worker_rss_mb(self) -> list[float]:
        return sorted(p.memory_info().rss / 2**20 for p in self.workers())

    def worker_peak_rss_mb(self) -> list[float]:
        """Each worker's highest RSS so far (Linux's VmHWM), what a memory limit would have met."""
        peaks = []
        for worker in self.workers():
            with contextlib.suppress(OSError):
                status = Path(f"/proc/{worker.pid}/status").read_text()
                peaks.extend(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:"))
        return sorted(peaks)

    def log_offset(self) -> int:
        return self.out.stat().st_size

    def statuses_since(self, offset: int) -> Counter[int]:
        """Responses by status in the access log written after ``offset``."""
        time.sleep(0.6)  # the last requests of a run are logged just after the client stops (the access
        # log is flushed every 0.25 s: gunicorn.conf.py)
        with self.out.open("rb") as log:
            log.seek(offset)
            return Counter(int(m) for m in _STATUS.findall(log.read()))

    def wait_for(self, path: str, status: int = 200, timeout: float = 60, every: float = 0.01) -> float:
        """Seconds from start to the first response with ``status``; raises after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}:\n{self.err.read_text()[-3000:]}")
            if status_of(self.url, path) == status:
                return time.monotonic() - self.started
            time.sleep(every)
        raise RuntimeError(f"no {status} from {path} within {timeout} s:\n{self.err.read_text()[-3000:]}")

    def wait_all_workers(self, path: str, timeout: float = 60) -> None:
        """Until 40 fresh connections in a row get 200: every worker has its first snapshot."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(status_of(self.url, path) == 200 for _ in range(40)):
                return
            time.sleep(0.1)
        raise RuntimeError(f"not every worker answers {path} with 200 after {timeout} s")

    def wait_same_etag(self, path: str, timeout: float) -> bool:
        """Until 40 fresh connections in a row get one ETag: every worker holds the same bytes (from
        the first refresh on the wall clock's grid on); False if they still differ after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len({_get(self.url, path) for _ in range(40)}) == 1:
                return True
            time.sleep(0.5)
        return False

    def stop(self) -> None:
        """SIGTERM, as the platform stops it; the whole group is killed if it does not stop in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # workers left behind by a master that died first
            os.killpg(self.proc.pid, signal.SIGKILL)


def start_gunicorn(app: str, log_dir: Path, name: str, config: str = "gunicorn.conf.py", **env: str) -> Gunicorn:
    """``gunicorn -c <config> <app>`` from the repository root with ``env`` on top of a clean
    environment (production defaults for everything not given)."""
    environ = {k: v for k, v in os.environ.items() if k not in _OWN}
    environ.update(env)
    environ.setdefault("PORT", str(free_port()))
    out, err = log_dir / f"{name}.access.log", log_dir / f"{name}.log"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", config, app], cwd=ROOT,
                                env=environ, stdout=stdout, stderr=stderr, start_new_session=True)
    return Gunicorn(proc, f"http://127.0.0.1:{environ['PORT']}", started, out, err)
