-- Operator incidents open now or resolved after %(since)s, newest first.
SELECT id, title, impact, components, status, opened_at, resolved_at
FROM statuspage.operator_incidents
WHERE resolved_at IS NULL OR resolved_at > %(since)s
ORDER BY opened_at DESC, id DESC
LIMIT 200;
