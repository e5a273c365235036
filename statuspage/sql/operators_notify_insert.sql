-- One outbox row per receiver for an operator event; dedupe_key makes a second enqueue do nothing.
INSERT INTO statuspage.notifications
    (dedupe_key, incident_id, event, receiver, payload, next_attempt_at, give_up_at, created_at)
SELECT %(key)s || ':' || r.receiver, %(incident_id)s, %(event)s, r.receiver, %(payload)s,
       %(now)s, %(now)s::timestamptz + make_interval(secs => %(retry_s)s), %(now)s
FROM unnest(%(receivers)s::text[]) AS r(receiver)
ON CONFLICT (dedupe_key) DO NOTHING;
