-- The newest published snapshot: one probe of the primary key's index, and its body only when its
-- version is not %(after)s (the newest this process knows): no body while nothing new was published.
-- A version below %(after)s is new too: the history database was restored from an older backup, and
-- its versions begin again below what this process served.
SELECT version, CASE WHEN version <> %(after)s THEN body END AS body
FROM statuspage.published_snapshot
ORDER BY version DESC
LIMIT 1;
