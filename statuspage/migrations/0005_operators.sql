-- The operators' word on the page: incidents they write, the timeline of updates (on their incidents
-- and on automatic ones), postmortems, maintenance windows, the announcement, and who wrote what.
-- Written through statuspage.operators only (the CLI, /api/ops and the operator forms).

-- Operator incidents take their ids from the automatic incidents' sequence: one number names one
-- incident, whichever kind it is ("incident update 42").
CREATE TABLE statuspage.operator_incidents (
    id          bigint PRIMARY KEY DEFAULT nextval('statuspage.incidents_id_seq'),
    title       text NOT NULL,
    impact      text NOT NULL CHECK (impact IN ('none', 'minor', 'major', 'critical')),
    components  text[] NOT NULL CHECK (cardinality(components) > 0),
    status      text NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    opened_at   timestamptz NOT NULL,
    resolved_at timestamptz,
    written_by  text NOT NULL,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL))
);
CREATE INDEX operator_incidents_opened_idx ON statuspage.operator_incidents (opened_at DESC);

-- Every update, in order: an operator incident's first one is its opening message. incident_id is
-- in statuspage.incidents or statuspage.operator_incidents (the write path checks which). event is
-- what webhook receivers are told (statuspage.board.enqueue).
CREATE TABLE statuspage.incident_updates (
    id          bigserial PRIMARY KEY,
    incident_id bigint NOT NULL,
    event       text NOT NULL CHECK (event IN ('incident.opened', 'incident.updated', 'incident.resolved')),
    status      text NOT NULL CHECK (status IN ('investigating', 'identified', 'monitoring', 'resolved')),
    message     text NOT NULL,
    at          timestamptz NOT NULL,
    written_by  text NOT NULL
);
CREATE INDEX incident_updates_incident_idx ON statuspage.incident_updates (incident_id, at, id);
CREATE INDEX incident_updates_at_idx ON statuspage.incident_updates (at);

-- Attached after resolution, to either kind of incident; written again, it is replaced.
CREATE TABLE statuspage.postmortems (
    incident_id bigint PRIMARY KEY,
    message     text NOT NULL,
    at          timestamptz NOT NULL,
    written_by  text NOT NULL
);

-- One-off (starts_at, ends_at) or recurring (cron, duration_s, timezone); occurrences are computed
-- by statuspage.maintenance. A cancelled window ends at cancelled_at.
CREATE TABLE statuspage.maintenances (
    id           bigserial PRIMARY KEY,
    title        text NOT NULL,
    message      text NOT NULL DEFAULT '',
    components   text[] NOT NULL CHECK (cardinality(components) > 0),
    starts_at    timestamptz,
    ends_at      timestamptz,
    cron         text,
    duration_s   integer,
    timezone     text,
    created_at   timestamptz NOT NULL,
    cancelled_at timestamptz,
    written_by   text NOT NULL,
    CHECK ((cron IS NULL AND starts_at IS NOT NULL AND ends_at > starts_at AND duration_s IS NULL AND timezone IS NULL)
        OR (cron IS NOT NULL AND starts_at IS NULL AND ends_at IS NULL AND duration_s > 0 AND timezone IS NOT NULL))
);

-- Each occurrence's start and end, recorded once by the history leader when it sees them happen: the
-- key is what makes each maintenance.started / maintenance.completed notification exactly once.
CREATE TABLE statuspage.maintenance_events (
    id             bigserial PRIMARY KEY,
    maintenance_id bigint NOT NULL REFERENCES statuspage.maintenances (id),
    occurrence     timestamptz NOT NULL,
    event          text NOT NULL CHECK (event IN ('maintenance.started', 'maintenance.completed')),
    at             timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL,
    recorded_by    text NOT NULL,
    UNIQUE (maintenance_id, occurrence, event)
);

-- Minutes under maintenance per component and UTC day, from the samples (whose state is then
-- 'maintenance' and so counts in none of daily_rollups' columns: neither up nor down).
CREATE TABLE statuspage.maintenance_minutes (
    component text NOT NULL,
    day       date NOT NULL,
    minutes   integer NOT NULL,
    PRIMARY KEY (component, day)
);

-- At most one announcement: the row is replaced or deleted.
CREATE TABLE statuspage.announcement (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    message    text NOT NULL,
    until      timestamptz,
    at         timestamptz NOT NULL,
    written_by text NOT NULL
);

-- Who wrote what, and when: every operator write, through whichever door.
CREATE TABLE statuspage.operator_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL,
    via     text NOT NULL CHECK (via IN ('cli', 'api', 'form')),
    who     text NOT NULL,
    action  text NOT NULL,
    subject bigint,
    detail  jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX operator_log_at_idx ON statuspage.operator_log (at DESC);

-- The outbox carries operator events too: those have no automatic incident behind them.
ALTER TABLE statuspage.notifications ALTER COLUMN incident_id DROP NOT NULL;
ALTER TABLE statuspage.notifications DROP CONSTRAINT notifications_event_check;
ALTER TABLE statuspage.notifications ADD CONSTRAINT notifications_event_check CHECK (event IN (
    'incident.opened', 'incident.updated', 'incident.resolved', 'maintenance.started', 'maintenance.completed'));
