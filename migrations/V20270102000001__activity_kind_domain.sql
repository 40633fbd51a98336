-- The kinds of the history as one domain, checked once per connection instead of at every
-- write (issue 28). PostgreSQL reads a table's CHECK expressions back from their stored text
-- at the start of every statement that writes the table (`ExecRelCheck`), and the kinds' list
-- is 3.7 KB of that text: parsing it was ~15 µs of every write's append to `activity_pending`
-- (docs/performance.md, "What the history costs, by profile"). A domain's check is parsed
-- once per connection and kept in the type cache.
--
-- One list for both tables, too: `activity_pending.kind` is of the domain, and `activity`'s
-- check casts to it (validated, not rewritten: the table may be large). A new kind is one
-- `ALTER DOMAIN activity_kind DROP CONSTRAINT activity_kind_known, ADD CONSTRAINT …`.
CREATE DOMAIN activity_kind AS text CONSTRAINT activity_kind_known CHECK (VALUE IN (
    'task.created', 'task.updated', 'task.moved', 'task.deleted',
    'task.related', 'task.unrelated', 'task.recurred',
    'comment.created', 'comment.updated', 'comment.deleted',
    'member.added', 'member.updated', 'member.removed',
    'project.updated', 'github.synced',
    'attachment.added', 'attachment.deleted'));

ALTER TABLE activity_pending DROP CONSTRAINT activity_pending_kind_check;
ALTER TABLE activity_pending ALTER COLUMN kind TYPE activity_kind;

ALTER TABLE activity DROP CONSTRAINT activity_kind_check;
ALTER TABLE activity ADD CONSTRAINT activity_kind_check
    CHECK (kind::activity_kind IS NOT NULL) NOT VALID;
ALTER TABLE activity VALIDATE CONSTRAINT activity_kind_check;
