-- The guard's stored memory: the high-water mark of published all-time trade counts, and the last
-- acceptance (which resets every process's own memory to the mark it left).
SELECT high_water, high_water_at, accepted_at FROM statuspage.snapshot_guard;
