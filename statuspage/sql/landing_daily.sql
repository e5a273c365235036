-- The last 30 UTC calendar days up to %(t)s, oldest first, zero-filled, with totals since the
-- first trade ever. %(recent_from)s is the first of those days' midnight in UTC; buckets use
-- AT TIME ZONE 'UTC' so the session's TimeZone cannot move them.
-- SUM(bigint) returns numeric: the ::bigint casts are what make counts arrive as integers
-- (the incident's restore query broke on exactly this).
-- The earlier_* columns (the same on every row) are the totals before the range: the snapshot
-- uses them to know whether its cached segment of that range still holds.
WITH days AS (
    SELECT generate_series(%(recent_from)s::timestamptz AT TIME ZONE 'UTC',
                           %(t)s::timestamptz AT TIME ZONE 'UTC', interval '1 day')::date AS day
),
per_day AS (
    SELECT (closed_at AT TIME ZONE 'UTC')::date AS day, count(*) AS trades, sum(pnl) AS pnl
    FROM closed_trades
    WHERE closed_at >= %(recent_from)s::timestamptz
    GROUP BY 1
),
earlier AS (
    SELECT count(*) AS trades, COALESCE(sum(pnl), 0) AS pnl, COALESCE(sum(fees), 0) AS fees
    FROM closed_trades
    WHERE closed_at < %(recent_from)s::timestamptz
)
SELECT d.day,
       COALESCE(p.trades, 0)::bigint                                          AS trades,
       COALESCE(p.pnl, 0)                                                     AS pnl,
       (e.trades + SUM(COALESCE(p.trades, 0)) OVER (ORDER BY d.day))::bigint  AS cum_trades,
       e.pnl + SUM(COALESCE(p.pnl, 0)) OVER (ORDER BY d.day)                  AS cum_pnl,
       e.trades AS earlier_trades, e.pnl AS earlier_pnl, e.fees AS earlier_fees
FROM days d
CROSS JOIN earlier e
LEFT JOIN per_day p USING (day)
ORDER BY d.day;
