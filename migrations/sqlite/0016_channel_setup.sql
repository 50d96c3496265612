-- What a plugin's channel set-up (contract 0.2.0 `setup-channel`) last did
-- for a channel (LINE: the tenant's rich menu), shown on the channel: a JSON
-- object {ok, summary, details, plugin_version, at}, NULL for a plugin that
-- sets nothing up or before its first run. Every existing channel starts
-- with NULL.

ALTER TABLE channels ADD COLUMN setup TEXT;
