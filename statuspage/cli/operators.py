"""``python -m statuspage incident | maintenance | announce``: operators write to the page from a shell.

Each command validates through ``statuspage.operators`` (the same path as /api/ops and the operator
forms) and writes through HISTORY_DATABASE_URL, else DATABASE_URL. Bad input is one line on stderr
and exit status 2, with nothing written; a database that cannot be reached is exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

HISTORY_DB = "Writes through HISTORY_DATABASE_URL, else DATABASE_URL; the page shows it within PROBE_INTERVAL_S."
IMPACT_HELP = "none, minor, major or critical"
STATUS_HELP = "investigating, identified, monitoring or resolved"
TITLE_HELP = "one line, at most 200 characters"
MESSAGE_HELP = "plain text, at most 5,000 characters"
WHEN_HELP = "ISO 8601 with a zone (2026-05-01T02:00:00Z, …+01:00), or now"


def _one_line(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Usage mistakes as one line and exit status 2, like every refusal of these commands."""

    def error(message: str) -> None:
        parser.exit(2, f"{parser.prog}: {message}\n")

    parser.error = error  # type: ignore[method-assign]
    return parser


def _run(command: str, write: Callable[[Any, Any, Any], None], prepare: Callable[[], Any] = lambda: None) -> int:
    """Validate (``prepare``: bad input is refused before anything is opened), then settings, a
    connection and the write; every refusal as one line."""
    import psycopg

    from .. import db, operators
    from ..config import redact_dsn
    from . import _settings

    try:
        prepared = prepare()
    except operators.OperatorError as exc:
        print(f"statuspage {command}: {exc}", file=sys.stderr)
        return 2
    settings = _settings()
    if settings is None:
        return 1
    try:
        with operators.connect(settings.history_dsn, db.connect_kwargs(settings, read_only=False)) as conn:
            write(conn, operators.cli_author(), prepared)
    except operators.OperatorError as exc:
        print(f"statuspage {command}: {exc}", file=sys.stderr)
        return 2
    except psycopg.errors.UndefinedTable:
        print(f"statuspage {command}: the history schema is not up to date: run python -m statuspage db migrate",
              file=sys.stderr)
        return 1
    except psycopg.Error as exc:
        print(f"statuspage {command}: cannot write to the history database ({redact_dsn(settings.history_dsn)}): "
              f"{type(exc).__name__}", file=sys.stderr)
        return 1
    return 0


def _now() -> Any:
    from ..formatting import utcnow

    return utcnow()


def _incident_open(args: argparse.Namespace) -> int:
    from .. import operators

    def prepare() -> Any:
        return operators.new_incident({"title": args.title, "impact": args.impact, "components": args.component,
                                       "status": args.status, "message": args.message})

    def write(conn: Any, author: Any, new: Any) -> None:
        print(operators.open_incident(conn, new, _now(), author))

    return _run("incident open", write, prepare)


def _incident_update(args: argparse.Namespace) -> int:
    from .. import operators

    def prepare() -> Any:
        return operators.new_update({"status": args.status, "message": args.message})

    def write(conn: Any, author: Any, new: Any) -> None:
        update_id = operators.update_incident(conn, args.id, new, _now(), author)
        print(f"incident {args.id}: {new.status} (update {update_id})")

    return _run("incident update", write, prepare)


def _incident_postmortem(args: argparse.Namespace) -> int:
    from .. import operators

    def prepare() -> Any:
        return operators.postmortem_text({"message": args.message})

    def write(conn: Any, author: Any, message: Any) -> None:
        operators.add_postmortem(conn, args.id, message, _now(), author)
        print(f"incident {args.id}: postmortem attached")

    return _run("incident postmortem", write, prepare)


