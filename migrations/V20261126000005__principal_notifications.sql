-- Instances cache the user behind an access token. Any change to a user, and any revoked
-- login, is announced so that every instance drops its cached copy at once.
CREATE FUNCTION notify_principal_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'users' THEN
        PERFORM pg_notify('docket_principals', NEW.id::text);
    ELSE
        PERFORM pg_notify('docket_principals', NEW.user_id::text);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_announce_changes
    AFTER UPDATE ON users
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW)
    EXECUTE FUNCTION notify_principal_changed();

CREATE TRIGGER refresh_tokens_announce_revocations
    AFTER UPDATE OF revoked_at ON refresh_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION notify_principal_changed();
