-- What PostgreSQL's own statistics say about closed_trades, read outside the snapshot's transaction
-- and before it (statuspage/db/changes.py): which table the name means (a replaced table has another
-- oid, a truncated one another file), its write counters, and whether they can be trusted here. The
-- counters are the server's, not the transaction's: read before the snapshot is taken, each write
-- they count is one that snapshot sees. A standby's counters do not count the primary's writes.
SELECT c.oid::bigint AS relid,
       pg_relation_filenode(c.oid)::bigint AS filenode,
       s.n_tup_ins AS inserted,
       s.n_tup_upd AS updated,
       s.n_tup_del AS deleted,
       (SELECT d.stats_reset FROM pg_stat_database d WHERE d.datname = current_database()) AS reset_at,
       pg_is_in_recovery() AS standby
FROM pg_class c
JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE c.oid = to_regclass('closed_trades');
