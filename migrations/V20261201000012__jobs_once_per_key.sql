-- A job whose dedupe key starts with `once:` (the daily due-date reminders, one key per day)
-- is enqueued at most once while its row exists, finished or not: `jobs_one_active_per_key`
-- only covers queued and running jobs, so a finished day's job could otherwise be enqueued
-- again by another instance the same day. Finished rows are purged after 7 days, long after
-- the day a dated key names.
CREATE UNIQUE INDEX jobs_once_per_key ON jobs (dedupe_key) WHERE dedupe_key LIKE 'once:%';
