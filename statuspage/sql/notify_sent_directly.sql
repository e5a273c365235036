-- "opened" messages this process delivered directly while the outbox was unreachable, as pairs of
-- (incident alert_key, receiver): their outbox rows still pending are settled as delivered, unsent,
-- so the receiver is not told again. A row leased by a sender right now is left to it (same
-- Idempotency-Key: the receiver drops the repeat). Returns every pair that has an outbox row, so
-- the process can forget it.
WITH matched AS (
    SELECT n.id, d.alert_key, d.receiver
    FROM unnest(%(keys)s::text[], %(receivers)s::text[]) AS d(alert_key, receiver)
    JOIN statuspage.incidents i ON i.alert_key = d.alert_key
    JOIN statuspage.notifications n
      ON n.incident_id = i.id AND n.receiver = d.receiver AND n.event = 'incident.opened'
), settled AS (
    UPDATE statuspage.notifications n
    SET status = 'delivered', delivered_at = %(now)s, last_error = ''
    FROM matched m
    WHERE n.id = m.id AND n.status = 'pending' AND (n.lease_until IS NULL OR n.lease_until < %(now)s)
)
SELECT alert_key, receiver FROM matched;
