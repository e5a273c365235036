-- An operator incident takes the status of its latest update; "resolved" closes it.
UPDATE statuspage.operator_incidents
SET status = %(status)s, resolved_at = CASE WHEN %(status)s = 'resolved' THEN %(at)s::timestamptz END
WHERE id = %(id)s;
