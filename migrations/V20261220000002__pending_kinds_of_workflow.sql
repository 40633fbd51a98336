-- The workflow (V20261220000001) taught `activity` the kinds task.related and task.unrelated;
-- writers append to `activity_pending` first (the journal, V20261219000001), whose check must
-- accept the same kinds, or those changes fail at their commit.
ALTER TABLE activity_pending DROP CONSTRAINT activity_pending_kind_check;
ALTER TABLE activity_pending ADD CONSTRAINT activity_pending_kind_check CHECK (kind IN (
    'task.created', 'task.updated', 'task.moved', 'task.deleted',
    'task.related', 'task.unrelated',
    'comment.created', 'comment.updated', 'comment.deleted',
    'member.added', 'member.updated', 'member.removed',
    'project.updated', 'github.synced'));
