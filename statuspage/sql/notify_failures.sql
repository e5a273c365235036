-- The latest deliveries given up on, for the operator view (any process may read them).
SELECT id, event, receiver, attempts, last_error, created_at
FROM statuspage.notifications
WHERE status = 'failed'
ORDER BY id DESC
LIMIT %(limit)s
