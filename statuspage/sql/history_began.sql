SELECT least((SELECT min(minute) FROM statuspage.samples),
             (SELECT min(day)::timestamp AT TIME ZONE 'UTC' FROM statuspage.daily_rollups)) AS began;
