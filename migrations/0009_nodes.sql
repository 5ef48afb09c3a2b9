-- Several nodes on one database (PostgreSQL): which nodes are up, what knowledge each serves,
-- and which agent consoles each holds, so that every node counts the agents online on all of
-- them (wait estimates, offline offers, auto-assignment). Rows are refreshed by each node's
-- heartbeat every few seconds and carry an expiry, so a node killed without a goodbye drops out
-- by itself. Same portability rules as 0001.

CREATE TABLE nodes (
    id                TEXT PRIMARY KEY,
    -- The knowledge version it serves (`/api/knowledge/status`'s `version`).
    knowledge_version TEXT,
    started_at        BIGINT NOT NULL,
    seen_at           BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL
);

CREATE TABLE presence (
    node_id    TEXT NOT NULL,
    -- The console's number on its node.
    console    BIGINT NOT NULL,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    -- The agent's queues, as a JSON array of names.
    skills     TEXT NOT NULL,
    online     BOOLEAN NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (node_id, console)
);

CREATE INDEX presence_expiry ON presence (expires_at);
