-- The snapshot guard's memory (statuspage/guard.py): the highest all-time trade count published
-- since the last acceptance, so a restarted page still knows what the history held. One row.
-- Every publishing process raises it with a monotonic upsert (sql/guard_raise.sql); only
-- `python -m statuspage snapshot accept` lowers it, and records why in snapshot_accepts.
CREATE TABLE statuspage.snapshot_guard (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    high_water    bigint NOT NULL CHECK (high_water >= 0),
    high_water_at timestamptz NOT NULL,  -- when the snapshot that set it was read, or the acceptance
    accepted_at   timestamptz            -- the last acceptance; null before the first
);

-- Every acceptance of a history that shrank: who, when, from what count to what count.
CREATE TABLE statuspage.snapshot_accepts (
    id          bigserial PRIMARY KEY,
    accepted_at timestamptz NOT NULL,
    accepted_by text NOT NULL,
    from_count  bigint,           -- the stored mark before; null when none was stored
    to_count    bigint NOT NULL   -- the all-time count accepted
);
