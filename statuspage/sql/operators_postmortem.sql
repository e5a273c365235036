-- Written again, a postmortem replaces the earlier text.
INSERT INTO statuspage.postmortems (incident_id, message, at, written_by)
VALUES (%(incident_id)s, %(message)s, %(at)s, %(written_by)s)
ON CONFLICT (incident_id) DO UPDATE SET message = EXCLUDED.message, at = EXCLUDED.at, written_by = EXCLUDED.written_by;
