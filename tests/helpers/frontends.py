"""What stands in front of the app in production, started for real by a test: gunicorn with
gunicorn.conf.py, and nginx from Debian running deploy/nginx/statuspage.conf."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPSConnection
from pathlib import Path

from statuspage.demo.pgserver import free_port

from . import ROOT
from .gunicorn import Gunicorn, start
from .http import Reply
from .wait import wait_until

NGINX_CONF = ROOT / "deploy" / "nginx" / "statuspage.conf"
SERVER_NAME = "status.example.com"  # the name deploy/nginx/statuspage.conf ships with
# Debian installs nginx in /usr/sbin, which is not on an ordinary user's PATH.
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
OPENSSL = shutil.which("openssl")
MISSING_NGINX = "nginx is not installed: apt-get install -y nginx (.ci/run installs it in CI)"


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop a process started in its own session; kill its group if it does not stop."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # children left behind by a parent that died first
        os.killpg(proc.pid, signal.SIGKILL)


def request(url: str, path: str, headers: dict[str, str] | None = None, *, method: str = "GET",
            body: bytes | None = None, context: ssl.SSLContext | None = None, timeout: float = 10) -> Reply:
    """One request on a fresh connection, sending exactly the Host given in ``headers`` if any."""
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    conn = (HTTPSConnection(host, int(port), timeout=timeout, context=context) if url.startswith("https:")
            else HTTPConnection(host, int(port), timeout=timeout))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        conn.close()


@contextlib.contextmanager
def gunicorn(tmp_path: Path, dsn: str, *, loopback_only: bool = False, **env: str) -> Iterator[Gunicorn]:
    """gunicorn as production starts it (``tests/helpers/gunicorn.py``: two workers), with
    ``--bind 127.0.0.1:PORT`` behind nginx as docs/operations.md has it; ready (every worker has published
    its first snapshot) when yielded, stopped with SIGTERM after."""
    port = free_port()
    # GUNICORN_CMD_ARGS is gunicorn's own way to pass its command-line flags: over the config file's bind
    bind = {"GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}"} if loopback_only else {}
    server = start(tmp_path, "gunicorn", DATABASE_URL=dsn, PORT=str(port), **bind, **env)
    try:
        server.wait_ready(timeout=30)
        yield server
    finally:
        server.stop()


@dataclass
class Certificate:
    cert: Path
    key: Path

    def client_context(self) -> ssl.SSLContext:
        """Trusts this certificate only, and checks the name as a browser would."""
        return ssl.create_default_context(cafile=str(self.cert))


def self_signed(tmp_path: Path) -> Certificate:
    """A certificate for SERVER_NAME and 127.0.0.1, made by the openssl command line tool."""
    assert OPENSSL, "openssl is not installed: apt-get install -y openssl (.ci/run installs it in CI)"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "1", "-subj", f"/CN={SERVER_NAME}",
                    "-addext", f"subjectAltName=DNS:{SERVER_NAME},IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return Certificate(cert, key)


def _substitute(text: str, old: str, new: str, count: int) -> str:
    # The shipped file is run as is: each value replaced must be there exactly as often as expected,
    # so a change of its shape fails here rather than testing something else.
    assert text.count(old) == count, f"deploy/nginx/statuspage.conf: expected {old!r} {count} time(s)"
    return text.replace(old, new)


@dataclass
class Nginx:
    proc: subprocess.Popen[bytes]
    http_url: str  # the plain-HTTP server (redirects only)
    https_url: str
    prefix: Path
    context: ssl.SSLContext

    def get(self, path: str, headers: dict[str, str] | None = None, **kwargs: object) -> Reply:
        """Over HTTPS, naming the server as a browser would, unless ``headers`` say otherwise."""
        return request(self.https_url, path, {"Host": SERVER_NAME, **(headers or {})}, context=self.context,
                       **kwargs)  # type: ignore[arg-type]

    def error_log(self) -> str:
        return (self.prefix / "error.log").read_text(errors="replace")


@contextlib.contextmanager
def nginx(tmp_path: Path, upstream_port: int, certificate: Certificate, *, cache: bool = True,
          name: str = "nginx", per_address: int | None = None) -> Iterator[Nginx]:
    """Debian's nginx with deploy/nginx/statuspage.conf inside an http {} block like Debian's
    /etc/nginx/nginx.conf, on random loopback ports, everything under ``tmp_path / name``, in the
    foreground; with ``cache=False``, its one switch turned off (``proxy_cache off;``); with
    ``per_address``, that many requests in progress per client address instead of the file's 32
    (the benchmark: wrk is one address standing for many visitors)."""
    assert NGINX, MISSING_NGINX
    prefix = tmp_path / name
    prefix.mkdir()
    http_port, https_port = free_port(), free_port()
    site = NGINX_CONF.read_text()
    site = _substitute(site, "listen 80;", f"listen 127.0.0.1:{http_port};", 1)
    site = _substitute(site, "listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;", 1)
    site = _substitute(site, "server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};", 1)
    site = _substitute(site, f"/etc/letsencrypt/live/{SERVER_NAME}/fullchain.pem", str(certificate.cert), 1)
    site = _substitute(site, f"/etc/letsencrypt/live/{SERVER_NAME}/privkey.pem", str(certificate.key), 1)
    site = _substitute(site, "/var/lib/nginx/statuspage-cache", str(prefix / "cache"), 1)
    if not cache:
        site = _substitute(site, "proxy_cache statuspage_cache;", "proxy_cache off;", 1)
    if per_address is not None:
        site = _substitute(site, "limit_conn statuspage_addr 32;", f"limit_conn statuspage_addr {per_address};", 1)
    (prefix / "statuspage.conf").write_text(site)
    # Running as root, nginx's workers would switch to "nobody", who cannot reach pytest's 0700
    # temporary directories; as anyone else the directive is ignored.
    user = pwd.getpwuid(os.geteuid()).pw_name
    temp = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                           "uwsgi", "scgi"))
    mime = "include /etc/nginx/mime.types;" if Path("/etc/nginx/mime.types").exists() else ""
    (prefix / "nginx.conf").write_text(f"""
daemon off;
{"user " + user + ";" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 1024; }}
http {{
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    {mime}
    default_type application/octet-stream;
    access_log {prefix / "access.log"};
    gzip on;
{temp}
    include {prefix / "statuspage.conf"};
}}
""")
    command = [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")]
    check = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, f"nginx -t refused the configuration:\n{check.stderr}"
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    server = Nginx(proc, f"http://127.0.0.1:{http_port}", f"https://127.0.0.1:{https_port}", prefix,
                   certificate.client_context())
    try:
        def listening() -> bool:
            assert proc.poll() is None, f"nginx exited:\n{server.error_log()[-3000:]}"
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", https_port), timeout=1):
                return True
            return False

        wait_until(listening, timeout=15, what="nginx listening")
        yield server
    finally:
        _stop(proc, signal.SIGQUIT)  # graceful: workers finish, then exit
