-- Subscriber changes are numbered in commit order, and the planner reads a
-- tenant's changes above the number it last planned.
--
-- Until now the planner read the subscribers whose `updated_at` was at or
-- after a time 60 seconds before its last pass. That re-read every change
-- of the last minute on every pass (after an import of 100,000 households,
-- all of them, twice), and it missed a change whose transaction committed
-- more than a minute after it was stamped (a long import). A number given
-- inside the writing transaction has neither fault: SQLite has one writer
-- at a time, so numbers are given in commit order, and a reader that saw
-- number N has seen every change up to N.
--
-- The number comes from a one-row counter, bumped by triggers for every
-- subscriber row inserted or updated, so no write path can forget it.

CREATE TABLE change_counter (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    n  INTEGER NOT NULL
);
INSERT INTO change_counter (id, n) VALUES (1, 1);

-- Rows from before this migration are number 1, and every tenant's plan
-- state starts below it: the first pass after the upgrade reads each
-- tenant's subscribers once (what was planned already is kept as it is).
ALTER TABLE subscribers ADD COLUMN changed INTEGER NOT NULL DEFAULT 1;
ALTER TABLE plan_state ADD COLUMN changes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE plan_state DROP COLUMN watermark;

DROP INDEX subscribers_changed;
CREATE INDEX subscribers_changed ON subscribers (tenant_id, changed);

CREATE TRIGGER subscribers_inserted AFTER INSERT ON subscribers
BEGIN
    UPDATE change_counter SET n = n + 1;
    UPDATE subscribers SET changed = (SELECT n FROM change_counter) WHERE rowid = NEW.rowid;
END;

-- Every column but `changed` itself (which the trigger sets).
CREATE TRIGGER subscribers_updated AFTER UPDATE OF
    id, tenant_id, external_id, locale, status, created_at, updated_at, erased_at, import_digest
    ON subscribers
BEGIN
    UPDATE change_counter SET n = n + 1;
    UPDATE subscribers SET changed = (SELECT n FROM change_counter) WHERE rowid = NEW.rowid;
END;
