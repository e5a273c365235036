INSERT INTO statuspage.incident_updates (incident_id, event, status, message, at, written_by)
VALUES (%(incident_id)s, %(event)s, %(status)s, %(message)s, %(at)s, %(written_by)s)
RETURNING id;
