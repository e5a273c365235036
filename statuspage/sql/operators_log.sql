-- Who wrote what, through which door, and when.
INSERT INTO statuspage.operator_log (at, via, who, action, subject, detail)
VALUES (%(at)s, %(via)s, %(who)s, %(action)s, %(subject)s, %(detail)s);
