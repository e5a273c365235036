-- One row's every field as a 64-bit hash: summed over some rows, an order-free checksum that moves
-- when any field of any of them changes, where their count and the sums of pnl and fees may not (a
-- trade's symbol, side, times, size or prices corrected). The text of each field is the session's
-- (the page pins TimeZone=UTC), so both sides of a comparison must be read by the page.
hashtextextended(concat_ws('|', id, closed_at, opened_at, symbol, side, qty, entry_price, exit_price, pnl, fees), 0)
