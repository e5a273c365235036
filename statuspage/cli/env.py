"""Environment-variable safety: ``python -m statuspage env check | snapshot | diff``.

The incident began when an env-var operation removed DATABASE_URL and the restore came from a
partial snapshot. ``check`` stops a deploy whose environment lacks or breaks a variable,
``snapshot`` records every variable before a change (hashes; values only on request, in a file
only its owner can read), and ``diff`` says afterwards what was removed, added or changed.
Values carry secrets, so no command ever prints one: messages name variables only.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import yaml

from .. import config

BLUEPRINT = Path(__file__).resolve().parents[2] / "render.yaml"
SERVICE_NAME = "statuspage"  # the web service in render.yaml whose envVars are checked
RENDER_API_URL = "https://api.render.com/v1"
RENDER_PAGE_LIMIT = 100  # the API's largest page
HTTP_TIMEOUT_S = 10.0


class EnvToolError(Exception):
    """Stops the command with exit 2; the message is one line and never holds a value."""


# --- what must be there ---


def declared_variables(blueprint: Path) -> dict[str, dict[str, Any]]:
    """The ``envVars`` entries of the web service in render.yaml, by name."""
    try:
        document = yaml.safe_load(blueprint.read_text())
    except OSError as exc:
        raise EnvToolError(f"cannot read blueprint {blueprint}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise EnvToolError(f"blueprint {blueprint} is not valid YAML") from None
    services = document.get("services") if isinstance(document, dict) else None
    for service in services or []:
        if isinstance(service, dict) and service.get("type") == "web" and service.get("name") == SERVICE_NAME:
            # fromGroup entries carry no key: their names live in the group, not in this file.
            return {entry["key"]: entry for entry in service.get("envVars") or [] if "key" in entry}
    raise EnvToolError(f"blueprint {blueprint} declares no web service named {SERVICE_NAME!r}")


def protected_names(declared: Mapping[str, object]) -> set[str]:
    """Names whose absence is an incident: required by the configuration or declared in render.yaml."""
    return {setting.env for setting in config.SETTINGS if setting.required} | set(declared)


def check_environment(environ: Mapping[str, str], declared: Mapping[str, object]) -> tuple[int, list[str]]:
    """(number of variables checked, one problem line per missing or invalid name). Without a
    blueprint (``declared`` empty) only what the configuration requires must be set, as the
    settings table (docs/configuration.md) says; with one, every variable it declares must be set as well."""
    settings = {setting.env: setting for setting in config.SETTINGS}
    must_be_set = protected_names(declared)
    # Optional settings are checked too when set: a bad value fails start-up all the same.
    names = must_be_set | {name for name in settings if environ.get(name, "").strip()}
    problems = []
    for name in sorted(names):
        raw = environ.get(name, "").strip()
        if not raw:
            problems.append(f"{name}: missing")
        elif name in settings:
            try:
                settings[name].parse(raw)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")  # reasons never hold the value
    if not problems:
        # Every value parses alone; load_settings adds the rules across settings.
        try:
            config.load_settings(environ)
        except config.ConfigError as exc:
            problems.extend(exc.problems)
    return len(names), problems


# --- where the variables come from ---


def _get_json(url: str, api_key: str, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"})
    where = url.split("?", 1)[0]  # the cursor is noise in a message
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        exc.close()
        hint = ": check RENDER_API_KEY" if exc.code in (401, 403) else ""
        raise EnvToolError(f"render API: HTTP {exc.code} {exc.reason} from {where}{hint}") from None
    except urllib.error.URLError as exc:
        raise EnvToolError(f"render API: cannot reach {where}: {exc.reason}") from None
    except (OSError, http.client.HTTPException) as exc:  # timeouts, resets, truncated bodies
        raise EnvToolError(f"render API: {where} failed: {exc.__class__.__name__}") from None
    except ValueError:
        raise EnvToolError(f"render API: {where} did not answer with JSON") from None


def fetch_render_env(service_id: str, environ: Mapping[str, str], timeout: float = HTTP_TIMEOUT_S) -> dict[str, str]:
    """Every env var set on a Render service (not those of linked environment groups)."""
    api_key = environ.get("RENDER_API_KEY", "").strip()
    if not api_key:
        raise EnvToolError("RENDER_API_KEY is not set: create one under Account Settings > API Keys in Render")
    base = (environ.get("RENDER_API_URL", "").strip() or RENDER_API_URL).rstrip("/")
    url = f"{base}/services/{urllib.parse.quote(service_id, safe='')}/env-vars"
    variables: dict[str, str] = {}
    cursor: str | None = None
    seen: set[str] = set()
    # Until an empty page, not a short one: the server may cap the page below our limit, and a
    # list that stops early is exactly the partial snapshot the incident was restored from.
    while True:
        query = {"limit": str(RENDER_PAGE_LIMIT)} | ({"cursor": cursor} if cursor else {})
        page = _get_json(f"{url}?{urllib.parse.urlencode(query)}", api_key, timeout)
        if not isinstance(page, list):
            raise EnvToolError("render API: env-vars answer is not a list")
        if not page:
            return variables
        try:
            for item in page:
                variables[str(item["envVar"]["key"])] = str(item["envVar"]["value"])
            cursor = str(page[-1]["cursor"])
        except (KeyError, TypeError):
            raise EnvToolError("render API: env-vars item without envVar.key, envVar.value or cursor") from None
        if cursor in seen:
            raise EnvToolError("render API: pagination repeated a cursor; refusing a partial list")
        seen.add(cursor)


def current_variables(service_id: str | None, environ: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """(source label, variables): the Render service's when given, else this process's."""
    if service_id:
        return f"render:{service_id}", fetch_render_env(service_id, environ)
    return "local", dict(environ)


# --- snapshots and their differences (pure) ---


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def build_snapshot(variables: Mapping[str, str], source: str, now: datetime, *, include_values: bool) -> dict[str, Any]:
    entries: dict[str, dict[str, str]] = {}
    for name in sorted(variables):
        entries[name] = {"sha256": sha256(variables[name])}
        if include_values:
            entries[name]["value"] = variables[name]
    return {"taken_at": now.isoformat(timespec="seconds"), "source": source, "variables": entries}


@dataclass(frozen=True)
class Diff:
    removed: list[str]
    added: list[str]
    changed: list[str]


def diff_hashes(before: Mapping[str, str], after: Mapping[str, str]) -> Diff:
    """Names removed, added and changed (sha256 differs) between two name -> sha256 maps."""
    return Diff(
        removed=sorted(before.keys() - after.keys()),
        added=sorted(after.keys() - before.keys()),
        changed=sorted(name for name in before.keys() & after.keys() if before[name] != after[name]),
    )


def write_private(path: Path, text: str) -> None:
    """Create ``path`` readable by its owner only, from the first byte; never overwrite."""
    # O_EXCL: an earlier snapshot may be the only good copy left; replacing it with one taken
    # after a bad change is how a restore ends up partial.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise EnvToolError(f"{path} already exists; snapshots are never overwritten, choose a new name") from None
    except OSError as exc:
        raise EnvToolError(f"cannot create {path}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # the umask may have taken owner bits away; it can never add any
        with os.fdopen(fd, "w") as file:
            file.write(text)
    except BaseException:
        path.unlink(missing_ok=True)  # a half-written snapshot must not pass for a whole one
        raise


def read_snapshot(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text())
    except OSError as exc:
        raise EnvToolError(f"cannot read snapshot {path}: {exc.strerror}") from None
    except ValueError:
        raise EnvToolError(f"snapshot {path} is not JSON") from None
    variables = document.get("variables") if isinstance(document, dict) else None
    if not isinstance(variables, dict) or not all(
        isinstance(entry, dict) and isinstance(entry.get("sha256"), str) for entry in variables.values()
    ):
        raise EnvToolError(f"snapshot {path} has no variables with sha256 hashes")
    return document


# --- commands ---


def _check(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    declared = declared_variables(args.blueprint) if args.blueprint else {}
    count, problems = check_environment(environ, declared)
    if problems:
        for line in problems:
            print(line, file=err)
        print(f"env check: {len(problems)} problem(s) in {count} variables", file=err)
        return 1
    print(f"env check: {count} variables OK", file=out)
    return 0


def _snapshot(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    # Everything is fetched before the file is created, so a failed fetch leaves no file behind.
    source, variables = current_variables(args.render_service, environ)
    snapshot = build_snapshot(variables, source, datetime.now(UTC), include_values=args.include_values)
    write_private(args.out, json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
    kind = "hashes and values" if args.include_values else "hashes only"
    print(f"env snapshot: {len(variables)} variables from {source} written to {args.out} ({kind})", file=out)
    return 0


def _diff(args: argparse.Namespace, environ: Mapping[str, str], out: TextIO, err: TextIO) -> int:
    snapshot = read_snapshot(args.file)
    declared = declared_variables(args.blueprint)
    source, variables = current_variables(args.render_service, environ)
    if snapshot.get("source") != source:
        print(f"env diff: note: the snapshot is from {snapshot.get('source')}, compared with {source}", file=err)
    before = {name: entry["sha256"] for name, entry in snapshot["variables"].items()}
    diff = diff_hashes(before, {name: sha256(value) for name, value in variables.items()})
    for label, names in (("removed", diff.removed), ("added", diff.added), ("changed", diff.changed)):
        print(f"{label}: {', '.join(names) if names else '-'}", file=out)
    lost = sorted(protected_names(declared) & set(diff.removed))
    if lost:
        print(f"env diff: required variable(s) removed: {', '.join(lost)}", file=err)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m statuspage env",
        description="Check, snapshot and diff environment variables; never prints a value.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    blueprint = argparse.ArgumentParser(add_help=False)
    blueprint.add_argument("--blueprint", type=Path, default=BLUEPRINT,
                           help="render.yaml to read (default: %(default)s)")
    render = argparse.ArgumentParser(add_help=False)
    render.add_argument("--render-service", metavar="SERVICE_ID",
                        help="read the env vars of this Render service through its API (needs RENDER_API_KEY)")

    check = commands.add_parser("check", help="every required setting is set and every set one is valid",
                                description="Exit 1, naming each variable, if a required setting is missing or "
                                            "any setting is invalid. With --blueprint, every variable that "
                                            "file's web service declares must be set too (render.yaml's "
                                            "pre-deploy step uses it).")
    check.add_argument("--blueprint", type=Path, metavar="FILE",
                       help="also require every variable this render.yaml declares")
    check.set_defaults(run=_check)
    snapshot = commands.add_parser("snapshot", parents=[render],
                                   help="record every variable's sha256 in a new 0600 file")
    snapshot.add_argument("--out", type=Path, required=True, metavar="FILE",
                          help="new file to write (created 0600, never overwritten)")
    snapshot.add_argument("--include-values", action="store_true", help="also record the values (secrets!)")
    snapshot.set_defaults(run=_snapshot)
    diff = commands.add_parser("diff", parents=[blueprint, render],
                               help="names removed, added or changed since a snapshot; "
                                    "exit 1 if a required one is gone")
    diff.add_argument("file", type=Path, metavar="FILE", help="a snapshot written by env snapshot")
    diff.set_defaults(run=_diff)
    return parser


def main(argv: list[str], environ: Mapping[str, str] | None = None,
         out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one ``env`` subcommand; ``argv`` excludes the leading "env". Returns the exit status."""
    environ = os.environ if environ is None else environ
    # Resolved per call rather than bound at import, so a redirected sys.stdout is honoured.
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.run(args, environ, out, err)
    except EnvToolError as exc:
        print(f"env {args.command}: {exc}", file=err)
        return 2
