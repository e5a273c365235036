-- Minutes per state for the UTC days from %(since)s on, recomputed from the raw samples.
INSERT INTO statuspage.daily_rollups AS r (component, day, operational, degraded, down, unknown)
SELECT component, (minute AT TIME ZONE 'UTC')::date,
       count(*) FILTER (WHERE state = 'operational'),
       count(*) FILTER (WHERE state = 'degraded'),
       count(*) FILTER (WHERE state = 'down'),
       count(*) FILTER (WHERE state = 'unknown')
FROM statuspage.samples
WHERE minute >= ((%(since)s::timestamptz AT TIME ZONE 'UTC')::date::timestamp AT TIME ZONE 'UTC')
GROUP BY 1, 2
ON CONFLICT (component, day) DO UPDATE SET
    operational = EXCLUDED.operational, degraded = EXCLUDED.degraded,
    down = EXCLUDED.down, unknown = EXCLUDED.unknown;
