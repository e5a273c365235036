-- Retention: raw samples 14 days, daily rollups 400 days.
WITH s AS (DELETE FROM statuspage.samples WHERE minute < %(now)s::timestamptz - interval '14 days' RETURNING 1),
     r AS (DELETE FROM statuspage.daily_rollups
           WHERE day < (%(now)s::timestamptz AT TIME ZONE 'UTC')::date - 400 RETURNING 1)
SELECT (SELECT count(*) FROM s) AS samples, (SELECT count(*) FROM r) AS rollups;
