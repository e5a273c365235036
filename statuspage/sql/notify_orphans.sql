-- Rows for receivers no longer configured can never be sent: say so instead of keeping them pending.
UPDATE statuspage.notifications
SET status = 'failed', last_error = 'receiver no longer configured'
WHERE status = 'pending' AND NOT (receiver = ANY(%(receivers)s::text[]));
