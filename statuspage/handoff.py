"""The last good snapshot, handed between the processes of one instance through small files.

Under gunicorn every worker reads the database for itself. A worker that cannot get a connection
(its slots taken, a restarted worker while the database refuses new sessions) would otherwise
answer "no snapshot yet" beside siblings that show numbers. So each process writes the snapshot it
read and validated to ``<dir>/snapshot-<pid>.json`` (write, then rename: a reader never sees half a
file), and a process whose read failed with none of its own adopts the newest file that still
passes ``snapshot.violations``, its track record included (written by statuspage/codec.py). An
adopted snapshot keeps its true ``as_of``: it is served stale once old, exactly as the process's own
would be.

The directory belongs to one gunicorn master (``gunicorn.conf.py`` creates it, empty, at start and
names it in ``STATUSPAGE_SNAPSHOT_DIR``), so a new deploy never starts from an old release's
numbers: its first snapshot is still its own read. Without the variable nothing is shared.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from . import codec
from .snapshot import Snapshot, violations

log = logging.getLogger(__name__)

DIR_ENV = "STATUSPAGE_SNAPSHOT_DIR"
VERSION = 3  # 2: rows set aside (snapshot.excluded); 3: codec.dump, the track record included


def directory() -> Path | None:
    value = os.environ.get(DIR_ENV, "").strip()
    return Path(value) if value else None


def encode(snap: Snapshot) -> dict[str, Any]:
    """Everything the snapshot holds, losslessly (statuspage/codec.py), its track record slimmed."""
    return {"version": VERSION, "snapshot": codec.dump(snap.slim())}


def decode(data: dict[str, Any]) -> Snapshot:
    """The snapshot ``encode`` wrote; raises ValueError on anything else."""
    if not isinstance(data, dict) or data.get("version") != VERSION:
        raise ValueError(f"version {data.get('version') if isinstance(data, dict) else data!r}, expected {VERSION}")
    return codec.load(Snapshot, data.get("snapshot"))


def save(where: Path, snap: Snapshot) -> None:
    """Write this process's snapshot for its siblings; never raises (sharing is a courtesy)."""
    pid = os.getpid()
    target, temporary = where / f"snapshot-{pid}.json", where / f".snapshot-{pid}.tmp"
    try:
        temporary.write_text(json.dumps(encode(snap), separators=(",", ":"), allow_nan=False))
        os.replace(temporary, target)
        _prune(where, snap, pid)
    except OSError as exc:
        log.warning("snapshot handoff: cannot write %s: %s", target, exc)


def _prune(where: Path, mine: Snapshot, pid: int) -> None:
    """Remove the files of processes that are gone and read no later than this one: a worker
    replaced many times leaves one file, not one per generation."""
    for path in where.glob("snapshot-*.json"):
        other = _pid_of(path)
        if other in (None, pid) or _alive(other):
            continue
        found = _read(path)
        if found is None or found.as_of <= mine.as_of:
            path.unlink(missing_ok=True)


def newest(where: Path) -> Snapshot | None:
    """The newest snapshot in ``where`` that still passes every invariant; None if there is none."""
    found = [snap for path in where.glob("snapshot-*.json") if (snap := _read(path)) is not None]
    return max(found, key=lambda snap: snap.as_of, default=None)


def _read(path: Path) -> Snapshot | None:
    try:
        snap = decode(json.loads(path.read_text()))
    except FileNotFoundError:
        return None  # its writer replaced or pruned it just now
    except (OSError, ValueError) as exc:
        log.warning("snapshot handoff: ignoring unreadable %s: %s: %s", path.name, type(exc).__name__, exc)
        return None
    problems = violations(snap)
    if problems:
        log.warning("snapshot handoff: ignoring %s, it breaks invariants: %s", path.name, "; ".join(problems))
        return None
    return snap


def _pid_of(path: Path) -> int | None:
    try:
        return int(path.stem.removeprefix("snapshot-"))
    except ValueError:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, belongs to someone else
    return True
