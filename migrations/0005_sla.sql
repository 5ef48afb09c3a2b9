-- Queue timeouts, SLA breaches, and offline tickets being worked.
-- Same portability rules as 0001 (TEXT / BIGINT / BOOLEAN, milliseconds since the epoch).

-- When the customer was last offered to leave a message instead of waiting (closed queue,
-- nobody online, or the queue's wait_timeout passed). An offer counts for the current wait
-- only: a later handoff (queued_at after it) may be offered again.
ALTER TABLE conversations ADD COLUMN offline_offered_at BIGINT;

-- When the SLA clock of the current handoff started: the handoff from the bot. A transfer to
-- another queue keeps it (the customer has been waiting all along).
ALTER TABLE conversations ADD COLUMN sla_started_at BIGINT;

-- A target missed: no first agent reply, or no resolution, by `due_at`. One row per
-- conversation, kind and due time, so a conversation handed off twice can breach twice; the
-- primary key makes recording idempotent when several servers watch the same queues.
CREATE TABLE sla_breaches (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('first_response', 'resolution')),
    queue           TEXT NOT NULL,
    priority        BIGINT NOT NULL,
    target_secs     BIGINT NOT NULL,
    due_at          BIGINT NOT NULL,
    recorded_at     BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, kind, due_at)
);

CREATE INDEX sla_breaches_time ON sla_breaches (due_at);

-- Who closed a ticket, and when.
ALTER TABLE tickets ADD COLUMN done_at BIGINT;
ALTER TABLE tickets ADD COLUMN done_by TEXT REFERENCES agents (id);
