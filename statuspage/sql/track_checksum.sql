-- The checksum (trade_checksum.sql) and count of the valid trades with %(scan_from)s <= closed_at <
-- %(scan_to)s: one piece of the daily check of everything the track record keeps from before today
-- (statuspage/track.py, read_track), which sees what the count and sums cannot: a correction of a
-- trade's symbol, side, times, size or prices. No ordering, no window: a plain scan of the piece.
SELECT COALESCE(sum(checksum), 0) AS checksum, count(*)::bigint AS trades
FROM trades;
