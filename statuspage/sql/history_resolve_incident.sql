-- Never before it opened: a writer whose own view of the component changed earlier than the
-- incident another writer recorded still closes it with a duration of zero or more.
UPDATE statuspage.incidents SET resolved_at = greatest(opened_at, %(at)s)
WHERE component = %(component)s AND resolved_at IS NULL;
