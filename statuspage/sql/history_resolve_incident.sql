UPDATE statuspage.incidents SET resolved_at = %(at)s
WHERE component = %(component)s AND resolved_at IS NULL;
