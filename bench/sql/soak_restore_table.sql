-- The real rows back under their name, the empty copy gone, in one transaction.
DROP TABLE closed_trades;
ALTER TABLE closed_trades_saved RENAME TO closed_trades;
