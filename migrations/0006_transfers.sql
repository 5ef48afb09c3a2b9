-- What a transfer must not reset, for the insights: a transfer re-queues the conversation
-- (`queued_at`, `assigned_at` start over) but the customer's wait and the agents' handling
-- run on. Same portability rules as 0001.

-- When the first agent took the current handoff (claim, assignment or transfer to them); kept
-- across transfers, cleared by the next handoff from the bot. Handling time runs from it.
ALTER TABLE conversations ADD COLUMN first_assigned_at BIGINT;

-- Milliseconds the customer has waited in queues during the current handoff, added up at each
-- claim or assignment (a transfer to a queue waits again); queue wait is this.
ALTER TABLE conversations ADD COLUMN waited_ms BIGINT;
