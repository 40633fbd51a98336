-- The history written once (issue 28). A commit now writes its entries straight into
-- `activity`, under a lock its writers share (src/activity/journal.rs), and readers stop at the
-- position a publisher moves once every commit below it has finished: `journal_watermark`.
-- `activity_pending` stays, for a transaction that sets very many entries aside before its
-- commit moves them (an import); between transactions it is empty.
--
-- Stop every instance of the previous version before this runs: its writers append to
-- `activity_pending` and only its own sequencer would move what they append.
CREATE TABLE journal_watermark (
    single   boolean PRIMARY KEY DEFAULT true CHECK (single),
    position bigint NOT NULL
);

-- What the sequencer had not numbered yet: numbered now, in the order it was written.
INSERT INTO activity (at, actor_id, kind, project_id, task_id, comment_id, user_id, changes, counts)
SELECT at, actor_id, kind, project_id, task_id, comment_id, user_id, changes, counts
FROM activity_pending ORDER BY id;
DELETE FROM activity_pending;

-- Everything in `activity` now is committed: published.
INSERT INTO journal_watermark (position) SELECT coalesce(max(id), 0) FROM activity;
