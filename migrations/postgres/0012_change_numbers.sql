-- Subscriber changes are numbered so that the planner reads a tenant's
-- changes above the number it last planned, instead of re-reading the last
-- minute by `updated_at` (which re-read every recent change on every pass
-- and missed a change committed more than a minute after it was stamped).
--
-- On PostgreSQL the number is the writing transaction's id (`xid8`, which
-- never wraps), set by a trigger on every subscriber row inserted or
-- updated. Ids are not given in commit order, so the store's cursor is the
-- oldest transaction still running when a pass starts
-- (`pg_snapshot_xmin`): every change numbered below it has committed (or
-- never will) and is seen by the pass's reads; changes at or above it are
-- read again by the next pass, which plans nothing twice.

ALTER TABLE subscribers ADD COLUMN changed BIGINT NOT NULL DEFAULT 1;
ALTER TABLE plan_state ADD COLUMN changes BIGINT NOT NULL DEFAULT 0;
ALTER TABLE plan_state DROP COLUMN watermark;

DROP INDEX subscribers_changed;
CREATE INDEX subscribers_changed ON subscribers (tenant_id, changed);

CREATE FUNCTION subscribers_number_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END
$$;

CREATE TRIGGER subscribers_changed BEFORE INSERT OR UPDATE ON subscribers
    FOR EACH ROW EXECUTE FUNCTION subscribers_number_change();
