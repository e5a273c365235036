-- Daily minutes per state for the last 90 UTC days up to %(now)s.
SELECT component, day, operational, degraded, down, unknown
FROM statuspage.daily_rollups
WHERE day > (%(now)s::timestamptz AT TIME ZONE 'UTC')::date - 90
ORDER BY component, day;
