-- An inbound event the host cannot act on as it came (a NUL in its text,
-- an address or a text over the limits, a time out of range) is kept as
-- `refused`, with the reason, instead of refusing the whole webhook: the
-- other events of the same delivery take effect, and a redelivery finds the
-- refused event there and does nothing again.

ALTER TABLE inbound_events DROP CONSTRAINT inbound_events_action_check;
ALTER TABLE inbound_events ADD CONSTRAINT inbound_events_action_check CHECK (action IN
    ('recorded', 'contact_invalidated', 'contact_restored', 'superseded', 'refused'));
-- Why a refused event was refused; NULL for every other action.
ALTER TABLE inbound_events ADD COLUMN reason TEXT;
