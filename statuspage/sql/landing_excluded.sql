-- The rows set aside (trade_fault.sql) with %(excluded_from)s <= closed_at < %(excluded_to)s (no
-- upper bound when it is null: future-dated and infinite ones included), one row per reason. Read
-- every refresh from today's midnight on, and for the whole days of the daily range whenever those
-- are read again (snapshot._recent); landing_excluded_before.sql counts those before the range.
-- Uses the closed_at index.
SELECT fault, count(*)::bigint AS trades, min(id) AS first_id, max(id) AS last_id
FROM (
    SELECT id, {{trade_fault}} AS fault
    FROM closed_trades
    WHERE closed_at >= %(excluded_from)s
      AND (%(excluded_to)s::timestamptz IS NULL OR closed_at < %(excluded_to)s::timestamptz)
) AS scanned
WHERE fault IS NOT NULL
GROUP BY fault;
