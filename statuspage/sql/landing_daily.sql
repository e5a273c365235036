-- The last 30 UTC calendar days up to %(t)s, oldest first, zero-filled, with totals since the
-- first trade ever. %(recent_from)s is the first of those days' midnight in UTC; buckets use
-- AT TIME ZONE 'UTC' so the session's TimeZone cannot move them.
-- SUM(bigint) returns numeric: the ::bigint casts are what make counts arrive as integers
-- (the incident's restore query broke on exactly this).
-- %(earlier_trades)s and %(earlier_pnl)s are the totals before the range, from the segment of that
-- range read (or validated) in the same transaction (landing_sealed.sql, landing_earlier.sql).
-- Each day's (trades, pnl, fees) is also what the kept segment of that day must still agree with
-- (snapshot._recent_windows). Only valid trades count (trade_valid.sql). One that the clock-skew
-- tolerance lets in although it is dated a few seconds after %(t)s counts on %(t)s's day, so the
-- series still ends at every trade.
WITH days AS (
    SELECT generate_series(%(recent_from)s::timestamptz AT TIME ZONE 'UTC',
                           %(t)s::timestamptz AT TIME ZONE 'UTC', interval '1 day')::date AS day
),
per_day AS (
    SELECT LEAST((closed_at AT TIME ZONE 'UTC')::date, (%(t)s::timestamptz AT TIME ZONE 'UTC')::date) AS day,
           count(*) AS trades, sum(pnl) AS pnl, sum(fees) AS fees
    FROM closed_trades
    WHERE closed_at >= %(recent_from)s::timestamptz AND {{trade_valid}}
    GROUP BY 1
),
earlier AS (
    SELECT %(earlier_trades)s::bigint AS trades, %(earlier_pnl)s::numeric AS pnl
)
SELECT d.day,
       COALESCE(p.trades, 0)::bigint                                          AS trades,
       COALESCE(p.pnl, 0)                                                     AS pnl,
       COALESCE(p.fees, 0)                                                    AS fees,
       (e.trades + SUM(COALESCE(p.trades, 0)) OVER (ORDER BY d.day))::bigint  AS cum_trades,
       e.pnl + SUM(COALESCE(p.pnl, 0)) OVER (ORDER BY d.day)                  AS cum_pnl
FROM days d
CROSS JOIN earlier e
LEFT JOIN per_day p USING (day)
ORDER BY d.day;
