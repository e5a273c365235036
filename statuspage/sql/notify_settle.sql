-- Record how a send went; only the row's current claimant may settle it.
UPDATE statuspage.notifications
SET status = %(status)s, next_attempt_at = %(next_attempt_at)s, last_error = %(error)s,
    delivered_at = CASE WHEN %(status)s = 'delivered' THEN %(now)s::timestamptz END,
    claimed_by = NULL, lease_until = NULL
WHERE id = %(id)s AND claimed_by = %(me)s;
