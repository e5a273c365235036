-- The notification outbox: a row per (incident event, receiver), written before anything is sent.
-- The receiver is stored as a hash of its URL (the URL carries its token; the leader has it from
-- its environment). dedupe_key makes enqueueing idempotent; the lease (claimed_by, lease_until)
-- keeps two processes from sending the same row, and lets the next leader take over a row whose
-- sender died before it could say how the send went.
CREATE TABLE statuspage.notifications (
    id              bigserial PRIMARY KEY,
    dedupe_key      text NOT NULL UNIQUE,
    incident_id     bigint NOT NULL REFERENCES statuspage.incidents (id),
    event           text NOT NULL CHECK (event IN ('incident.opened', 'incident.resolved')),
    receiver        text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    give_up_at      timestamptz NOT NULL,
    claimed_by      text,
    lease_until     timestamptz,
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz
);
CREATE INDEX notifications_due_idx ON statuspage.notifications (next_attempt_at) WHERE status = 'pending';
