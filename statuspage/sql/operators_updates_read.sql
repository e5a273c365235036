-- The updates of every incident, of either kind, that is open or was resolved after %(since)s; oldest first.
SELECT u.id, u.incident_id, u.status, u.message, u.at
FROM statuspage.incident_updates u
WHERE u.incident_id IN (SELECT id FROM statuspage.operator_incidents
                        WHERE resolved_at IS NULL OR resolved_at > %(since)s
                        UNION ALL
                        SELECT id FROM statuspage.incidents
                        WHERE resolved_at IS NULL OR resolved_at > %(since)s)
ORDER BY u.incident_id, u.at, u.id;
