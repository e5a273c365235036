-- The trades the track record counts, written once: every track_*.sql statement is this CTE
-- followed by its own text (statuspage.track.statement joins them), so no part of the track record
-- can count a row that another part leaves out.
--
-- Valid rows: %(scan_from)s <= closed_at < %(scan_to)s (the segment asked for), and valid as the
-- landing numbers count them (trade_valid.sql, the one definition): the track record and the landing
-- numbers of a snapshot always count the same trades.
-- Per field (docs/numbers.md, "Track record"), a valid row that is odd elsewhere still counts everywhere
-- except where the odd field would be used:
--   closed_at before opened_at          -> duration_us NULL: left out of the durations only
--   qty <= 0, or qty or a price not finite -> volume NULL: left out of the volume only
--   symbol empty or only spaces         -> symbol NULL: its own row (symbol null) in by_symbol
-- Durations are whole microseconds (what timestamptz holds); date_part gives a double, exact to
-- far below a microsecond for any duration under a century, hence round() and not a cast.
WITH trades AS (
    SELECT id, closed_at, pnl, fees, side, {{trade_checksum}} AS checksum,
           CASE WHEN btrim(symbol) <> '' THEN symbol END AS symbol,
           CASE WHEN closed_at >= opened_at
                THEN round(date_part('epoch', closed_at - opened_at) * 1000000)::bigint
           END AS duration_us,
           CASE WHEN qty > 0 AND qty < 'Infinity'
                 AND entry_price > '-Infinity' AND entry_price < 'Infinity'
                 AND exit_price > '-Infinity' AND exit_price < 'Infinity'
                THEN qty * (entry_price + exit_price)
           END AS volume
    FROM closed_trades
    WHERE closed_at >= %(scan_from)s::timestamptz AND closed_at < %(scan_to)s::timestamptz
      AND {{trade_valid}}
)
