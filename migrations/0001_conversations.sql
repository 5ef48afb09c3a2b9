-- Conversations, the events in each one, and feedback on answers.
--
-- Portable on purpose, so that PostgreSQL can follow with the same file: only TEXT, BIGINT,
-- DOUBLE PRECISION and BOOLEAN columns, timestamps as integer milliseconds since the Unix epoch
-- (UTC), states as TEXT with CHECK constraints instead of enum types, no AUTOINCREMENT, no
-- SQLite-only functions. Applied migrations are checksummed: change the schema with a new file,
-- never by editing this one.

CREATE TABLE conversations (
    id                  TEXT PRIMARY KEY,
    -- SHA-256 (hex) of the resume token; the token itself is a bearer secret and is never stored.
    resume_token_hash   TEXT NOT NULL UNIQUE,
    -- From a verified identity only; NULL for anonymous customers.
    customer_id         TEXT,
    -- The rest of the verified identity payload, as a JSON object.
    customer_attributes TEXT,
    locale              TEXT,
    page_url            TEXT,
    state               TEXT NOT NULL DEFAULT 'bot'
                        CHECK (state IN ('bot', 'queued', 'agent', 'closed')),
    handoff_reason      TEXT,
    -- The highest seq in `messages` for this conversation; the next event gets last_seq + 1.
    -- Bumping it is the first write of every append, which serialises appenders.
    last_seq            BIGINT NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    closed_at           BIGINT
);

-- An agent looking up a known customer's history.
CREATE INDEX conversations_customer ON conversations (customer_id, created_at);
-- The queue and the console: open conversations by state, oldest first.
CREATE INDEX conversations_state ON conversations (state, updated_at);

-- One row per event in a conversation's sequence: every frame that carries a seq.
CREATE TABLE messages (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL CHECK (seq >= 1),
    sender          TEXT NOT NULL CHECK (sender IN ('customer', 'bot', 'agent', 'system')),
    -- The widget's own id for a customer message, so a resent message is stored once.
    client_id       TEXT CHECK (client_id IS NULL OR sender = 'customer'),
    -- The frame type (`answer`, `customer_message`, ...).
    kind            TEXT NOT NULL,
    text            TEXT,
    -- The complete server frame as JSON, seq included: replay sends it as it is.
    frame           TEXT NOT NULL,
    -- Why the bot did what it did, for analytics and for agents reading the history.
    intent          TEXT,
    confidence      DOUBLE PRECISION,
    faq_id          TEXT,
    decision        TEXT,
    reason          TEXT,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    -- NULLs are distinct in both SQLite and PostgreSQL, so only customer messages are constrained.
    UNIQUE (conversation_id, client_id)
);

-- Repeat detection reads a conversation's latest customer messages.
CREATE INDEX messages_sender ON messages (conversation_id, sender, seq);
-- Reporting: how often each FAQ entry is served.
CREATE INDEX messages_faq ON messages (faq_id);

-- Helpful / not helpful on one answer; a second vote on the same answer replaces the first.
CREATE TABLE feedback (
    conversation_id TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    helpful         BOOLEAN NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq) ON DELETE CASCADE
);
