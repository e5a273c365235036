-- Whether a closed trade can be counted: the one definition of a valid row. Every query that reads
-- trades includes it by name in double braces (db.sql puts this text in its place) and keeps only
-- the rows where it is true; trade_fault.sql says why the others are set aside (counted by reason,
-- shown to operators, never published).
-- %(valid_until)s is the snapshot time plus the clock-skew tolerance, never past the next UTC midnight
-- (db.valid_until):
-- a trade dated later is not closed yet as far as this snapshot knows; it counts once it is due.
-- closed_at may be -infinity or infinity. numeric holds NaN, and since PostgreSQL 14 -Infinity and
-- Infinity: NaN compares above every number, so the two bounds keep all three out. 1e12 is the
-- bound of the engine's numeric(20, 8) columns: a wider column's larger amounts cannot be a real
-- trade, and would not fit the page's arithmetic either.
-- Plain comparisons of columns with constants, so the planner estimates from the columns'
-- statistics that nearly every row passes (an opaque expression would be guessed at 1 in 200, and
-- the plans chosen for that many rows sort a million on disk).
closed_at > '-infinity' AND closed_at <= %(valid_until)s::timestamptz
AND pnl > -1e12 AND pnl < 1e12 AND fees > -1e12 AND fees < 1e12
