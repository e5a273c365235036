-- Newest valid closed trade: context for the engine badge ("last trade 3 min ago"). Uses the
-- closed_at index backwards, skipping the few rows set aside (trade_valid.sql).
SELECT max(closed_at) AS last_trade_at FROM closed_trades
WHERE {{trade_valid}};
