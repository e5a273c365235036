"""The two roles of README's "History" section, created with its SQL exactly as written (run by psql,
as an operator pastes it), then `python -m statuspage db migrate` and the page itself running with
them: numbers served, history written, and each role unable to do what it was not given."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import errors

from statuspage import create_app
from statuspage.demo.pgserver import EmbeddedPostgres, bin_dir

from ..helpers import ROOT
from ..helpers.app import settings_for
from ..helpers.trades import add_trade
from ..helpers.wait import wait_until

HEALTH_DOC = (ROOT / "docs" / "health.md").read_text()
ROLES = ("statuspage_reader", "statuspage_history")
# Trades relative to now, far from every window edge, and the landing numbers they make (by hand).
TRADES = [(timedelta(hours=1), "10.50"), (timedelta(days=3), "-3.25"), (timedelta(days=40), "7.00")]
EXPECTED = {"7d": (2, "7.25"), "30d": (2, "7.25"), "all": (3, "14.25")}


def readme_sql() -> str:
    """The SQL block of the "History" section (docs/health.md)."""
    section = HEALTH_DOC.split("\n## History\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```sql\n(.*?)```", section, re.S)
    return block


def url(server: EmbeddedPostgres, user: str, password: str | None = None, dbname: str = "engine") -> str:
    auth = f"{user}:{password}" if password else user
    return f"postgresql://{auth}@127.0.0.1:{server.port}/{dbname}"


def psql(dsn: str, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir() / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-f", "-"],
                          input=script, capture_output=True, text=True, timeout=60)


def migrate_cli(**env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "HISTORY_DATABASE_URL")}
    return subprocess.run([sys.executable, "-m", "statuspage", "db", "migrate"], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=60)


def engine_database(server: EmbeddedPostgres) -> str:
    """An engine database as a hosted PostgreSQL gives one: owned by its own role, which may create
    roles but is no superuser, holding the engine's table with trades. Returns the owner's URL."""
    with psycopg.connect(server.dsn, autocommit=True) as su:
        su.execute("CREATE ROLE engine LOGIN CREATEROLE")
        su.execute("CREATE DATABASE engine OWNER engine")
    owner = url(server, "engine")
    now = datetime.now(UTC)
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute((ROOT / "statuspage" / "sql" / "engine_schema.sql").read_text())
        for trade_id, (age, pnl) in enumerate(TRADES, start=1):
            add_trade(conn, trade_id, now - age, pnl)
    return owner


def require_passwords(server: EmbeddedPostgres) -> None:
    """The test cluster trusts every local connection; the two roles must give their passwords."""
    hba = server.pgdata / "pg_hba.conf"
    hba.write_text(f"host engine {','.join(ROLES)} 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
    with psycopg.connect(server.dsn, autocommit=True) as su:
        su.execute("SELECT pg_reload_conf()")


def refused(dsn: str, statement: str) -> bool:
    """``statement`` fails for want of a privilege, in a plain session of the role (no read-only default)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(statement)
        except errors.InsufficientPrivilege:
            return True
    return False


@pytest.mark.parametrize("admin", ["owner", "superuser"])
def test_the_readme_roles_work_end_to_end(private_pg, serve, admin) -> None:
    owner = engine_database(private_pg)
    passwords = {role: secrets.token_urlsafe(16) for role in ROLES}
    script, filled = re.subn(r"CREATE ROLE (\w+) LOGIN PASSWORD '…'",
                             lambda m: f"CREATE ROLE {m.group(1)} LOGIN PASSWORD '{passwords[m.group(1)]}'",
                             readme_sql())
    assert filled == 2 and "…" not in script
    created = psql(owner if admin == "owner" else url(private_pg, "postgres"), script)
    assert created.returncode == 0, created.stderr
    require_passwords(private_pg)
    reader, history = (url(private_pg, role, passwords[role]) for role in ROLES)
    with pytest.raises(psycopg.OperationalError):  # the passwords are really checked
        psycopg.connect(url(private_pg, "statuspage_reader", "wrong")).close()

    first = migrate_cli(DATABASE_URL=reader, HISTORY_DATABASE_URL=history)
    assert first.returncode == 0, first.stderr
    assert "user=statuspage_history" in first.stdout and "applied 0001_history, 0002_notifications" in first.stdout
    again = migrate_cli(DATABASE_URL=reader, HISTORY_DATABASE_URL=history)
    assert again.returncode == 0 and "applied nothing" in again.stdout, again.stderr
    for output in (first.stdout + first.stderr, again.stdout + again.stderr):
        assert not any(p in output for p in passwords.values())

    app = create_app(settings_for(reader, HISTORY_DATABASE_URL=history))
    try:
        server = serve(app)

        def landing() -> dict[str, tuple[int, str]] | None:
            reply = server.get("/performance/landing")
            return ({k: (w["trades"], w["pnl"]) for k, w in reply.json()["windows"].items()}
                    if reply.status == 200 else None)

        assert wait_until(landing, what="landing numbers read as statuspage_reader") == EXPECTED
        wait_until(lambda: server.get("/history.json").status == 200, what="history read as statuspage_history")
        assert re.search(r"^statuspage_history_leader 1\.0$", server.get("/metrics").text, re.M)
    finally:
        app.extensions["statuspage"].close()
    with psycopg.connect(url(private_pg, "postgres")) as su:
        samples = su.execute("SELECT count(*), count(DISTINCT component) FROM statuspage.samples").fetchone()
        owners = set(su.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'statuspage'").fetchall())
    assert samples == (samples[0], 4) and samples[0] >= 4  # every component sampled: history was written
    assert owners == {("statuspage_history",)}

    # The reader reads the engine's table and nothing else; it writes nowhere.
    assert not refused(reader, "SELECT count(*) FROM public.closed_trades")
    for statement in ("INSERT INTO public.closed_trades SELECT * FROM public.closed_trades LIMIT 1",
                      "UPDATE public.closed_trades SET pnl = 0", "DELETE FROM public.closed_trades",
                      "CREATE TABLE public.reader_made (i int)", "CREATE SCHEMA reader_made",
                      "SELECT count(*) FROM statuspage.samples", "DELETE FROM statuspage.samples"):
        assert refused(reader, statement), statement
    # The history role has its schema, and no way into the engine's table or anywhere else.
    for statement in ("SELECT count(*) FROM public.closed_trades", "DELETE FROM public.closed_trades",
                      "CREATE TABLE public.history_made (i int)", "CREATE SCHEMA history_made"):
        assert refused(history, statement), statement


def test_db_migrate_says_in_one_line_what_a_role_without_its_schema_lacks(private_pg) -> None:
    owner = engine_database(private_pg)
    assert psql(owner, "CREATE ROLE lonely LOGIN; GRANT CONNECT ON DATABASE engine TO lonely;").returncode == 0
    lonely = url(private_pg, "lonely")

    result = migrate_cli(DATABASE_URL=lonely)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ("db migrate: failed: schema statuspage does not exist and role lonely may not create "
                             "it: CREATE SCHEMA statuspage AUTHORIZATION lonely (see docs/health.md, History)\n")

    assert psql(owner, "CREATE SCHEMA statuspage;").returncode == 0  # there, but someone else's
    result = migrate_cli(DATABASE_URL=lonely)
    assert result.returncode == 1
    assert result.stderr == ("db migrate: failed: schema statuspage exists but role lonely may not create tables "
                             "in it: ALTER SCHEMA statuspage OWNER TO lonely (see docs/health.md, History)\n")
