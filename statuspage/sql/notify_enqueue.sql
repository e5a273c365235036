-- Outbox rows for every incident event old enough to be no flap, once per receiver: an opened
-- incident once it has lasted %(min_s)s seconds, a resolved one if it lasted that long (its
-- "opened" too, if the leader never saw it open). Events older than the retry window are left
-- alone, so a receiver added today is not sent last month's incidents. Right after an outage of
-- this database (%(hold_s)s > 0), an incident written late (replayed from a process's memory) has its
-- "opened" message held for %(hold_s)s seconds after it was written: the processes that alerted
-- directly meanwhile mark theirs delivered first (notify_sent_directly.sql).
WITH events AS (
    SELECT i.id, 'incident.opened' AS event, i.opened_at AS at, i.component, i.from_state, i.worst_state,
           i.opened_at, i.resolved_at, i.detail,
           CASE WHEN %(hold_s)s > 0 AND i.recorded_at > i.opened_at + make_interval(secs => %(hold_s)s)
                THEN i.recorded_at + make_interval(secs => %(hold_s)s) END AS held_until
    FROM statuspage.incidents i
    WHERE COALESCE(i.resolved_at, %(now)s::timestamptz) - i.opened_at >= make_interval(secs => %(min_s)s)
      AND i.opened_at > %(now)s::timestamptz - make_interval(secs => %(retry_s)s)
    UNION ALL
    SELECT i.id, 'incident.resolved', i.resolved_at, i.component, i.from_state, i.worst_state,
           i.opened_at, i.resolved_at, i.detail, NULL::timestamptz
    FROM statuspage.incidents i
    WHERE i.resolved_at IS NOT NULL
      AND i.resolved_at - i.opened_at >= make_interval(secs => %(min_s)s)
      AND i.resolved_at > %(now)s::timestamptz - make_interval(secs => %(retry_s)s)
)
INSERT INTO statuspage.notifications
    (dedupe_key, incident_id, event, receiver, payload, next_attempt_at, give_up_at, created_at)
SELECT e.id || ':' || e.event || ':' || r.receiver, e.id, e.event, r.receiver,
       jsonb_build_object(
           'event', e.event, 'component', e.component,
           'from', CASE e.event WHEN 'incident.opened' THEN e.from_state ELSE e.worst_state END,
           'to', CASE e.event WHEN 'incident.opened' THEN e.worst_state ELSE 'operational' END,
           'at', to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
           'duration_s', CASE e.event WHEN 'incident.resolved'
                              THEN floor(extract(epoch FROM e.resolved_at - e.opened_at))::bigint END,
           'detail', e.detail),
       greatest(%(now)s::timestamptz, e.held_until), %(now)s::timestamptz + make_interval(secs => %(retry_s)s),
       %(now)s
FROM events e
CROSS JOIN unnest(%(receivers)s::text[]) AS r(receiver)
ON CONFLICT (dedupe_key) DO NOTHING;
