-- The tenant dashboard (issue 15): the tenant's yearly births (出生数), that
-- registrations are read against; why a delivery failed, as a kind the
-- console words plainly (the plugin's own text stays in `last_error`); and
-- the deliveries of a tenant by due time, that the figures count by day
-- (there was no index on `due_at`: the month's counts scanned every row of
-- the tenant). Existing tenants have no births set; deliveries that failed
-- before have no kind (the figures read it from their status).

ALTER TABLE tenants ADD COLUMN yearly_births BIGINT
    CHECK (yearly_births > 0 AND yearly_births <= 1000000);
-- `refused` (the platform refused it for good), `recipient_gone`,
-- `gave_up` (it kept failing to its last attempt), `not_made` (the message
-- could not be made: no such message or broadcast).
ALTER TABLE deliveries ADD COLUMN failure TEXT;
CREATE INDEX deliveries_tenant_due ON deliveries (tenant_id, due_at);
-- The month's failures by reason read the failed rows alone.
CREATE INDEX deliveries_failed ON deliveries (tenant_id, due_at) WHERE status IN ('failed', 'dead');
