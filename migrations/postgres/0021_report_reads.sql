-- The figures of every tenant at once (issue 15, the operator's table):
-- they read each tenant's children that are not stopped whose household
-- is active, as `subscriber_id NOT IN (households not active)`. Households
-- that are stopped or erased are few; this index holds only them, so the
-- read finds them without scanning every household, and a registration
-- (an active household) does not write it.
CREATE INDEX subscribers_not_active ON subscribers (id) WHERE status <> 'active';
