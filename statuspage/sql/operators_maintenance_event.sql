-- An occurrence started or completed; the unique key keeps each to one row whoever records it.
INSERT INTO statuspage.maintenance_events (maintenance_id, occurrence, event, at, ends_at, recorded_by)
VALUES (%(maintenance_id)s, %(occurrence)s, %(event)s, %(at)s, %(ends_at)s, %(recorded_by)s)
ON CONFLICT (maintenance_id, occurrence, event) DO NOTHING;
