//! Handed-off conversations waiting for a person: entering a queue and the place in it.
//!
//! A queue is ordered by priority (highest first), then by the order of the handoffs (oldest
//! first): `queue_seq` numbers them without ties (see `migrations/0002_queue.sql` and
//! `0008_counters.sql`).

use super::store::priority_rank;
use super::{ConversationState, StorageError, Store};
use crate::knowledge::Priority;

/// The place of a conversation in its queue: 1 for the next one an agent takes.
const POSITION_SQL: &str = "SELECT COUNT(*) FROM conversations AS other, conversations AS me \
     WHERE me.id = $1 AND me.state = 'queued' AND other.state = 'queued' \
     AND other.queue = me.queue \
     AND (other.priority > me.priority \
          OR (other.priority = me.priority AND other.queue_seq <= me.queue_seq))";

impl Store {
    /// Hands a conversation off (or transfers it to a queue): state queued, with its reason,
    /// queue and priority, no agent, waiting from now. Returns its place in the queue (1 = next).
    ///
    /// A handoff from the bot starts a new SLA clock (and forgets the previous handoff's first
    /// reply); a transfer keeps the clock running and the first reply it had.
    pub async fn enqueue(
        &self,
        conversation_id: &str,
        reason: &str,
        queue: &str,
        priority: Priority,
    ) -> Result<u32, StorageError> {
        self.enqueue_where(conversation_id, None, reason, queue, priority)
            .await
    }

    /// [`Store::enqueue`] as the bot's turn on the customer message at seq `turn`: only if that
    /// message is still the last event and the bot still serves the conversation
    /// ([`StorageError::TurnTaken`] otherwise, nothing changed), so two connections answering
    /// the same message hand off once.
    pub async fn enqueue_turn(
        &self,
        conversation_id: &str,
        turn: u64,
        reason: &str,
        queue: &str,
        priority: Priority,
    ) -> Result<u32, StorageError> {
        self.enqueue_where(conversation_id, Some(turn), reason, queue, priority)
            .await
    }

    async fn enqueue_where(
        &self,
        conversation_id: &str,
        turn: Option<u64>,
        reason: &str,
        queue: &str,
        priority: Priority,
    ) -> Result<u32, StorageError> {
        let now = self.clock.now_ms();
        let mut tx = self.begin_write().await?;
        // The next number in handoff order (`migrations/0008_counters.sql`). Taken first: on
        // PostgreSQL its row lock is the one every handoff waits on, always before the
        // conversation's, so two handoffs never wait on each other in opposite orders.
        let queue_seq: i64 = sqlx::query_scalar(
            "UPDATE counters SET value = value + 1 WHERE name = 'queue_seq' RETURNING value",
        )
        .fetch_one(&mut *tx)
        .await?;
        let updated = sqlx::query(
            "UPDATE conversations SET state = $2, handoff_reason = $3, queue = $4, \
             priority = $5, queued_at = $6, updated_at = $6, closed_at = NULL, \
             assigned_agent_id = NULL, assigned_at = NULL, \
             sla_started_at = CASE WHEN state IN ('queued', 'agent') \
                 THEN COALESCE(sla_started_at, $6) ELSE $6 END, \
             first_agent_reply_at = CASE WHEN state IN ('queued', 'agent') \
                 THEN first_agent_reply_at ELSE NULL END, \
             first_assigned_at = CASE WHEN state IN ('queued', 'agent') \
                 THEN first_assigned_at ELSE NULL END, \
             waited_ms = CASE WHEN state = 'agent' THEN COALESCE(waited_ms, 0) \
                 WHEN state = 'queued' THEN COALESCE(waited_ms, 0) + $6 - queued_at \
                 ELSE 0 END, \
             resolved_at = NULL, \
             queue_seq = $8 \
             WHERE id = $1 AND ($7 IS NULL OR (last_seq = $7 AND state = 'bot'))",
        )
        .bind(conversation_id)
        .bind(ConversationState::Queued.as_str())
        .bind(reason)
        .bind(queue)
        .bind(priority_rank(priority))
        .bind(now)
        .bind(turn.map(super::store::seq_to_db))
        .bind(queue_seq)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(match turn {
                Some(_) => StorageError::TurnTaken(conversation_id.to_owned()),
                None => StorageError::UnknownConversation(conversation_id.to_owned()),
            });
        }
        let position: i64 = sqlx::query_scalar(POSITION_SQL)
            .bind(conversation_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(u32::try_from(position).unwrap_or(u32::MAX))
    }

    /// The conversation's place in its queue (1 = next), or `None` when it is not waiting.
    pub async fn queue_position(&self, conversation_id: &str) -> Result<Option<u32>, StorageError> {
        let position: i64 = sqlx::query_scalar(POSITION_SQL)
            .bind(conversation_id)
            .fetch_one(&self.pool)
            .await?;
        Ok((position > 0).then(|| u32::try_from(position).unwrap_or(u32::MAX)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::NewConversation;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = crate::storage::test_db::open(dir.path()).await;
        (dir, store)
    }

    async fn conversation(store: &Store) -> String {
        let (conversation, _) = store
            .create_conversation(NewConversation::default())
            .await
            .expect("created");
        conversation.id
    }

    #[tokio::test]
    async fn the_queue_is_ordered_by_priority_then_by_arrival() {
        let (_dir, store) = store().await;
        let first = conversation(&store).await;
        let second = conversation(&store).await;
        let urgent = conversation(&store).await;
        let elsewhere = conversation(&store).await;
        let position = |id: String| {
            let store = store.clone();
            async move { store.queue_position(&id).await.expect("position") }
        };
        assert_eq!(position(first.clone()).await, None, "not queued yet");
        let normal = Priority::Normal;
        assert_eq!(
            store
                .enqueue(&first, "intent", "general", normal)
                .await
                .ok(),
            Some(1)
        );
        assert_eq!(
            store
                .enqueue(&second, "intent", "general", normal)
                .await
                .ok(),
            Some(2)
        );
        assert_eq!(
            store
                .enqueue(&elsewhere, "intent", "billing", normal)
                .await
                .ok(),
            Some(1),
            "each queue has its own line"
        );
        assert_eq!(
            store
                .enqueue(&urgent, "intent", "general", Priority::Urgent)
                .await
                .ok(),
            Some(1),
            "urgent goes first"
        );
        assert_eq!(position(first.clone()).await, Some(2));
        assert_eq!(position(second.clone()).await, Some(3));
        store
            .set_state(&first, ConversationState::Agent, None)
            .await
            .expect("taken");
        assert_eq!(position(first).await, None, "taken by an agent");
        assert_eq!(position(second).await, Some(2), "moved up");
        let stored = store
            .conversation(&urgent)
            .await
            .expect("read")
            .expect("exists");
        assert_eq!(stored.queue.as_deref(), Some("general"));
        assert_eq!(stored.priority, Priority::Urgent);
        assert_eq!(stored.handoff_reason.as_deref(), Some("intent"));
        assert!(stored.queued_at.is_some());
    }

    #[tokio::test]
    async fn enqueueing_an_unknown_conversation_is_an_error() {
        let (_dir, store) = store().await;
        let result = store
            .enqueue("nope", "intent", "general", Priority::Normal)
            .await;
        assert!(matches!(result, Err(StorageError::UnknownConversation(_))));
    }
}
