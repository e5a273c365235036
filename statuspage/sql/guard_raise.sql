-- Raise the stored high-water mark to %(count)s, read at %(at)s. Monotonic, so any number of
-- processes may write in any order and the row ends the same: a lower count changes nothing, and
-- neither does a count read before the last acceptance (a refresh that was under way when the
-- operator accepted must not bring the old mark back).
INSERT INTO statuspage.snapshot_guard AS g (id, high_water, high_water_at)
VALUES (true, %(count)s, %(at)s)
ON CONFLICT (id) DO UPDATE SET high_water = EXCLUDED.high_water, high_water_at = EXCLUDED.high_water_at
WHERE g.high_water < EXCLUDED.high_water AND (g.accepted_at IS NULL OR g.accepted_at < EXCLUDED.high_water_at);
