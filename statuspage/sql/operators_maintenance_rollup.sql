-- Minutes under maintenance per component and UTC day from %(since)s's day on, recounted from the
-- samples (a sample's state is 'maintenance' while a window covers its component); older than 400
-- days is pruned, like daily_rollups.
WITH counted AS (
    INSERT INTO statuspage.maintenance_minutes AS m (component, day, minutes)
    SELECT component, (minute AT TIME ZONE 'UTC')::date, count(*)
    FROM statuspage.samples
    WHERE state = 'maintenance'
      AND minute >= ((%(since)s::timestamptz AT TIME ZONE 'UTC')::date::timestamp AT TIME ZONE 'UTC')
    GROUP BY 1, 2
    ON CONFLICT (component, day) DO UPDATE SET minutes = EXCLUDED.minutes
    RETURNING 1
)
DELETE FROM statuspage.maintenance_minutes
WHERE day < (%(since)s::timestamptz AT TIME ZONE 'UTC')::date - 400;
