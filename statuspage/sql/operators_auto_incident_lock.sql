-- An automatic incident, locked until the writing transaction ends (the leader resolves it with an UPDATE).
SELECT id, resolved_at FROM statuspage.incidents WHERE id = %(id)s FOR UPDATE;
