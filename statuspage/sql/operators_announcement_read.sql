-- The announcement, unless it has expired.
SELECT message, until, at FROM statuspage.announcement WHERE until IS NULL OR until > %(now)s;
