-- The history without one lock for the whole database (issue 28). Writers no longer insert
-- into `activity` under an advisory lock held to the end of their commit: they insert into
-- `activity_pending` and commit in parallel. A sequencer (src/activity/journal.rs: one numbering
-- transaction at a time, by a transaction-scoped advisory lock taken before its snapshot) moves
-- committed pending entries into `activity`, whose identity column numbers them. So `activity`
-- holds only numbered entries, and ids still become visible in increasing order: the existing
-- ids stay what they were (a client resuming after one gets everything after it, nothing
-- twice), and new ones continue from the same identity sequence, above every existing id.
--
-- The same columns and rules as `activity` (a bad row must fail its writer's commit, never the
-- sequencer's move): a change to `activity`'s kinds must change this table's check too.
-- No foreign keys, as in `activity`: entries outlive what they name, and nothing here waits on
-- another table's row locks.
CREATE TABLE activity_pending (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id    uuid,
    kind        text NOT NULL CHECK (kind IN (
                    'task.created', 'task.updated', 'task.moved', 'task.deleted',
                    'comment.created', 'comment.updated', 'comment.deleted',
                    'member.added', 'member.updated', 'member.removed',
                    'project.updated', 'github.synced')),
    project_id  uuid NOT NULL,
    task_id     uuid,
    comment_id  uuid,
    user_id     uuid,
    changes     jsonb NOT NULL DEFAULT '[]',
    counts      jsonb
);
-- Rows live milliseconds: vacuum the table by the number of dead rows, not by its tiny size.
ALTER TABLE activity_pending SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

