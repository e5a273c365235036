-- A new operator incident (statuspage.operators.open_incident); its first update follows in the same transaction.
INSERT INTO statuspage.operator_incidents (title, impact, components, status, opened_at, written_by)
VALUES (%(title)s, %(impact)s, %(components)s, %(status)s, %(at)s, %(written_by)s)
RETURNING id;
