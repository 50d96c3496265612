-- Delivery keys are unique per tenant and day (scheduled deliveries) or per
-- broadcast, instead of across the whole table.
--
-- A key is a UUID derived from the delivery's identity, so it is unique in
-- any case; what changes is the index that says so. Keyed by the random
-- UUID alone, each row a planner writes lands on an index page of its own,
-- and planning a national day (2.6 million children) rewrote most of that
-- index's pages: 4 to 5 times slower than now. Led by tenant and day (or
-- broadcast), a day's keys of a tenant sit side by side and planning it
-- touches a few pages. Planning the same day again still collides here and
-- adds nothing (`ON CONFLICT DO NOTHING`).

ALTER TABLE deliveries DROP CONSTRAINT deliveries_key_key;
CREATE UNIQUE INDEX deliveries_scheduled_key ON deliveries (tenant_id, occurs_on, key)
    WHERE broadcast_id IS NULL;
CREATE UNIQUE INDEX deliveries_broadcast_key ON deliveries (tenant_id, broadcast_id, key)
    WHERE broadcast_id IS NOT NULL;
