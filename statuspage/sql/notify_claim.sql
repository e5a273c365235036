-- Take the next due row for %(me)s: pending, due, not leased by a live sender. SKIP LOCKED and
-- the lease keep two senders off the same row; an expired lease means its sender died mid-send.
UPDATE statuspage.notifications n
SET claimed_by = %(me)s, lease_until = %(now)s::timestamptz + make_interval(secs => %(lease_s)s),
    attempts = n.attempts + 1
WHERE n.id = (
    SELECT id FROM statuspage.notifications
    WHERE status = 'pending' AND next_attempt_at <= %(now)s
      AND (lease_until IS NULL OR lease_until < %(now)s)
      AND receiver = ANY(%(receivers)s::text[])
    ORDER BY next_attempt_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
RETURNING n.id, n.event, n.receiver, n.payload, n.attempts, n.give_up_at,
          (SELECT alert_key FROM statuspage.incidents i WHERE i.id = n.incident_id) AS alert_key;
