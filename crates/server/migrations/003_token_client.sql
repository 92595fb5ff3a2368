-- A Janus token per client address and session on a node: the focus hands an address the
-- token it gave it before (`client`: an opaque key of the address, never the address), so a
-- link holder asking over and over holds one token, not the session's every place. Rows from
-- before have no client and are never handed out again.
ALTER TABLE pairux_tokens ADD COLUMN IF NOT EXISTS client text;
CREATE UNIQUE INDEX IF NOT EXISTS pairux_tokens_client ON pairux_tokens (session, node, client);
