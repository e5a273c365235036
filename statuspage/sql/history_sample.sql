-- First sample of the minute wins; a second writer in the same minute changes nothing.
INSERT INTO statuspage.samples (component, minute, state, recorded_by)
VALUES (%(component)s, date_trunc('minute', %(now)s::timestamptz), %(state)s, %(recorded_by)s)
ON CONFLICT (component, minute) DO NOTHING;
