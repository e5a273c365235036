-- Incident updates young enough to be sent (NOTIFY_RETRY_FOR_S), with what their message says of the incident.
SELECT u.id, u.incident_id, u.event, u.status, u.message, u.at,
       o.title, o.impact, o.components, a.component, a.worst_state, a.id IS NOT NULL AS automatic
FROM statuspage.incident_updates u
LEFT JOIN statuspage.operator_incidents o ON o.id = u.incident_id
LEFT JOIN statuspage.incidents a ON a.id = u.incident_id
WHERE u.at > %(now)s::timestamptz - make_interval(secs => %(retry_s)s)
ORDER BY u.at, u.id;
