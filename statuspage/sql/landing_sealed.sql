-- The segment of every trade before %(until)s (the daily range's first midnight), in (closed_at, id)
-- order: the long, unchanging part of the history. The page reads it once and again only when the
-- totals of that range change (see snapshot.read_snapshot); it is the one full pass over the table.
WITH ordered AS (
    SELECT closed_at, id, pnl, fees, SUM(pnl) OVER (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING) AS cum
    FROM closed_trades
    WHERE closed_at < %(until)s
),
drawn AS (
    SELECT pnl, fees, cum,
           GREATEST(0, MAX(cum) OVER (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING)) - cum AS drawdown
    FROM ordered
)
SELECT count(*)::bigint                              AS trades,
       (count(*) FILTER (WHERE pnl > 0))::bigint     AS wins,
       (count(*) FILTER (WHERE pnl < 0))::bigint     AS losses,
       COALESCE(sum(pnl), 0)                         AS pnl,
       COALESCE(sum(fees), 0)                        AS fees,
       max(pnl)                                      AS best_trade,
       min(pnl)                                      AS worst_trade,
       COALESCE(sum(pnl) FILTER (WHERE pnl > 0), 0)  AS gross_profit,
       COALESCE(sum(pnl) FILTER (WHERE pnl < 0), 0)  AS gross_loss,
       GREATEST(0, COALESCE(max(cum), 0))            AS peak,
       LEAST(0, COALESCE(min(cum), 0))               AS trough,
       COALESCE(max(drawdown), 0)                    AS max_drawdown
FROM drawn;
