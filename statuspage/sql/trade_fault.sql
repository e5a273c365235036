-- Why a closed trade cannot be counted, or NULL when it can: the one definition of a valid row.
-- Every query that reads trades includes it by name in double braces (db.sql puts this text in its
-- place) and keeps only the rows where it is NULL; the others are set aside, counted by reason
-- (snapshot.EXCLUSION_REASONS lists these names) and shown to operators, never published.
-- %(valid_until)s is the snapshot time plus the clock-skew tolerance (snapshot.FUTURE_TOLERANCE):
-- a trade dated later is not closed yet as far as this snapshot knows; it counts once it is due.
-- numeric holds NaN, and since PostgreSQL 14 also -Infinity and Infinity; NaN compares above
-- every number, so abs(x) < 1e12 is false for all three. 1e12 is the bound of the engine's
-- numeric(20, 8) columns: a wider column's larger amounts cannot be a real trade, and would not
-- fit the page's arithmetic either. Compared as text, so that any column type (numeric, double
-- precision, integer) keeps this query valid.
CASE
    WHEN NOT isfinite(closed_at) THEN 'closed_at_not_finite'
    WHEN closed_at > %(valid_until)s::timestamptz THEN 'future_closed_at'
    WHEN abs(pnl) < 1e12 AND abs(fees) < 1e12 THEN NULL
    WHEN pnl::text IN ('NaN', 'Infinity', '-Infinity') THEN 'pnl_not_finite'
    WHEN abs(pnl) >= 1e12 THEN 'pnl_out_of_range'
    WHEN fees::text IN ('NaN', 'Infinity', '-Infinity') THEN 'fees_not_finite'
    ELSE 'fees_out_of_range'
END
