-- The snapshot the history leader read from the engine's database, validated and reviewed by the
-- guard, for every other process of the deployment to serve (statuspage/published.py): one read
-- of the engine per deployment. Written only through the leader's session while it holds the
-- advisory lock (sql/published_write.sql checks it in the same statement); the last few are kept.
CREATE TABLE statuspage.published_snapshot (
    version    bigserial PRIMARY KEY,     -- readers ask for anything above the version they serve
    read_at    timestamptz NOT NULL,      -- when the leader read the engine: how alive the leader is
    as_of      timestamptz,               -- the served snapshot's read time; null: held before any
    body       text NOT NULL,             -- published.encode: codec.dump of the publication
    written_by text NOT NULL,             -- host:pid of the leader
    written_at timestamptz NOT NULL DEFAULT now()
);
