-- Maintenance starts and ends young enough to be sent (NOTIFY_RETRY_FOR_S).
SELECT e.id, e.maintenance_id, e.occurrence, e.event, e.at, e.ends_at, m.title, m.message, m.components
FROM statuspage.maintenance_events e
JOIN statuspage.maintenances m ON m.id = e.maintenance_id
WHERE e.at > %(now)s::timestamptz - make_interval(secs => %(retry_s)s)
ORDER BY e.at, e.id;
