-- When history began: the first sample (minute) recorded, or the first state change once the
-- samples of that time have been pruned. Never a day's midnight: that would claim minutes no one saw.
SELECT least((SELECT min(minute) FROM statuspage.samples),
             (SELECT min(at) FROM statuspage.state_changes)) AS began;
