"""Every setting, read from the environment in one place and validated before anything starts.

The incident began with a lost ``DATABASE_URL`` and a silent fallback to localhost, so the DSN
has no default, must name a host, and a bad value of any setting stops start-up with one line
naming the variable.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import psycopg.conninfo


class ConfigError(Exception):
    """One or more settings are missing or invalid; each line of the message names one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


# --- parsers: each takes the raw string and returns the value or raises ValueError(reason);
# the reason never contains the value, so callers decide whether it may be shown ---


def positive_number(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("must be a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError("must be greater than 0")
    return value


def positive_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("must be a whole number") from None
    if value <= 0:
        raise ValueError("must be greater than 0")
    return value


def percentage(raw: str) -> float:
    value = positive_number(raw)
    if value > 100:
        raise ValueError("must be a percentage, greater than 0 and at most 100")
    return value


def port_number(raw: str) -> int:
    value = positive_int(raw)
    if value > 65535:
        raise ValueError("must be a TCP port (1-65535)")
    return value


def http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return raw


def log_level(raw: str) -> str:
    value = raw.upper()
    if value not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
    return value


def url_list(raw: str) -> list[str]:
    """Comma-separated http(s) URLs; the reason names the position, never the URL (it holds a token)."""
    urls = [part.strip() for part in raw.split(",") if part.strip()]
    for position, url in enumerate(urls, start=1):
        try:
            http_url(url)
        except ValueError as exc:
            raise ValueError(f"entry {position} {exc}") from None
    return urls


def text(raw: str) -> str:
    return raw


def non_negative_int(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ValueError("must be a whole number") from None
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


OPS_TOKEN_MIN_LENGTH = 16


def ops_token(raw: str) -> str:
    """A bearer token an operator can send in a header: long, printable ASCII, no spaces."""
    # Never echo the raw value: it is the credential of the operator view.
    if len(raw) < OPS_TOKEN_MIN_LENGTH:
        raise ValueError(f"must be at least {OPS_TOKEN_MIN_LENGTH} characters; generate one with "
                         "python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    if not all("!" <= ch <= "~" for ch in raw):
        raise ValueError("must be printable ASCII without spaces, so it can be sent as a Bearer token")
    return raw


def database_url(raw: str) -> str:
    """A PostgreSQL URL that names its host: no socket or localhost guesswork."""
    # Never echo the raw value: it carries the password.
    if not raw.startswith(("postgres://", "postgresql://")):
        raise ValueError("must be a postgresql:// URL, e.g. postgresql://user:password@host:5432/dbname")
    try:
        params = psycopg.conninfo.conninfo_to_dict(raw)
    except psycopg.ProgrammingError:
        raise ValueError("is not a valid PostgreSQL connection URL") from None
    if not params.get("host"):
        raise ValueError("must name the database host, e.g. postgresql://user:password@host:5432/dbname")
    return raw


def redact_dsn(dsn: str) -> str:
    """``host=… port=… dbname=… user=…`` for logs; the password never appears."""
    params = psycopg.conninfo.conninfo_to_dict(dsn)
    shown = [f"{key}={params[key]}" for key in ("host", "port", "dbname", "user") if params.get(key)]
    return " ".join(shown) + (" password=<redacted>" if params.get("password") else "")


@dataclass(frozen=True)
class Setting:
    env: str
    parse: Callable[[str], Any]
    default: str | None  # None: must be set
    help: str
    required: bool = False  # True: no default, start-up refuses without it
    secret: bool = False

    @property
    def field(self) -> str:
        return self.env.lower()


_DSN_HELP = "set DATABASE_URL to the engine database, e.g. postgresql://user:password@host:5432/dbname"

SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", database_url, None, "PostgreSQL URL of the engine's database (read-only use).",
            required=True, secret=True),
    Setting("HISTORY_DATABASE_URL", database_url, None,
            "PostgreSQL URL for the page's own history schema; unset: DATABASE_URL.", secret=True),
    Setting("REFRESH_INTERVAL_S", positive_number, "60", "Seconds between landing-snapshot refreshes."),
    Setting("STALE_AFTER_S", positive_number, "180", "Age in seconds after which the served snapshot is stale."),
    Setting("VERIFY_INTERVAL_S", positive_number, "3600",
            "Longest time between scans of the kept history whatever the table's statistics say."),
    Setting("DB_CONNECT_TIMEOUT_S", positive_number, "5", "Connect timeout for database connections."),
    Setting("DB_STATEMENT_TIMEOUT_MS", positive_int, "5000", "Server-side statement timeout for every query."),
    Setting("DB_POOL_MAX_SIZE", positive_int, "4", "Most database connections one process holds."),
    Setting("ENGINE_METRICS_URL", http_url, None, "Engine Prometheus URL; unset: engine and metrics are unknown.",
            secret=True),  # may carry basic-auth credentials
    Setting("PROBE_INTERVAL_S", positive_number, "15", "Seconds between component probes."),
    Setting("PROBE_TIMEOUT_S", positive_number, "3", "Hard timeout of each probe."),
    Setting("PROBE_CONFIRM", positive_int, "2", "Agreeing probe results in a row before a component changes state."),
    Setting("ENGINE_STALE_AFTER_S", positive_number, "120", "Engine tick older than this: degraded."),
    Setting("DB_SLOW_MS", positive_number, "250", "Database round trip slower than this is degraded."),
    Setting("TRACKER_JSON_PATH", text, None, "Engine tracker file, compared with the database (drift only)."),
    Setting("POLL_INTERVAL_S", positive_number, "15", "Seconds between the page's HTMX polls."),
    Setting("LOG_LEVEL", log_level, "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Setting("NOTIFY_WEBHOOK_URLS", url_list, None, "Comma-separated webhook URLs told of incidents.", secret=True),
    Setting("NOTIFY_MIN_INCIDENT_S", positive_number, "60", "Incidents shorter than this notify nobody (flaps)."),
    Setting("NOTIFY_RETRY_FOR_S", positive_number, "3600", "How long a failing delivery is retried."),
    Setting("NOTIFY_TIMEOUT_S", positive_number, "5", "Timeout of one webhook request."),
    Setting("PUBLIC_URL", http_url, None, "The page's public address, linked from notifications."),
    Setting("TRUSTED_PROXY_HOPS", non_negative_int, "0",
            "Proxies in front of the page whose X-Forwarded-* headers are trusted; 0 trusts none."),
    Setting("OPS_TOKEN", ops_token, None, "Bearer token of the operator view (/ops); unset: the view is off.",
            secret=True),
    Setting("GUARD_DROP_PERCENT", percentage, "1",
            "A fall of the all-time trade count by more than this share (and GUARD_DROP_TRADES) is held back."),
    Setting("GUARD_DROP_TRADES", non_negative_int, "5",
            "A fall of the all-time trade count by more than this many trades (and GUARD_DROP_PERCENT) is held back."),
)


@dataclass(frozen=True)
class Settings:
    database_url: str = field(repr=False)  # carries the password
    history_database_url: str | None = field(repr=False)
    refresh_interval_s: float
    stale_after_s: float
    verify_interval_s: float
    db_connect_timeout_s: float
    db_statement_timeout_ms: int
    db_pool_max_size: int
    engine_metrics_url: str | None
    probe_interval_s: float
    probe_timeout_s: float
    probe_confirm: int
    engine_stale_after_s: float
    db_slow_ms: float
    tracker_json_path: str | None
    poll_interval_s: float
    log_level: str
    notify_webhook_urls: list[str] | None = field(repr=False)  # each carries its token
    notify_min_incident_s: float
    notify_retry_for_s: float
    notify_timeout_s: float
    public_url: str | None
    trusted_proxy_hops: int
    ops_token: str | None = field(repr=False)  # the operator view's credential
    guard_drop_percent: float
    guard_drop_trades: int

    @property
    def history_dsn(self) -> str:
        """Where history is written: its own URL when given (a role that may write only the
        statuspage schema), else the engine database's."""
        return self.history_database_url or self.database_url


def _cross_checks(values: dict[str, Any]) -> list[str]:
    problems = []
    if values["stale_after_s"] <= values["refresh_interval_s"]:
        problems.append(
            "STALE_AFTER_S must be greater than REFRESH_INTERVAL_S, "
            "or every snapshot would be stale before the next refresh"
        )
    if values["probe_timeout_s"] >= values["probe_interval_s"]:
        problems.append("PROBE_TIMEOUT_S must be less than PROBE_INTERVAL_S, so a hung probe ends before the next")
    return problems


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate every setting; raise ConfigError listing each bad one."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        raw = environ.get(setting.env, "").strip()
        if not raw:
            if setting.default is None:
                if setting.required:
                    problems.append(f"{setting.env} is not set: {_DSN_HELP}" if setting.env == "DATABASE_URL"
                                    else f"{setting.env} is not set: {setting.help}")
                else:
                    values[setting.field] = None
                continue
            raw = setting.default
        try:
            values[setting.field] = setting.parse(raw)
        except ValueError as exc:
            shown = "" if setting.secret else f", got {raw!r}"
            problems.append(f"{setting.env} {exc}{shown}")
    if not problems:
        problems = _cross_checks(values)
    if problems:
        raise ConfigError(problems)
    return Settings(**values)
