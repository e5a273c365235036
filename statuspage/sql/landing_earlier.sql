-- A fingerprint of every row before %(until)s (the daily range's first midnight), valid or not:
-- what the cached segment of that range was read with. One scan of that history, so it runs only
-- when the table's statistics show a possible change there, at each verification and with a read
-- of that history (statuspage/db/changes.py). An equal fingerprint means the cached
-- segment, and the count of rows set aside there, still hold; a late, corrected or deleted trade
-- there changes it, and so does a row set aside or fixed. The sums are compared as text, so that
-- a NaN among them (trade_fault.sql) compares equal to itself; while one is there it also hides
-- a change of amounts that keeps the count, which the next midnight's full read then picks up.
-- No filter, no ordering: PostgreSQL may scan in parallel, at the cost of a plain count and sum.
SELECT count(*)::bigint AS trades, COALESCE(sum(pnl), 0)::text AS pnl, COALESCE(sum(fees), 0)::text AS fees
FROM closed_trades
WHERE closed_at < %(until)s;
