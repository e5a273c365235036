-- Where the next chunk of a cold read ends: the closed_at of the row %(rows)s rows after
-- %(scan_from)s (counting every row, by the closed_at index: which rows are valid does not matter
-- for cutting), or none when fewer are left before %(scan_to)s. The chunk is the rows before that
-- time, so trades closed at the same instant are never split, and the cut is always later than
-- %(scan_from)s: every chunk moves on.
SELECT closed_at FROM closed_trades
WHERE closed_at > %(scan_from)s::timestamptz AND closed_at < %(scan_to)s::timestamptz
ORDER BY closed_at
OFFSET %(rows)s
LIMIT 1;
