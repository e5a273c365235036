-- Automatic incidents open now or resolved after %(since)s, for `incident list`.
SELECT id, component, worst_state, opened_at, resolved_at
FROM statuspage.incidents
WHERE resolved_at IS NULL OR resolved_at > %(since)s
ORDER BY opened_at DESC, id DESC
LIMIT 100;
