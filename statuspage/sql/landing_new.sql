-- Rows with an id above the highest one the kept history was checked with, by the primary key's
-- index (it reads only them): whether one of them closed before the daily range (a late trade, which
-- changes the kept history), and the highest id now.
SELECT min(closed_at) AS first_closed_at, max(id) AS last_id
FROM closed_trades
WHERE id > %(last_id)s;
