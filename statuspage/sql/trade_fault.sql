-- Why a closed trade is set aside, or NULL when trade_valid.sql counts it; the names are
-- snapshot.EXCLUSION_REASONS, in this order. A row with several faults gets the first.
-- Compared as text where the value may be NaN or infinite, so that any column type (numeric,
-- double precision, integer) keeps the query valid.
CASE
    WHEN {{trade_valid}} THEN NULL
    WHEN NOT isfinite(closed_at) THEN 'closed_at_not_finite'
    WHEN closed_at > %(valid_until)s::timestamptz THEN 'future_closed_at'
    WHEN pnl::text IN ('NaN', 'Infinity', '-Infinity') THEN 'pnl_not_finite'
    WHEN pnl <= -1e12 OR pnl >= 1e12 THEN 'pnl_out_of_range'
    WHEN fees::text IN ('NaN', 'Infinity', '-Infinity') THEN 'fees_not_finite'
    ELSE 'fees_out_of_range'
END
