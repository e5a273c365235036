-- Newest closed trade: context for the engine badge ("last trade 3 min ago"). Uses the closed_at index.
SELECT max(closed_at) AS last_trade_at FROM closed_trades;
