-- One row per public window (7d, 30d, all) at snapshot time %(t)s.
-- max_drawdown: largest fall of cumulative pnl from its running peak, in (closed_at, id) order,
-- starting from 0 at the window's start (hence GREATEST(0, ...)).
WITH windows(name, since) AS (
    VALUES ('7d', %(t)s::timestamptz - interval '7 days'),
           ('30d', %(t)s::timestamptz - interval '30 days'),
           ('all', '-infinity'::timestamptz)
),
ordered AS (
    SELECT w.name, t.pnl, t.fees,
           SUM(t.pnl) OVER (PARTITION BY w.name ORDER BY t.closed_at, t.id) AS cum,
           ROW_NUMBER() OVER (PARTITION BY w.name ORDER BY t.closed_at, t.id) AS rn
    FROM windows w
    JOIN closed_trades t ON t.closed_at > w.since
),
drawn AS (
    SELECT name, pnl, fees,
           GREATEST(0, MAX(cum) OVER (PARTITION BY name ORDER BY rn ROWS UNBOUNDED PRECEDING)) - cum
               AS drawdown
    FROM ordered
)
SELECT w.name,
       count(d.pnl)::bigint                              AS trades,
       (count(*) FILTER (WHERE d.pnl > 0))::bigint       AS wins,
       (count(*) FILTER (WHERE d.pnl < 0))::bigint       AS losses,
       COALESCE(sum(d.pnl), 0)                           AS pnl,
       COALESCE(sum(d.fees), 0)                          AS fees,
       max(d.pnl)                                        AS best_trade,
       min(d.pnl)                                        AS worst_trade,
       COALESCE(sum(d.pnl) FILTER (WHERE d.pnl > 0), 0)  AS gross_profit,
       COALESCE(sum(d.pnl) FILTER (WHERE d.pnl < 0), 0)  AS gross_loss,
       COALESCE(max(d.drawdown), 0)                      AS max_drawdown
FROM windows w
LEFT JOIN drawn d ON d.name = w.name
GROUP BY w.name;
