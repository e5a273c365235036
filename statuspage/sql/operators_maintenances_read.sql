-- Windows that may have an occurrence after %(since)s: recurring ones until cancelled, one-off ones until they end.
SELECT id, title, message, components, created_at, starts_at, ends_at, cron, duration_s, timezone, cancelled_at
FROM statuspage.maintenances
WHERE (cancelled_at IS NULL OR cancelled_at > %(since)s)
  AND (cron IS NOT NULL OR ends_at > %(since)s)
ORDER BY id;
