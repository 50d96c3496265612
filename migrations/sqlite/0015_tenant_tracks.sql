-- The tenant's rules for a family's real path (issue 17): programs on a span
-- of their own (the school-entry program past a 3-year span), what happens
-- to a pregnancy whose birth is never reported, and corrected age for
-- preterm children. Every existing tenant keeps what it had: no program
-- spans, `continue`, no corrected age.

ALTER TABLE tenants ADD COLUMN program_spans TEXT NOT NULL DEFAULT '{}'; -- JSON object: program id -> span
ALTER TABLE tenants ADD COLUMN unreported_birth TEXT NOT NULL DEFAULT 'continue'
    CHECK (unreported_birth IN ('continue', 'pause'));
ALTER TABLE tenants ADD COLUMN corrected_weeks_early INTEGER CHECK (corrected_weeks_early > 0);
ALTER TABLE tenants ADD COLUMN corrected_months INTEGER CHECK (corrected_months > 0);