def _incident_list(args: argparse.Namespace) -> int:
    from psycopg.rows import dict_row

    from .. import board
    from ..db import sql
    from ..formatting import stamp
    from ..vocabulary import component_name

    def write(conn: Any, author: Any, _: Any) -> None:
        now = _now()
        rows = []
        for i in board.read(conn, now).incidents:
            if i.is_open or i.resolved_at > now - board.RECENT:
                rows.append((i.opened_at, i.id, "operator", i.status, i.impact, ",".join(i.components), i.title))
        with conn.cursor(row_factory=dict_row) as cur:
            for a in cur.execute(sql("operators_auto_incidents_list"), {"since": now - board.RECENT}):
                state = "open" if a["resolved_at"] is None else "resolved"
                rows.append((a["opened_at"], a["id"], "automatic", state, board.STATE_IMPACT.get(a["worst_state"], ""),
                             a["component"], f"{component_name(a['component'])} {a['worst_state']}"))
        print("id\tkind\tstatus\timpact\tcomponents\topened\ttitle")
        for opened, *rest in sorted(rows, key=lambda r: (r[0], r[1]), reverse=True):
            print("\t".join(str(v) for v in (*rest[:5], stamp(opened), rest[5])))

    return _run("incident list", write)


def _maintenance_schedule(args: argparse.Namespace) -> int:
    from .. import operators

    now = _now()

    def prepare() -> Any:
        return operators.new_window({"title": args.title, "components": args.component, "message": args.message,
                                     "start": args.start, "end": args.end, "cron": args.cron,
                                     "duration": args.duration, "timezone": args.timezone}, now)

    def write(conn: Any, author: Any, new: Any) -> None:
        print(operators.schedule(conn, new, now, author))

    return _run("maintenance schedule", write, prepare)


def _maintenance_cancel(args: argparse.Namespace) -> int:
    from .. import operators

    def write(conn: Any, author: Any, _: Any) -> None:
        print(f"maintenance {args.id}: {operators.cancel(conn, args.id, _now(), author)}")

    return _run("maintenance cancel", write)


def _maintenance_list(args: argparse.Namespace) -> int:
    from .. import board, maintenance

    def write(conn: Any, author: Any, _: Any) -> None:
        b = board.read(conn, _now())
        print("id\tstate\twhen\tcomponents\ttitle")
        for w in sorted(b.windows, key=lambda w: w.id, reverse=True):
            print("\t".join((str(w.id), b.window_state(w), maintenance.describe(w), ",".join(w.components), w.title)))

    return _run("maintenance list", write)


def _announce(args: argparse.Namespace) -> int:
    from .. import operators

    if args.action == "clear":
        if args.message is not None or args.until is not None:
            print("statuspage announce: clear takes no --message or --until", file=sys.stderr)
            return 2

        def clear(conn: Any, author: Any, _: Any) -> None:
            cleared = operators.clear_announcement(conn, _now(), author)
            print("announcement cleared" if cleared else "there was no announcement")

        return _run("announce clear", clear)

    now = _now()

    def prepare() -> Any:
        return operators.new_announcement({"message": args.message, "until": args.until}, now)

    def write(conn: Any, author: Any, new: Any) -> None:
        message, until = new
        operators.announce(conn, message, until, now, author)
        print("announcement set" + (f" until {until:%Y-%m-%dT%H:%M:%SZ}" if until else ""))

    return _run("announce", write, prepare)


def _positive_id(raw: str) -> int:
    if not raw.isdigit() or int(raw) == 0:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an id (a whole number, as printed when it was created)")
    return int(raw)


def _command(parent: Any, name: str, run: Callable[[argparse.Namespace], int] | None, help: str,
             description: str, *, by_id: bool = False) -> argparse.ArgumentParser:
    """One command under ``parent``'s subcommands: usage mistakes as one line, ``run`` to carry it out
    and, ``by_id``, the id of what it acts on as its one positional argument."""
    parser = _one_line(parent.add_parser(name, help=help, description=description))
    if by_id:
        parser.add_argument("id", type=_positive_id, metavar="ID")
    if run is not None:
        parser.set_defaults(run=run)
    return parser


