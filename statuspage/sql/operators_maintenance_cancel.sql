UPDATE statuspage.maintenances SET cancelled_at = %(at)s WHERE id = %(id)s;
