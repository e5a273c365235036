"""``python -m statuspage``: every command, each with its own help (``--help`` at any level).

Commands load settings through one function (``_settings``) that prints one line per bad variable;
heavy imports happen inside the command that needs them, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Settings

ROOT = Path(__file__).resolve().parents[2]

DESCRIPTION = "The public performance and status page of the trading engine."
EPILOG = """\
production: python -m statuspage serve   (gunicorn -c gunicorn.conf.py wsgi:app, behind a buffering proxy)
settings:   environment variables, listed with their defaults in docs/configuration.md"""


def _settings() -> Settings | None:
    """The validated settings, or None after one line per bad variable on stderr."""
    from ..config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"statuspage: {problem}", file=sys.stderr)
        return None


def _demo(args: argparse.Namespace) -> int:
    from .. import demo

    demo.run(args.port, args.trade_every)
    return 0


def _serve(args: argparse.Namespace) -> int:
    """Replace this process with gunicorn, configured as in production (gunicorn.conf.py)."""
    if _settings() is None:
        return 1
    gunicorn = shutil.which("gunicorn", path=os.pathsep.join([str(Path(sys.executable).parent),
                                                              os.environ.get("PATH", "")]))
    if gunicorn is None:
        print("serve: gunicorn is not installed: pip install -r requirements.txt", file=sys.stderr)
        return 1
    argv = [gunicorn, "-c", str(ROOT / "gunicorn.conf.py"), "--chdir", str(ROOT)]
    if args.bind:
        argv += ["--bind", args.bind]
    os.execv(gunicorn, [*argv, "wsgi:app"])
    return 1  # not reached


def _migrate(args: argparse.Namespace) -> int:
    import psycopg

    from ..config import redact_dsn
    from ..db import migrate

    settings = _settings()
    if settings is None:
        return 1
    try:
        with psycopg.connect(settings.history_dsn, autocommit=True,
                             connect_timeout=max(1, round(settings.db_connect_timeout_s))) as conn:
            applied = migrate.migrate(conn)
            print(f"db migrate: {redact_dsn(settings.history_dsn)}: applied {', '.join(applied) or 'nothing'}; "
                  f"schema at {migrate.applied(conn)[-1]}")
    except psycopg.Error as exc:
        print(f"db migrate: failed: {type(exc).__name__}: {exc}".strip(), file=sys.stderr)
        return 1
    except migrate.MigrationError as exc:
        print(f"db migrate: failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _notify_test(args: argparse.Namespace) -> int:
    from .. import notify
    from ..formatting import utcnow

    settings = _settings()
    if settings is None:
        return 1
    urls = settings.notify_webhook_urls or []
    if not urls:
        print("notify test: NOTIFY_WEBHOOK_URLS is not set: no receiver to test", file=sys.stderr)
        return 1
    results = notify.send_test(urls, settings.public_url, settings.notify_timeout_s, utcnow())
    for receiver, attempt in results:
        print(f"notify test: {receiver}: {attempt.outcome} ({attempt.detail})")
    return 0 if all(attempt.outcome == "delivered" for _, attempt in results) else 1


def _operator() -> str:
    import getpass
    import socket

    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no USER and no passwd entry, as in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _snapshot_accept(args: argparse.Namespace) -> int:
    """Accept the database's current all-time trade count as the new history: the guard's stored
    mark is set to it and every page process publishes at its next refresh."""
    import logging

    import psycopg

    from .. import db, guard
    from ..config import redact_dsn
    from ..formatting import utcnow
    from ..snapshot import SnapshotRejected, refresh_once

    settings = _settings()
    if settings is None:
        return 1
    now = utcnow()
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)  # one line on failure, below, not its retries
    pool = db.make_pool(settings)
    try:  # the count exactly as the page would publish it: the same read, the same checks
        count = refresh_once(pool, now, settings.db_connect_timeout_s).windows["all"].trades
    except SnapshotRejected as exc:
        print(f"snapshot accept: the database's numbers fail the page's checks, nothing accepted: {exc}",
              file=sys.stderr)
        return 1
    except Exception as exc:  # psycopg's errors and the pool's timeout: one line, no traceback
        print(f"snapshot accept: cannot read the engine database ({redact_dsn(settings.database_url)}): "
              f"{type(exc).__name__}", file=sys.stderr)
        return 1
    finally:
        pool.close()
    by = args.by or _operator()
    try:
        with psycopg.connect(settings.history_dsn, **db.connect_kwargs(settings, read_only=False)) as conn:
            before = guard.accept(conn, count, now, by)
    except psycopg.errors.UndefinedTable:
        print("snapshot accept: the page's schema is missing: run python -m statuspage db migrate", file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"snapshot accept: cannot write to the history database ({redact_dsn(settings.history_dsn)}): "
              f"{type(exc).__name__}", file=sys.stderr)
        return 1
    print(f"snapshot accept: {redact_dsn(settings.history_dsn)}: all-time trades "
          f"{'none stored' if before is None else before} -> {count}, accepted by {by} at "
          f"{now.strftime('%Y-%m-%dT%H:%M:%SZ')}; the page publishes at its next refresh")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m statuspage", description=DESCRIPTION, epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the page on an embedded PostgreSQL with a simulated engine",
                               description="The whole page on this machine: an embedded PostgreSQL with 90 days "
                                           "of seeded trades, a simulated engine, a local webhook receiver.")
    demo.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 to serve the page on (default 8000)")
    demo.add_argument("--trade-every", type=float, default=4.0, metavar="SECONDS",
                      help="how often the simulated engine closes a trade (default 4)")
    demo.set_defaults(run=_demo)

    serve = commands.add_parser("serve", help="run the page in production: gunicorn with gunicorn.conf.py",
                                description="Checks the settings, then becomes "
                                            "`gunicorn -c gunicorn.conf.py wsgi:app`. Put a buffering proxy "
                                            "in front (deploy/); see docs/operations.md, Deployment.")
    serve.add_argument("--bind", metavar="HOST:PORT",
                       help="address to listen on (default: gunicorn.conf.py's, 0.0.0.0:$PORT or :8000)")
    serve.set_defaults(run=_serve)

    # Parsed by cli.env itself; listed here so that the top-level help names it.
    commands.add_parser("env", help="check, snapshot and diff environment variables (never prints a value)",
                        add_help=False)

    db = commands.add_parser("db", help="the page's own schema in the history database",
                             description="The page's own schema (statuspage), in HISTORY_DATABASE_URL or "
                                         "else DATABASE_URL. The engine's tables are never touched.")
    db_actions = db.add_subparsers(dest="action", required=True, metavar="ACTION")
    migrate = db_actions.add_parser("migrate", help="create or upgrade the statuspage schema (idempotent)",
                                    description="Apply the versioned files in statuspage/migrations in order, "
                                                "each recorded in statuspage.schema_migrations; running it again "
                                                "changes nothing.")
    migrate.set_defaults(run=_migrate)

    snapshot = commands.add_parser("snapshot", help="the landing snapshot's guard",
                                   description="The page holds back a sudden large drop of the all-time trade "
                                               "count (docs/numbers.md: \"What is never published\").")
    snapshot_actions = snapshot.add_subparsers(dest="action", required=True, metavar="ACTION")
    accept = snapshot_actions.add_parser("accept", help="accept the database's all-time trade count after a drop "
                                                        "was held back",
                                         description="Read the engine database exactly as the page does; record its "
                                                     "all-time trade count as the guard's new mark (who, when, from, "
                                                     "to), so every page process publishes it at its next refresh.")
    accept.add_argument("--by", metavar="NAME", help="who accepts, recorded (default: user@host)")
    accept.set_defaults(run=_snapshot_accept)

    notify = commands.add_parser("notify", help="webhook notifications",
                                 description="Webhook notifications to NOTIFY_WEBHOOK_URLS.")
    notify_actions = notify.add_subparsers(dest="action", required=True, metavar="ACTION")
    test = notify_actions.add_parser("test", help="send a marked test message to every receiver",
                                     description="POST one test message, marked as such, to every URL in "
                                                 "NOTIFY_WEBHOOK_URLS, outside the outbox; exit 1 if any fails.")
    test.set_defaults(run=_notify_test)

    from . import operators  # incident, maintenance, announce

    operators.add_commands(commands)
    return top


def main(argv: list[str]) -> int:
    if argv[:1] == ["env"]:
        from . import env

        return env.main(argv[1:])
    args = parser().parse_args(argv)
    return args.run(args)
