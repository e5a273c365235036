-- One segment of the track record: the valid trades of track_trades.sql, in (closed_at, id) order,
-- continuing the cumulative pnl path of everything before the segment: %(base_cum)s is the
-- cumulative pnl before its first trade, %(base_peak)s the running peak (at least 0: the empty
-- start counts). The page composes segments (statuspage/track.py): the long history once, then one
-- UTC day at a time, then today's trades at every refresh. One row:
--   totals, win and loss sums, durations, volume, odd rows, the checksum (trade_checksum.sql):
--     order-free sums that add up;
--   streaks: the longest run of wins and of losses, and the runs the segment starts and ends with
--     (what joins a neighbour's), from each row's distance to the last row that broke the run;
--   the path: where it ends (pnl, peak, peak_at, at_peak: rows at the running peak) and its
--     drawdown episodes. An episode is a maximal run of rows below the running peak; episodes are
--     numbered by grp, the count of rows at the peak so far, so grp 0 continues whatever episode
--     the previous segment left open. Only the episodes that can matter are returned: grp 0,
--     the last (possibly still open), and the five deepest (ties: earliest);
--   day, symbol and side tallies (months are days added up); durations sorted, as int8 bytes.
,
pass AS (
    SELECT id, closed_at, pnl, fees, side, symbol, duration_us, volume, checksum,
           %(base_cum)s::numeric + SUM(pnl) OVER w AS cum,
           COUNT(*) OVER w AS rn
    FROM trades
    WINDOW w AS (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING)
),
running AS (
    SELECT *, GREATEST(%(base_peak)s::numeric, MAX(cum) OVER w) AS run,
           rn - COALESCE(MAX(rn) FILTER (WHERE pnl <= 0) OVER w, 0) AS win_run,
           rn - COALESCE(MAX(rn) FILTER (WHERE pnl >= 0) OVER w, 0) AS loss_run
    FROM pass
    WINDOW w AS (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING)
),
marked AS MATERIALIZED (
    SELECT *, COUNT(*) FILTER (WHERE cum >= run) OVER w AS grp
    FROM running
    WINDOW w AS (ORDER BY closed_at, id ROWS UNBOUNDED PRECEDING)
),
episodes AS (
    SELECT grp, max(run) AS peak, min(cum) FILTER (WHERE cum < run) AS trough, min(closed_at) AS first_at
    FROM marked
    GROUP BY grp
),
ranked AS (
    -- an episode ends at the first row of the next group: back at (or above) its peak
    SELECT grp, peak, trough, first_at, lead(first_at) OVER (ORDER BY grp) AS end_at,
           grp = max(grp) OVER () AS last
    FROM episodes
),
deepest AS (
    SELECT *, row_number() OVER (ORDER BY peak - trough DESC, grp) AS depth_rank
    FROM ranked
    WHERE trough IS NOT NULL
),
chosen AS (
    SELECT d.grp, d.peak, d.trough, d.first_at, d.end_at, min(m.closed_at) AS trough_at
    FROM deepest d
    JOIN marked m ON m.grp = d.grp AND m.cum = d.trough
    WHERE d.grp = 0 OR d.last OR d.depth_rank <= 5
    GROUP BY 1, 2, 3, 4, 5
),
tallies AS (
    SELECT (closed_at AT TIME ZONE 'UTC')::date AS day, symbol, side, count(*) AS trades,
           count(*) FILTER (WHERE pnl > 0) AS wins, count(*) FILTER (WHERE pnl < 0) AS losses,
           sum(pnl) AS pnl, sum(fees) AS fees
    FROM marked
    GROUP BY 1, 2, 3
)
SELECT count(*)::bigint AS trades,
       (count(*) FILTER (WHERE pnl > 0))::bigint AS wins,
       (count(*) FILTER (WHERE pnl < 0))::bigint AS losses,
       COALESCE(sum(pnl), 0) AS pnl,
       COALESCE(sum(fees), 0) AS fees,
       COALESCE(sum(pnl) FILTER (WHERE pnl > 0), 0) AS win_sum,
       COALESCE(sum(pnl) FILTER (WHERE pnl < 0), 0) AS loss_sum,
       count(duration_us)::bigint AS durations,
       COALESCE(sum(duration_us), 0)::bigint AS duration_sum_us,
       COALESCE(sum(volume), 0) AS volume,
       (count(*) FILTER (WHERE duration_us IS NULL))::bigint AS closed_before_opened,
       (count(*) FILTER (WHERE volume IS NULL))::bigint AS no_volume,
       (count(*) FILTER (WHERE symbol IS NULL))::bigint AS blank_symbol,
       COALESCE(sum(checksum), 0) AS checksum,
       COALESCE(max(win_run), 0)::bigint AS longest_win,
       COALESCE(max(loss_run), 0)::bigint AS longest_loss,
       COALESCE(min(rn) FILTER (WHERE pnl <= 0) - 1, count(*))::bigint AS lead_wins,
       COALESCE(min(rn) FILTER (WHERE pnl >= 0) - 1, count(*))::bigint AS lead_losses,
       (count(*) - COALESCE(max(rn) FILTER (WHERE pnl <= 0), 0))::bigint AS trail_wins,
       (count(*) - COALESCE(max(rn) FILTER (WHERE pnl >= 0), 0))::bigint AS trail_losses,
       %(base_cum)s::numeric + COALESCE(sum(pnl), 0) AS cum,
       COALESCE(max(run), %(base_peak)s::numeric) AS peak,
       max(closed_at) FILTER (WHERE cum >= run) AS peak_at,
       COALESCE(max(grp), 0)::bigint AS at_peak,
       min(closed_at) AS first_at,
       (SELECT json_agg(c ORDER BY c.grp) FROM chosen c) AS episodes,
       (SELECT string_agg(int8send(duration_us), ''::bytea ORDER BY duration_us) FROM marked) AS durations_sorted,
       (SELECT json_agg(g) FROM (
            SELECT day AS key, sum(trades) AS trades, sum(wins) AS wins, sum(losses) AS losses,
                   sum(pnl) AS pnl, sum(fees) AS fees
            FROM tallies GROUP BY 1) g) AS days,
       (SELECT json_agg(g) FROM (
            SELECT symbol AS key, sum(trades) AS trades, sum(wins) AS wins, sum(losses) AS losses,
                   sum(pnl) AS pnl, sum(fees) AS fees
            FROM tallies GROUP BY 1) g) AS symbols,
       (SELECT json_agg(g) FROM (
            SELECT side AS key, sum(trades) AS trades, sum(wins) AS wins, sum(losses) AS losses,
                   sum(pnl) AS pnl, sum(fees) AS fees
            FROM tallies GROUP BY 1) g) AS sides
FROM marked;
