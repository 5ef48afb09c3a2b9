-- Human agents, their sign-in sessions, who holds which conversation, and internal notes.
-- Same portability rules as 0001 (TEXT / BIGINT / BOOLEAN, milliseconds since the epoch).

CREATE TABLE agents (
    id            TEXT PRIMARY KEY,
    -- Lower-cased, so sign-in is case-insensitive without a function index.
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    -- argon2id in PHC string form (algorithm, parameters and salt included).
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'agent' CHECK (role IN ('agent', 'admin')),
    -- The queues the agent may take conversations from, as a JSON array of names.
    skills        TEXT NOT NULL DEFAULT '["general"]',
    max_chats     BIGINT NOT NULL DEFAULT 3 CHECK (max_chats >= 1),
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);

-- A signed-in browser. Only the SHA-256 of the cookie's token is stored, as for resume tokens.
CREATE TABLE agent_sessions (
    token_hash TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX agent_sessions_agent ON agent_sessions (agent_id);

-- The agent holding a conversation (state 'agent'), since when, and the response times the
-- analytics report.
ALTER TABLE conversations ADD COLUMN assigned_agent_id TEXT REFERENCES agents (id);
ALTER TABLE conversations ADD COLUMN assigned_at BIGINT;
ALTER TABLE conversations ADD COLUMN first_agent_reply_at BIGINT;
ALTER TABLE conversations ADD COLUMN resolved_at BIGINT;

CREATE INDEX conversations_assigned ON conversations (assigned_agent_id, state);

-- Internal notes: seen by agents only, so they live apart from the replayed event log.
CREATE TABLE notes (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    agent_id        TEXT NOT NULL REFERENCES agents (id),
    text            TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

CREATE INDEX notes_conversation ON notes (conversation_id, created_at);

-- Customer satisfaction, asked for when an agent resolves the conversation.
ALTER TABLE conversations ADD COLUMN csat_score BIGINT CHECK (csat_score BETWEEN 1 AND 5);
ALTER TABLE conversations ADD COLUMN csat_comment TEXT;
