-- The rows set aside (trade_fault.sql) before %(until)s (the daily range's first midnight), one row
-- per reason. A full scan, so it runs only with a full read of that range (landing_sealed.sql: at
-- start-up, at the first refresh of every UTC day, and when the fingerprint of landing_earlier.sql
-- changes), and only when the range holds more rows than valid trades. landing_excluded.sql counts
-- those since.
SELECT fault, min(id) AS first_id, max(id) AS last_id, count(*)::bigint AS trades
FROM (
    SELECT id, {{trade_fault}} AS fault
    FROM closed_trades
    WHERE closed_at < %(until)s
) AS scanned
WHERE fault IS NOT NULL
GROUP BY fault;
