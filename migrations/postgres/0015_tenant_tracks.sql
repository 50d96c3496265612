-- The tenant's rules for a family's real path (issue 17): programs on a span
-- of their own (the school-entry program past a 3-year span), what happens
-- to a pregnancy whose birth is never reported, and corrected age for
-- preterm children. Every existing tenant keeps what it had: no program
-- spans, `continue`, no corrected age.

ALTER TABLE tenants
    ADD COLUMN program_spans JSONB NOT NULL DEFAULT '{}', -- program id -> span
    ADD COLUMN unreported_birth TEXT NOT NULL DEFAULT 'continue'
        CHECK (unreported_birth IN ('continue', 'pause')),
    ADD COLUMN corrected_weeks_early BIGINT CHECK (corrected_weeks_early > 0),
    ADD COLUMN corrected_months BIGINT CHECK (corrected_months > 0),
    ADD CONSTRAINT tenants_corrected_age
        CHECK ((corrected_weeks_early IS NULL) = (corrected_months IS NULL));
