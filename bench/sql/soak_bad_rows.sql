-- Two rows no number may count, as an engine could write them: NaN fees (numeric allows NaN), and a
-- trade dated two days ahead (a clock ahead). Parameters: the two ids, then now.
INSERT INTO closed_trades (id, symbol, side, qty, entry_price, exit_price, pnl, fees, opened_at, closed_at)
VALUES (%(nan_id)s, 'BTC-USD', 'long', 1, 100, 101, 1, 'NaN'::numeric,
        %(now)s::timestamptz - interval '2 hours', %(now)s::timestamptz - interval '1 hour'),
       (%(future_id)s, 'ETH-USD', 'short', 1, 100, 99, 1000, 1,
        %(now)s::timestamptz + interval '2 days' - interval '1 hour', %(now)s::timestamptz + interval '2 days');
