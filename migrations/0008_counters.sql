-- Handoff order without a single writer. `queue_seq` was one more than the largest so far,
-- read inside the handoff's transaction: safe while SQLite serialises every writer, but two
-- PostgreSQL transactions (two nodes) could read the same maximum. A counter row taken with
-- `UPDATE ... RETURNING` is portable, and its row lock orders concurrent handoffs; the unique
-- index makes a duplicate impossible rather than unlikely. Same portability rules as 0001.

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

INSERT INTO counters (name, value)
    SELECT 'queue_seq', COALESCE(MAX(queue_seq), 0) FROM conversations;

DROP INDEX conversations_queue_seq;
CREATE UNIQUE INDEX conversations_queue_seq ON conversations (queue_seq);
