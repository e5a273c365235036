"""``python -m statuspage demo | env ... | db migrate | notify test``"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Settings


def _settings() -> Settings | None:
    """The validated settings, or None after one line per bad variable on stderr."""
    from .config import ConfigError, load_settings

    try:
        return load_settings()
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"statuspage: {problem}", file=sys.stderr)
        return None


def _migrate() -> int:
    import psycopg

    from . import migrate
    from .config import redact_dsn

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
    return 0


def _notify_test() -> int:
    from . import notify
    from .scheduler import utcnow

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


def _snapshot_accept(by: str | None) -> int:
    """Accept the database's current all-time trade count as the new history: the guard's stored
    mark is set to it and every page process publishes at its next refresh."""
    import logging

    import psycopg

    from . import db, guard
    from .config import redact_dsn
    from .scheduler import utcnow
    from .snapshot import SnapshotRejected, refresh_once

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
    by = by or _operator()
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m statuspage")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the page on an embedded PostgreSQL with a simulated engine")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--trade-every", type=float, default=4.0, metavar="SECONDS",
                      help="how often the simulated engine closes a trade (default 4)")
    sub.add_parser("env", help="check, snapshot and diff environment variables", add_help=False)
    db = sub.add_parser("db", help="the page's own schema")
    db.add_argument("action", choices=["migrate"], help="create or upgrade the statuspage schema")
    notify = sub.add_parser("notify", help="webhook notifications")
    notify.add_argument("action", choices=["test"], help="send a marked test message to every receiver")
    snapshot = sub.add_parser("snapshot", help="the landing snapshot's guard")
    snapshot.add_argument("action", choices=["accept"],
                          help="accept the database's all-time trade count after the page held a large drop back")
    snapshot.add_argument("--by", metavar="NAME", help="who accepts, recorded (default: user@host)")
    if argv[:1] == ["env"]:
        from . import envtools

        return envtools.main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "demo":
        from . import demo as demo_module

        demo_module.run(args.port, args.trade_every)
    elif args.command == "db":
        return _migrate()
    elif args.command == "notify":
        return _notify_test()
    elif args.command == "snapshot":
        return _snapshot_accept(args.by)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
