-- The segment of the valid trades (trade_valid.sql) with %(scan_from)s <= closed_at < %(scan_to)s,
-- in (closed_at, id) order. One piece of the long history before the daily range's first midnight,
-- which the page reads whole, piece by piece (statuspage/db/chunks.py), at start-up, at the first
-- refresh of every UTC day, and whenever the fingerprint of the rows before the range changes
-- (landing_earlier.sql; landing_excluded_before.sql counts the rows set aside there); or one day of
-- the daily range, today's trades, or the part of a day where a window begins
-- (snapshot._recent_windows). Each segment's peak, trough and drawdown count from its own start
-- (WindowStats.then).
-- Two parts: the order-free totals, which PostgreSQL may compute with parallel workers, and the
-- path of the cumulative pnl (peak, trough, deepest fall), the one ordered pass over the table,
-- kept to the two running windows and three aggregates it needs.
WITH valid AS NOT MATERIALIZED (
    SELECT closed_at, id, pnl, fees
    FROM closed_trades
    WHERE closed_at >= %(scan_from)s::timestamptz AND closed_at < %(scan_to)s::timestamptz
      AND {{trade_valid}}
),
totals AS (
    SELECT count(*)::bigint                              AS trades,
           (count(*) FILTER (WHERE pnl > 0))::bigint     AS wins,
           (count(*) FILTER (WHERE pnl < 0))::bigint     AS losses,
           COALESCE(sum(pnl), 0)                         AS pnl,
           COALESCE(sum(fees), 0)                        AS fees,
           max(pnl)                                      AS best_trade,
           min(pnl)                                      AS worst_trade,
           COALESCE(sum(pnl) FILTER (WHERE pnl > 0), 0)  AS gross_profit
    FROM valid
),
ordered AS (
    SELECT closed_at, id, SUM(pnl) OVER (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING) AS cum
    FROM valid
),
running AS (
    SELECT cum, GREATEST(0, MAX(cum) OVER (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING)) AS run
    FROM ordered
),
path AS (
    SELECT GREATEST(0, COALESCE(max(cum), 0)) AS peak,
           LEAST(0, COALESCE(min(cum), 0))    AS trough,
           COALESCE(max(run - cum), 0)        AS max_drawdown
    FROM running
)
SELECT t.trades, t.wins, t.losses, t.pnl, t.fees, t.best_trade, t.worst_trade, t.gross_profit,
       t.pnl - t.gross_profit AS gross_loss, p.peak, p.trough, p.max_drawdown
FROM totals t
CROSS JOIN path p;
