-- Offline tickets: a customer's message left when no agent could take the conversation.
-- The contact email is personal data: it is stored sealed (ChaCha20-Poly1305 with the server's
-- data key, base64 of nonce and ciphertext), never in clear.

CREATE TABLE tickets (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    queue           TEXT NOT NULL,
    email_sealed    TEXT NOT NULL,
    text            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    created_at      BIGINT NOT NULL
);

CREATE INDEX tickets_status ON tickets (status, created_at);
