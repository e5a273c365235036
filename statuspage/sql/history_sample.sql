-- One sample per component per minute: the worst state seen in it (down, degraded, operational,
-- unknown, as statuspage/backlog.py ranks them), so an outage shorter than a minute still shows.
-- A second writer in the same minute (leader handover) or a minute replayed after an outage can
-- only make it worse, never better.
INSERT INTO statuspage.samples AS s (component, minute, state, recorded_by)
VALUES (%(component)s, date_trunc('minute', %(now)s::timestamptz), %(state)s, %(recorded_by)s)
ON CONFLICT (component, minute) DO UPDATE SET state = EXCLUDED.state, recorded_by = EXCLUDED.recorded_by
WHERE array_position(ARRAY['unknown', 'operational', 'degraded', 'down'], EXCLUDED.state)
    > array_position(ARRAY['unknown', 'operational', 'degraded', 'down'], s.state);
