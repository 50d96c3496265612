-- What the console's plugin and partner pages read.
--
-- A label on an API token: who or what it is for ("LINE plugin, Example
-- Co."), shown in the lists beside the token's id. Tokens made before
-- have none.
ALTER TABLE api_tokens ADD COLUMN label TEXT;

-- Deliveries attempted by a plugin version, by when their row last
-- changed: the error rate per version over the last days reads the
-- window's rows alone. A row enters it once attempted (the version is set
-- then), mostly once: a sent or failed row is not written again.
CREATE INDEX deliveries_attempted ON deliveries (updated_at) WHERE plugin_version IS NOT NULL;
