-- The highest id in the snapshot: rows above it are the new ones of the next refresh (landing_new.sql).
SELECT max(id) AS last_id FROM closed_trades;
