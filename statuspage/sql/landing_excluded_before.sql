-- The rows set aside (trade_fault.sql) before %(until)s (the daily range's first midnight), one row
-- per reason. A full scan, so it runs with the full read of the segment before that midnight
-- (landing_sealed.sql: at start-up, at the first refresh of every UTC day, and when the valid
-- trades there change), not at every refresh; landing_excluded.sql counts those since.
SELECT fault, min(id) AS first_id, max(id) AS last_id, count(*)::bigint AS trades
FROM (
    SELECT id, {{trade_fault}} AS fault
    FROM closed_trades
    WHERE closed_at < %(until)s
) AS scanned
WHERE fault IS NOT NULL
GROUP BY fault;
