-- An operator accepts the database's all-time count %(count)s at %(at)s: the mark is set to it,
-- however high it was, and the acceptance recorded with the mark it replaced. Returns that mark.
WITH before AS (
    SELECT high_water FROM statuspage.snapshot_guard FOR UPDATE
),
mark AS (
    INSERT INTO statuspage.snapshot_guard AS g (id, high_water, high_water_at, accepted_at)
    VALUES (true, %(count)s, %(at)s, %(at)s)
    ON CONFLICT (id) DO UPDATE
        SET high_water = EXCLUDED.high_water, high_water_at = EXCLUDED.high_water_at, accepted_at = EXCLUDED.accepted_at
),
logged AS (
    INSERT INTO statuspage.snapshot_accepts (accepted_at, accepted_by, from_count, to_count)
    SELECT %(at)s, %(by)s, (SELECT high_water FROM before), %(count)s
)
SELECT (SELECT high_water FROM before) AS from_count;
