-- The one announcement, replaced.
INSERT INTO statuspage.announcement (one, message, until, at, written_by)
VALUES (true, %(message)s, %(until)s, %(at)s, %(written_by)s)
ON CONFLICT (one) DO UPDATE SET message = EXCLUDED.message, until = EXCLUDED.until, at = EXCLUDED.at,
                                written_by = EXCLUDED.written_by;
