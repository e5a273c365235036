-- The page's own history, in its own schema. The engine's tables are never touched.
CREATE TABLE statuspage.state_changes (
    id          bigserial PRIMARY KEY,
    component   text NOT NULL,
    from_state  text NOT NULL,
    to_state    text NOT NULL,
    at          timestamptz NOT NULL,
    detail      text NOT NULL DEFAULT '',
    recorded_by text NOT NULL
);
CREATE INDEX state_changes_component_at_idx ON statuspage.state_changes (component, at DESC);

-- One sample per component per minute; the minute key makes a double write (leader handover) harmless.
CREATE TABLE statuspage.samples (
    component   text NOT NULL,
    minute      timestamptz NOT NULL,
    state       text NOT NULL,
    recorded_by text NOT NULL,
    PRIMARY KEY (component, minute)
);
CREATE INDEX samples_minute_idx ON statuspage.samples (minute);

-- Minutes per state and UTC day, rolled up from samples; kept far longer than the samples.
CREATE TABLE statuspage.daily_rollups (
    component   text NOT NULL,
    day         date NOT NULL,
    operational integer NOT NULL DEFAULT 0,
    degraded    integer NOT NULL DEFAULT 0,
    down        integer NOT NULL DEFAULT 0,
    unknown     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (component, day)
);

CREATE TABLE statuspage.incidents (
    id          bigserial PRIMARY KEY,
    component   text NOT NULL,
    from_state  text NOT NULL,
    worst_state text NOT NULL,
    opened_at   timestamptz NOT NULL,
    resolved_at timestamptz,
    detail      text NOT NULL DEFAULT ''
);
-- At most one open incident per component, whoever writes.
CREATE UNIQUE INDEX incidents_one_open_idx ON statuspage.incidents (component) WHERE resolved_at IS NULL;
CREATE INDEX incidents_opened_idx ON statuspage.incidents (opened_at DESC);
