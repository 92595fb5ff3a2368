-- Session Focus state shared by focus processes (pairux-server --database-url).
-- Plain PostgreSQL (runs on Debian's postgresql 15 and on a Supabase project's database).
-- Applied once, in order, by pairux-server; recorded in pairux_migrations.

-- Each session's start mode and the decision in force (the signed wire form is rebuilt from
-- these columns). seq only grows: a decision is committed with compare-and-set on it.
CREATE TABLE IF NOT EXISTS pairux_sessions (
    id          text PRIMARY KEY,
    mode        text NOT NULL CHECK (mode IN ('p2p', 'sfu', 'auto')),
    region      text,
    seq         bigint NOT NULL CHECK (seq >= 1),
    topology    text NOT NULL CHECK (topology IN ('p2p', 'sfu')),
    node        text,
    reason      text NOT NULL,
    decided_at  bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A session's VideoRoom on one node: created on the node when missing (a restarted Janus has
-- no rooms), always with these values, so every focus process hands out the same room.
CREATE TABLE IF NOT EXISTS pairux_rooms (
    session     text NOT NULL,
    node        text NOT NULL,
    room        bigint NOT NULL,
    pin         text NOT NULL,
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session, node)
);

-- The access verifier pinned by a session's first valid /api/access request.
CREATE TABLE IF NOT EXISTS pairux_access_pins (
    session     text PRIMARY KEY,
    verifier    text NOT NULL,
    last_used   bigint NOT NULL
);

-- Access nonces already used, until their request could no longer be fresh.
CREATE TABLE IF NOT EXISTS pairux_access_nonces (
    session     text NOT NULL,
    nonce       text NOT NULL,
    expires     bigint NOT NULL,
    PRIMARY KEY (session, nonce)
);
CREATE INDEX IF NOT EXISTS pairux_access_nonces_expires ON pairux_access_nonces (expires);
