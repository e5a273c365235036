"""gunicorn exactly as in production (``gunicorn -c gunicorn.conf.py wsgi:app``), started by a test.

Started and stopped by the benchmark's own launcher (``bench/servers.py``: a clean environment, its
own process group, logs to files, SIGTERM then the group killed); this adds what the tests read: the
requests they made, the workers and schedulers the log names, the JSON access log.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bench import servers

from .app import FAST
from .http import Reply, get
from .wait import wait_until

LANDING = "/performance/landing"
# Trades a gunicorn test seeds, and the landing numbers they make (by hand: see the sums).
TRADES = [(timedelta(hours=1), "10.50"), (timedelta(hours=2), "-3.25"), (timedelta(days=3), "7.00"),
          (timedelta(days=10), "2.00"), (timedelta(days=45), "-1.00")]
EXPECTED = {"7d": (3, "14.25"), "30d": (4, "16.25"), "all": (5, "15.25")}


@dataclass
class Gunicorn(servers.Gunicorn):
    """One gunicorn master started by a test; every request the test makes is counted."""

    made: Counter[str] = field(default_factory=Counter)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        """One GET on a fresh connection, sending exactly the Host given in ``headers`` if any."""
        reply = get(self.url + path, headers)
        if path != "/metrics":  # the exporter does not count its own endpoint
            self.made[path] += 1
        return reply

    def get_many(self, path: str, n: int) -> list[Reply]:
        """``n`` requests, eight at a time, each on a fresh connection."""
        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(lambda _: self.get(path), range(n)))

    def log(self) -> str:
        return self.err.read_text()

    def worker_pids(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", self.log())]

    def scheduler_pids(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"scheduler started in pid (\d+)", self.log())]

    def access(self) -> list[dict[str, str]]:
        """The access log's entries; a line still being written is left for the next read."""
        return [json.loads(line) for line in self.out.read_text().split("\n")[:-1]]

    def batch(self, send: Callable[[], list[Reply]]) -> tuple[list[Reply], set[int]]:
        """The replies of a batch of requests (``send``), and the workers that answered them. Each
        worker writes its access lines up to ACCESS_FLUSH_S late (gunicorn.conf.py): the log is
        read once it holds every line of the batch, and only after earlier lines have settled."""
        wait_until(self._settled, timeout=5, what="earlier access lines written")
        seen = len(self.access())
        replies = send()
        wait_until(lambda: len(self.access()) >= seen + len(replies), timeout=5, what="the batch's access lines")
        return replies, {_pid(e) for e in self.access()[seen:seen + len(replies)]}

    def _settled(self) -> bool:
        before = len(self.access())
        time.sleep(0.3)  # longer than ACCESS_FLUSH_S
        return len(self.access()) == before

    def pids_that_served(self, path: str) -> set[int]:
        return {_pid(e) for e in self.access() if e["path"] == path and e["status"] == "200"}

    def wait_ready(self, timeout: float = 15) -> None:
        """Until every worker has booted, started its scheduler and published a snapshot."""
        wait_until(lambda: len(self.scheduler_pids()) == 2, timeout=timeout, what="two schedulers started")
        self.wait_served(LANDING, timeout)

    def wait_served(self, path: str, timeout: float = 20) -> None:
        """Until a batch of requests for ``path`` all answer 200 and every worker has answered 200 at
        least once: the kernel decides which worker accepts, so one batch may reach only one of them."""
        def everywhere() -> bool:
            batch = all(r.status == 200 for r in self.get_many(path, 8))
            return batch and self.pids_that_served(path) == set(self.worker_pids())

        wait_until(everywhere, timeout=timeout, what=f"{path} 200 from every worker")

    def wait_exit(self, timeout: float) -> tuple[int, float]:
        rc = self.proc.wait(timeout=timeout)
        return rc, time.monotonic() - self.started


def _pid(entry: dict[str, str]) -> int:
    return int(entry["pid"].strip("<>"))  # the access log writes it as gunicorn's <pid>


def start(log_dir: Path, name: str, **env: str | None) -> Gunicorn:
    """Two workers and the tests' short intervals, ``env`` on top; ``None`` leaves a variable unset
    (the launcher starts from an environment without any of the page's or gunicorn's variables)."""
    environ = {**FAST, "WEB_CONCURRENCY": "2", **env}
    base = servers.start_gunicorn("wsgi:app", log_dir, name,
                                  **{key: value for key, value in environ.items() if value is not None})
    return Gunicorn(base.proc, base.url, base.started, base.out, base.err)
