-- Incidents open now or resolved within the last 90 days, newest first.
SELECT id, component, from_state, worst_state, opened_at, resolved_at, detail
FROM statuspage.incidents
WHERE resolved_at IS NULL OR resolved_at > %(now)s::timestamptz - interval '90 days'
ORDER BY opened_at DESC, id DESC
LIMIT 200;
