-- For the operator view and metrics: counts by status, and the latest failures.
SELECT status, count(*) AS n FROM statuspage.notifications GROUP BY status;
