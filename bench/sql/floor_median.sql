-- The cold start's floor, 4 of 4: the all-time median duration, by PostgreSQL's own ordered-set aggregate.
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY closed_at - opened_at)
FROM closed_trades;
