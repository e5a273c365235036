DELETE FROM statuspage.announcement RETURNING at;
