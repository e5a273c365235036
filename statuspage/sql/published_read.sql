-- The newest published snapshot, if newer than %(after)s (the version this process serves): one
-- probe of the primary key's index, and no body at all while nothing new was published.
SELECT version, body
FROM statuspage.published_snapshot
WHERE version > %(after)s
ORDER BY version DESC
LIMIT 1;