def add_commands(commands: Any) -> None:
    """The operators' commands, under the top-level parser's subcommands."""
    incident = _command(commands, "incident", None, "open, update and list incidents shown on the page",
                        "Incidents written by operators, beside the automatic ones. " + HISTORY_DB)
    actions = incident.add_subparsers(dest="action", required=True, metavar="ACTION")
    opened = _command(actions, "open", _incident_open, "open an incident; prints its id",
                      "Open an incident with its first update; prints its id.")
    opened.add_argument("--title", required=True, help=TITLE_HELP)
    opened.add_argument("--impact", required=True, help=IMPACT_HELP)
    opened.add_argument("--component", action="append", required=True,
                        help="an affected component (engine, metrics, database, snapshot); repeat for more")
    opened.add_argument("--status", default="investigating", help="investigating (default), identified or monitoring")
    opened.add_argument("--message", required=True, help=MESSAGE_HELP)

    update = _command(actions, "update", _incident_update, "add an update to an incident (operator or automatic)",
                      "Add an update. On an operator incident its status becomes the incident's (resolved closes "
                      "it); an automatic incident keeps its own open and resolve.", by_id=True)
    update.add_argument("--status", required=True, help=STATUS_HELP)
    update.add_argument("--message", required=True, help=MESSAGE_HELP)

    postmortem = _command(actions, "postmortem", _incident_postmortem, "attach a postmortem to a resolved incident",
                          "Attach a postmortem to a resolved incident; a second one replaces the first.", by_id=True)
    postmortem.add_argument("--message", required=True, help=MESSAGE_HELP)

    _command(actions, "list", _incident_list, "open incidents and those resolved in the last 14 days",
             "Open incidents and those resolved in the last 14 days, both kinds, newest first, tab-separated.")

    windows = _command(commands, "maintenance", None, "schedule, cancel and list maintenance windows",
                       "Maintenance windows: while one is in progress its components show maintenance, open no "
                       "automatic incident and send no alert. " + HISTORY_DB)
    actions = windows.add_subparsers(dest="action", required=True, metavar="ACTION")
    plan = _command(actions, "schedule", _maintenance_schedule, "schedule a one-off or recurring window; prints its id",
                    "One-off: --start and --end. Recurring: --cron (five fields, weekdays as names), --duration "
                    "and --timezone. Prints the new window's id.")
    plan.add_argument("--title", required=True, help=TITLE_HELP)
    plan.add_argument("--component", action="append", required=True,
                      help="a component the window covers (engine, metrics, database, snapshot); repeat for more")
    plan.add_argument("--start", help=WHEN_HELP)
    plan.add_argument("--end", help=WHEN_HELP)
    plan.add_argument("--cron", help='e.g. "0 2 * * sun" (minute hour day month weekday)')
    plan.add_argument("--duration", help="e.g. 45m, 1h30m")
    plan.add_argument("--timezone", help="IANA name, e.g. Europe/London")
    plan.add_argument("--message", help="plain text shown with the window, at most 5,000 characters")

    _command(actions, "cancel", _maintenance_cancel, "cancel a window (one in progress ends now)",
             "Cancel a window: one not yet begun never happens; one in progress ends now.", by_id=True)
    _command(actions, "list", _maintenance_list, "windows and their state",
             "Windows not over for more than 14 days, newest first, with their state now, tab-separated.")

    announce = _command(commands, "announce", _announce, "set or clear the banner announcement",
                        "`announce --message … [--until ISO]` sets the one announcement shown on the page (news "
                        "that is not an incident); `announce clear` removes it. " + HISTORY_DB)
    announce.add_argument("action", nargs="?", choices=["clear"], metavar="clear",
                          help="remove the announcement instead of setting one")
    announce.add_argument("--message", help=MESSAGE_HELP)
    announce.add_argument("--until", help="when it stops being shown: " + WHEN_HELP)
