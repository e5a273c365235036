-- Minutes under maintenance per component and UTC day, for the last 90 days up to %(now)s.
SELECT component, day, minutes
FROM statuspage.maintenance_minutes
WHERE day > (%(now)s::timestamptz AT TIME ZONE 'UTC')::date - 90;
