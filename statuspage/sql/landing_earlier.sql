-- The totals of the valid trades (trade_fault.sql) before %(until)s (the daily range's first
-- midnight): what the cached segment of that range was read with. Equal totals mean the cached
-- segment still holds; a late, corrected or deleted trade there changes them, and so does a trade
-- turning valid or invalid. Order-free, so PostgreSQL may scan in parallel.
SELECT count(*)::bigint AS trades, COALESCE(sum(pnl), 0) AS pnl, COALESCE(sum(fees), 0) AS fees
FROM closed_trades
WHERE closed_at < %(until)s AND {{trade_fault}} IS NULL;
