-- The cold start's floor, 1 of 4: the all-time totals, one order-free scan (parallel workers allowed).
SELECT count(*), sum(pnl), sum(fees), max(pnl), min(pnl), sum(pnl) FILTER (WHERE pnl > 0)
FROM closed_trades;
