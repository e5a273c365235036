-- The rows set aside (trade_fault.sql) from %(until)s (the daily range's first midnight) on,
-- future-dated ones included, one row per reason, at every refresh; landing_excluded_before.sql counts
-- those before. Uses the closed_at index: about 30 days of trades.
SELECT fault, count(*)::bigint AS trades, min(id) AS first_id, max(id) AS last_id
FROM (
    SELECT id, {{trade_fault}} AS fault
    FROM closed_trades
    WHERE closed_at >= %(until)s
) AS scanned
WHERE fault IS NOT NULL
GROUP BY fault;
