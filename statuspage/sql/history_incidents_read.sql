-- Incidents open now or resolved within the last 90 days, newest first; notified: its "opened"
-- message was delivered (a process alerting directly during an outage skips those).
SELECT id, component, from_state, worst_state, opened_at, resolved_at, detail, alert_key,
       EXISTS (SELECT 1 FROM statuspage.notifications n
               WHERE n.incident_id = i.id AND n.event = 'incident.opened' AND n.status = 'delivered') AS notified
FROM statuspage.incidents i
WHERE resolved_at IS NULL OR resolved_at > %(now)s::timestamptz - interval '90 days'
ORDER BY opened_at DESC, id DESC
LIMIT 200;
