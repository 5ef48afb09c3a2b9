-- Where a handed-off conversation waits for a person, how urgently, and since when.
--
-- `priority` is a rank so that the queue can be ordered by it: 0 low, 1 normal, 2 high,
-- 3 urgent (the knowledge base's names). `queued_at` is set on every handoff (for wait times);
-- `queue_seq` numbers handoffs in the order they happened, one more than the largest so far,
-- taken inside the handoff's write transaction, so arrival order has no ties even within a
-- millisecond. The queue is ordered by priority (highest first), then by queue_seq.

ALTER TABLE conversations ADD COLUMN queue TEXT;
ALTER TABLE conversations ADD COLUMN priority BIGINT NOT NULL DEFAULT 1
    CHECK (priority BETWEEN 0 AND 3);
ALTER TABLE conversations ADD COLUMN queued_at BIGINT;
ALTER TABLE conversations ADD COLUMN queue_seq BIGINT;

CREATE INDEX conversations_queue ON conversations (state, queue, priority, queue_seq);
CREATE INDEX conversations_queue_seq ON conversations (queue_seq);

-- The greeting's quick replies are the most answered entries of the past week, and analytics
-- count decisions by day: both read bot events by decision and time.
CREATE INDEX messages_decision ON messages (decision, created_at);
