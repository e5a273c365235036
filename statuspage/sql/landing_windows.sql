-- The recent windows at snapshot time %(t)s, from one ordered pass over the last 30 days of
-- trades, however long the history: 7d (closed_at > t - 7 days), 30d (> t - 30 days) and recent
-- (>= %(recent_from)s, the daily range's first midnight, always inside 30d). Each window is a
-- suffix of the pass, so its cumulative pnl is the pass's (cum) minus a constant base, the pnl
-- before it (30d's pnl minus its own). With peak and trough counting the empty start (0) and the
-- running peak starting at 0, no window needs a pass of its own:
--   peak = max(0, max(cum) - base)    trough = min(0, min(cum) - base)
--   max_drawdown = max(0, base - min(cum), max(running max of cum within the window - cum))
-- Only valid trades count (trade_valid.sql): the rows set aside are counted by
-- landing_excluded_before.sql and landing_excluded.sql.
WITH pass AS (
    SELECT closed_at, id, pnl, fees,
           closed_at > %(t)s::timestamptz - interval '7 days' AS in_7d,
           closed_at >= %(recent_from)s::timestamptz AS in_recent,
           SUM(pnl) OVER (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING) AS cum
    FROM closed_trades
    WHERE closed_at > %(t)s::timestamptz - interval '30 days' AND {{trade_valid}}
),
running AS (
    SELECT pnl, fees, cum, in_7d, in_recent,
           MAX(cum) OVER by_time AS run_30d,
           MAX(cum) FILTER (WHERE in_7d) OVER by_time AS run_7d,
           MAX(cum) FILTER (WHERE in_recent) OVER by_time AS run_recent
    FROM pass
    WINDOW by_time AS (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING)
),
totals AS (
    SELECT
           count(*) ::bigint AS trades_30d,
           count(*) FILTER (WHERE pnl > 0)::bigint AS wins_30d,
           count(*) FILTER (WHERE pnl < 0)::bigint AS losses_30d,
           COALESCE(sum(pnl) , 0) AS pnl_30d,
           COALESCE(sum(fees) , 0) AS fees_30d,
           max(pnl)  AS best_30d,
           min(pnl)  AS worst_30d,
           COALESCE(sum(pnl) FILTER (WHERE pnl > 0), 0) AS gp_30d,
           max(cum)  AS max_cum_30d,
           min(cum)  AS min_cum_30d,
           max(run_30d - cum)  AS fall_30d,
           count(*) FILTER (WHERE in_7d)::bigint AS trades_7d,
           count(*) FILTER (WHERE in_7d AND pnl > 0)::bigint AS wins_7d,
           count(*) FILTER (WHERE in_7d AND pnl < 0)::bigint AS losses_7d,
           COALESCE(sum(pnl) FILTER (WHERE in_7d), 0) AS pnl_7d,
           COALESCE(sum(fees) FILTER (WHERE in_7d), 0) AS fees_7d,
           max(pnl) FILTER (WHERE in_7d) AS best_7d,
           min(pnl) FILTER (WHERE in_7d) AS worst_7d,
           COALESCE(sum(pnl) FILTER (WHERE in_7d AND pnl > 0), 0) AS gp_7d,
           max(cum) FILTER (WHERE in_7d) AS max_cum_7d,
           min(cum) FILTER (WHERE in_7d) AS min_cum_7d,
           max(run_7d - cum) FILTER (WHERE in_7d) AS fall_7d,
           count(*) FILTER (WHERE in_recent)::bigint AS trades_recent,
           count(*) FILTER (WHERE in_recent AND pnl > 0)::bigint AS wins_recent,
           count(*) FILTER (WHERE in_recent AND pnl < 0)::bigint AS losses_recent,
           COALESCE(sum(pnl) FILTER (WHERE in_recent), 0) AS pnl_recent,
           COALESCE(sum(fees) FILTER (WHERE in_recent), 0) AS fees_recent,
           max(pnl) FILTER (WHERE in_recent) AS best_recent,
           min(pnl) FILTER (WHERE in_recent) AS worst_recent,
           COALESCE(sum(pnl) FILTER (WHERE in_recent AND pnl > 0), 0) AS gp_recent,
           max(cum) FILTER (WHERE in_recent) AS max_cum_recent,
           min(cum) FILTER (WHERE in_recent) AS min_cum_recent,
           max(run_recent - cum) FILTER (WHERE in_recent) AS fall_recent
    FROM running
)
SELECT w.name, w.trades, w.wins, w.losses, w.pnl, w.fees, w.best_trade, w.worst_trade, w.gross_profit,
       w.pnl - w.gross_profit AS gross_loss,
       GREATEST(0, w.max_cum - w.base) AS peak,
       LEAST(0, w.min_cum - w.base) AS trough,
       GREATEST(0, w.base - w.min_cum, w.fall) AS max_drawdown
FROM totals t
CROSS JOIN LATERAL (VALUES
    ('7d', t.trades_7d, t.wins_7d, t.losses_7d, t.pnl_7d, t.fees_7d, t.best_7d, t.worst_7d, t.gp_7d,
     t.pnl_30d - t.pnl_7d, t.max_cum_7d, t.min_cum_7d, t.fall_7d),
    ('30d', t.trades_30d, t.wins_30d, t.losses_30d, t.pnl_30d, t.fees_30d, t.best_30d, t.worst_30d, t.gp_30d,
     0, t.max_cum_30d, t.min_cum_30d, t.fall_30d),
    ('recent', t.trades_recent, t.wins_recent, t.losses_recent, t.pnl_recent, t.fees_recent, t.best_recent,
     t.worst_recent, t.gp_recent, t.pnl_30d - t.pnl_recent, t.max_cum_recent, t.min_cum_recent, t.fall_recent)
) AS w(name, trades, wins, losses, pnl, fees, best_trade, worst_trade, gross_profit, base, max_cum, min_cum, fall);
