"""How long each piece of background work may take, derived from the settings. Pure: no I/O.

Every database call ends by a client-side deadline (``statuspage/deadline.py``) and every HTTP
request by its timeout, so each background job is a bounded sequence of bounded calls and has a hard
deadline, computed here. Liveness (``status.jobs_alive``) is judged against these deadlines: a job
that runs, however slowly its dependencies answer or fail, stays inside them; only a job that is
stuck beyond them, or is no longer scheduled, is not alive.
"""

from __future__ import annotations

from .config import Settings

# A client-side deadline beyond the server's own statement_timeout: the server cancels a slow
# statement first, with its own error, whenever it can; the client cuts only a server that cannot.
MARGIN_S = 1.0
# Liveness allowance for what no setting bounds: the scheduler waking late on a loaded machine, and
# a job's in-memory work (parsing a scrape, rendering history) around its bounded calls.
LIVENESS_SLACK_S = 10.0
# psycopg refuses a connect timeout under 2 s (it follows libpq's connectDBComplete).
PSYCOPG_MIN_CONNECT_S = 2.0
# Rows one notify run sends at most: a long outbox drains over several runs instead of holding one.
NOTIFY_BATCH = 20


def connect_s(s: Settings) -> float:
    """The longest a direct connection attempt to one address takes (``db.connect_kwargs`` passes
    ``max(1, round(DB_CONNECT_TIMEOUT_S))``)."""
    return max(PSYCOPG_MIN_CONNECT_S, float(max(1, round(s.db_connect_timeout_s))))


def statement_s(s: Settings) -> float:
    """Client-side deadline of one database call (a statement or a short transaction)."""
    return s.db_statement_timeout_ms / 1000 + MARGIN_S


def check_s(s: Settings) -> float:
    """Deadline of the pool's checkout check, an empty query: a connection that cannot answer within
    a probe timeout is broken."""
    return s.probe_timeout_s


def refresh_s(s: Settings) -> float:
    """The snapshot refresh: a wait for a pooled connection, then one read-only transaction."""
    return s.db_connect_timeout_s + statement_s(s)


def read_reserve_s(s: Settings) -> float:
    """What a refresh keeps, after the pieces of a long read (db/chunks.py), for the rest of its
    transaction (the daily range, the windows, today's trades): half a statement's deadline. The
    long read stops there and the next refresh goes on with it."""
    return statement_s(s) / 2


def pickup_delay_s(s: Settings) -> float:
    """How long after the refresh tick a process that does not lead reads the published snapshot:
    the leader reads and publishes at the tick itself."""
    return min(2.0, s.refresh_interval_s / 4)


def pickup_s(s: Settings) -> float:
    """A pickup of the published snapshot: the wait after the tick, or at start-up the wait for the
    leader's first publication (``refresh_s``), then one indexed query, tried again once on a new
    session when the kept one was lost."""
    return max(pickup_delay_s(s), refresh_s(s)) + 2 * (connect_s(s) + statement_s(s))


def refresh_job_s(s: Settings) -> float:
    """One refresh run: the leadership check (a connect at most), then either the leader's engine
    read and its publish (a new leader with nothing to show first takes the last publication: one
    query, without waiting), or the pickup and, when that fails, the process's own engine read."""
    leader = 2 * (connect_s(s) + statement_s(s)) + refresh_s(s) + statement_s(s)
    follower = pickup_s(s) + refresh_s(s)
    return connect_s(s) + max(leader, follower)


def history_s(s: Settings) -> float:
    """The history run: connect, check the session, take the lock, write, read; one call each."""
    return connect_s(s) + 4 * statement_s(s)


def notify_s(s: Settings) -> float:
    """The notify run: connect, re-queue orphans, then per row a claim, a webhook request, a settle."""
    return connect_s(s) + statement_s(s) + NOTIFY_BATCH * (2 * statement_s(s) + s.notify_timeout_s + MARGIN_S)


def job_deadlines(s: Settings) -> dict[str, float]:
    """The longest one run of each background job can take, excluding ``LIVENESS_SLACK_S``."""
    return {"refresh": refresh_job_s(s), "probe_database": s.probe_timeout_s, "probe_engine": s.probe_timeout_s,
            # a local file read; a tracker file that blocks (a FIFO, a hung mount) is a stuck job
            "probe_local": s.probe_timeout_s,
            "history": history_s(s), "notify": notify_s(s)}
