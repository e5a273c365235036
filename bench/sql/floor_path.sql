-- The cold start's floor, 3 of 4: the one ordered pass the all-time max drawdown needs (the running
-- peak of the cumulative pnl, trade by trade), and nothing else.
SELECT max(run - cum) FROM (
    SELECT cum, max(cum) OVER (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING) AS run
    FROM (SELECT closed_at, id, sum(pnl) OVER (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING) AS cum
          FROM closed_trades) ordered
) running;
