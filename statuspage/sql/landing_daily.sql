-- The last 30 UTC calendar days up to %(t)s, oldest first, zero-filled, with totals since the
-- first trade ever. Buckets use AT TIME ZONE 'UTC' so the session's TimeZone cannot move them.
-- SUM(bigint) returns numeric: the ::bigint casts are what make counts arrive as integers
-- (the incident's restore query broke on exactly this).
WITH bounds AS (
    SELECT (%(t)s::timestamptz AT TIME ZONE 'UTC')::date AS today
),
days AS (
    SELECT generate_series(today - 29, today, interval '1 day')::date AS day
    FROM bounds
),
per_day AS (
    SELECT (t.closed_at AT TIME ZONE 'UTC')::date AS day, count(*) AS trades, sum(t.pnl) AS pnl
    FROM closed_trades t, bounds b
    WHERE t.closed_at >= ((b.today - 29)::timestamp AT TIME ZONE 'UTC')
    GROUP BY 1
),
earlier AS (
    SELECT count(*) AS trades, COALESCE(sum(t.pnl), 0) AS pnl
    FROM closed_trades t, bounds b
    WHERE t.closed_at < ((b.today - 29)::timestamp AT TIME ZONE 'UTC')
)
SELECT d.day,
       COALESCE(p.trades, 0)::bigint                                          AS trades,
       COALESCE(p.pnl, 0)                                                     AS pnl,
       (e.trades + SUM(COALESCE(p.trades, 0)) OVER (ORDER BY d.day))::bigint  AS cum_trades,
       e.pnl + SUM(COALESCE(p.pnl, 0)) OVER (ORDER BY d.day)                  AS cum_pnl
FROM days d
CROSS JOIN earlier e
LEFT JOIN per_day p USING (day)
ORDER BY d.day;
