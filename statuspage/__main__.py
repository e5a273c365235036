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
    except migrate.MigrationError as exc:
        print(f"db migrate: failed: {exc}", file=sys.stderr)
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
