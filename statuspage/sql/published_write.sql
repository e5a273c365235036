-- Publish a snapshot for the whole deployment, in one statement (so a leader killed or cut off in
-- the middle leaves either the whole row or nothing), and only while this session holds the
-- leader's advisory lock (db/leader.py): a process that lost leadership without knowing it yet
-- (its session cut and replaced) writes nothing. A bigint advisory key is stored in pg_locks as
-- classid (high 32 bits), objid (low 32 bits) and objsubid 1. The last %(keep)s rows are kept.
WITH holder AS (
    SELECT 1 FROM pg_locks
    WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 1
      AND classid = (%(key)s::bigint >> 32)::oid AND objid = (%(key)s::bigint & 4294967295)::oid
),
written AS (
    INSERT INTO statuspage.published_snapshot (read_at, as_of, body, written_by)
    SELECT %(read_at)s, %(as_of)s, %(body)s, %(by)s FROM holder
    RETURNING version
),
pruned AS (
    DELETE FROM statuspage.published_snapshot
    WHERE version <= (SELECT version FROM written) - %(keep)s
)
SELECT version FROM written;
