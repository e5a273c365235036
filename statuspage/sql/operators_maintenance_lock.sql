-- One window, locked until the writing transaction ends.
SELECT id, title, message, components, created_at, starts_at, ends_at, cron, duration_s, timezone, cancelled_at
FROM statuspage.maintenances WHERE id = %(id)s FOR UPDATE;
