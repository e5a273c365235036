-- The samples of the 24 hours before %(now)s as runs: consecutive minutes of one component in one
-- state, first to last (a handful of rows a day). Minute-exact, so the 24-hour window can be
-- evaluated at any later moment and a minute not yet written merged in (history.view).
SELECT component, state, min(minute) AS first, max(minute) AS last
FROM (SELECT component, state, minute,
             minute - make_interval(mins => (row_number() OVER (PARTITION BY component, state
                                                                 ORDER BY minute))::int) AS run
      FROM statuspage.samples
      WHERE minute > %(now)s::timestamptz - interval '24 hours') s
GROUP BY component, state, run
ORDER BY component, first;
