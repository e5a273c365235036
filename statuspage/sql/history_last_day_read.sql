-- Minutes per state over the 24 hours before %(now)s, from the raw samples.
SELECT component,
       count(*) FILTER (WHERE state = 'operational') AS operational,
       count(*) FILTER (WHERE state = 'degraded') AS degraded,
       count(*) FILTER (WHERE state = 'down') AS down,
       count(*) FILTER (WHERE state = 'unknown') AS unknown
FROM statuspage.samples
WHERE minute > %(now)s::timestamptz - interval '24 hours'
GROUP BY component;
