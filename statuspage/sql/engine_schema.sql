-- The engine's table, as the engine owns it. The page only reads it; this file exists so the demo
-- and the tests can build the same table. Never apply it to a production database.
CREATE TABLE IF NOT EXISTS closed_trades (
    id          bigint PRIMARY KEY,
    symbol      text NOT NULL,
    side        text NOT NULL CHECK (side IN ('long', 'short')),
    qty         numeric NOT NULL,
    entry_price numeric NOT NULL,
    exit_price  numeric NOT NULL,
    pnl         numeric(20, 8) NOT NULL,  -- realized USD, net of fees
    fees        numeric(20, 8) NOT NULL DEFAULT 0,
    opened_at   timestamptz NOT NULL,
    closed_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS closed_trades_closed_at_idx ON closed_trades (closed_at);
