-- Opens an incident unless one is open (the partial unique index guarantees at most one).
INSERT INTO statuspage.incidents (component, from_state, worst_state, opened_at, detail, alert_key, recorded_at)
VALUES (%(component)s, %(from_state)s, %(state)s, %(at)s, %(detail)s, %(alert_key)s, %(now)s)
ON CONFLICT (component) WHERE resolved_at IS NULL
DO UPDATE SET
    worst_state = CASE WHEN EXCLUDED.worst_state = 'down' THEN 'down' ELSE statuspage.incidents.worst_state END,
    detail = CASE WHEN EXCLUDED.worst_state = 'down' AND statuspage.incidents.worst_state <> 'down'
                  THEN EXCLUDED.detail ELSE statuspage.incidents.detail END;
