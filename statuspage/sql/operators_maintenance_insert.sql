INSERT INTO statuspage.maintenances
    (title, message, components, starts_at, ends_at, cron, duration_s, timezone, created_at, written_by)
VALUES (%(title)s, %(message)s, %(components)s, %(starts_at)s, %(ends_at)s, %(cron)s, %(duration_s)s, %(timezone)s,
        %(at)s, %(written_by)s)
RETURNING id;
