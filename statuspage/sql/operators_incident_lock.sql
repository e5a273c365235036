-- An operator incident, locked until the writing transaction ends: two updates cannot both find it open.
SELECT id, status, resolved_at FROM statuspage.operator_incidents WHERE id = %(id)s FOR UPDATE;
