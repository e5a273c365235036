INSERT INTO statuspage.state_changes (component, from_state, to_state, at, detail, recorded_by)
VALUES (%(component)s, %(from_state)s, %(to_state)s, %(at)s, %(detail)s, %(recorded_by)s);
