-- The cold start's floor, 2 of 4: the daily totals the equity curve and the months are made of.
SELECT (closed_at AT TIME ZONE 'UTC')::date AS day, count(*), sum(pnl), sum(fees)
FROM closed_trades
GROUP BY 1;
