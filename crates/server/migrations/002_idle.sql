-- Idle sessions are closed (pairux-server's focus, `closed_at`): the row stays, with its seq,
-- so that a session opened again continues its seq (clients act only on a larger one); its
-- rooms and the Janus tokens handed out for it are destroyed on the nodes and their rows
-- deleted. Closed rows are deleted after 30 days.
ALTER TABLE pairux_sessions ADD COLUMN IF NOT EXISTS closed_at bigint;
CREATE INDEX IF NOT EXISTS pairux_sessions_closed_at ON pairux_sessions (closed_at);

-- Every Janus token handed out for a session, per node (removed when the session closes).
CREATE TABLE IF NOT EXISTS pairux_tokens (
    session     text NOT NULL,
    node        text NOT NULL,
    token       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session, node, token)
);
