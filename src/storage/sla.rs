//! What the queue watchdog reads and writes: conversations in human hands with their clocks,
//! offers to leave a message, SLA breaches; and offline tickets being closed.

use sqlx::Row;

use super::{StorageError, Store};

/// A conversation waiting for or held by an agent, with the times its targets count from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clocked {
    /// The conversation.
    pub conversation_id: String,
    /// True while waiting, false once an agent holds it.
    pub waiting: bool,
    /// Its queue.
    pub queue: String,
    /// Priority rank (0 low … 3 urgent).
    pub priority: i64,
    /// When it started waiting in its current queue (ms since the epoch).
    pub queued_at: i64,
    /// When the SLA clock of this handoff started.
    pub sla_started_at: i64,
    /// The first agent reply since then, if any.
    pub first_agent_reply_at: Option<i64>,
    /// When it was last offered to leave a message, if ever.
    pub offline_offered_at: Option<i64>,
    /// The language to write to the customer in ([`super::Conversation::language`]).
    pub lang: String,
}

/// A missed SLA target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Breach {
    /// The conversation.
    pub conversation_id: String,
    /// `first_response` or `resolution`.
    pub kind: String,
    /// The queue it was in.
    pub queue: String,
    /// Its priority rank then.
    pub priority: i64,
    /// The target it missed, in seconds.
    pub target_secs: i64,
    /// When the target fell due (ms since the epoch).
    pub due_at: i64,
}

impl Store {
    /// Every conversation waiting for or held by an agent (or only `one` of them).
    pub async fn clocked(&self, one: Option<&str>) -> Result<Vec<Clocked>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, state, queue, priority, queued_at, \
             COALESCE(sla_started_at, queued_at) AS sla_started_at, first_agent_reply_at, \
             offline_offered_at, COALESCE(lang, locale) AS lang FROM conversations \
             WHERE state IN ('queued', 'agent') AND queued_at IS NOT NULL \
             AND ($1 IS NULL OR id = $1)",
        )
        .bind(one)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                Ok(Clocked {
                    conversation_id: row.try_get("id")?,
                    waiting: state == "queued",
                    queue: row
                        .try_get::<Option<String>, _>("queue")?
                        .unwrap_or_default(),
                    priority: row.try_get("priority")?,
                    queued_at: row.try_get("queued_at")?,
                    sla_started_at: row.try_get("sla_started_at")?,
                    first_agent_reply_at: row.try_get("first_agent_reply_at")?,
                    offline_offered_at: row.try_get("offline_offered_at")?,
                    lang: crate::knowledge::texts::language_code(
                        row.try_get::<Option<String>, _>("lang")?.as_deref(),
                    ),
                })
            })
            .collect()
    }

    /// Notes that a waiting customer was offered to leave a message. False when the
    /// conversation no longer waits or was offered already during this wait (another server,
    /// or an earlier tick, got there first), so the offer is made once.
    pub async fn mark_offline_offered(&self, conversation_id: &str) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE conversations SET offline_offered_at = $2 WHERE id = $1 \
             AND state = 'queued' \
             AND (offline_offered_at IS NULL OR offline_offered_at < queued_at)",
        )
        .bind(conversation_id)
        .bind(self.clock.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether the customer may leave a message now: the conversation waits for a person, was
    /// offered the form during this wait, and has not left a ticket since. The form is the
    /// answer to an offer, not a way to file tickets at will.
    pub async fn offline_form_open(&self, conversation_id: &str) -> Result<bool, StorageError> {
        let open: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM conversations AS c WHERE c.id = $1 AND c.state = 'queued' \
             AND c.offline_offered_at IS NOT NULL AND c.offline_offered_at >= c.queued_at \
             AND NOT EXISTS (SELECT 1 FROM tickets AS t WHERE t.conversation_id = c.id \
                             AND t.created_at >= c.queued_at)",
        )
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(open.is_some())
    }

    /// Whether an agent resolved the conversation (not the customer closing it): only then is
    /// there a person's help to rate.
    pub async fn resolved_by_agent(&self, conversation_id: &str) -> Result<bool, StorageError> {
        let resolved: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM conversations WHERE id = $1 AND state = 'closed' \
             AND resolved_at IS NOT NULL",
        )
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(resolved.is_some())
    }

    /// Stores a breach; false when it was stored already.
    pub async fn record_breach(&self, breach: &Breach) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "INSERT INTO sla_breaches (conversation_id, kind, queue, priority, target_secs, \
             due_at, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&breach.conversation_id)
        .bind(&breach.kind)
        .bind(&breach.queue)
        .bind(breach.priority)
        .bind(breach.target_secs)
        .bind(breach.due_at)
        .bind(self.clock.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The breaches of a conversation, oldest first.
    pub async fn breaches(&self, conversation_id: &str) -> Result<Vec<Breach>, StorageError> {
        let rows: Vec<(String, String, String, i64, i64, i64)> = sqlx::query_as(
            "SELECT conversation_id, kind, queue, priority, target_secs, due_at \
             FROM sla_breaches WHERE conversation_id = $1 ORDER BY due_at, kind",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(conversation_id, kind, queue, priority, target_secs, due_at)| Breach {
                    conversation_id,
                    kind,
                    queue,
                    priority,
                    target_secs,
                    due_at,
                },
            )
            .collect())
    }

    /// Closes an open ticket; false when there is no open ticket with this id.
    pub async fn close_ticket(
        &self,
        ticket_id: &str,
        agent_id: &str,
    ) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE tickets SET status = 'done', done_at = $3, done_by = $2 \
             WHERE id = $1 AND status = 'open'",
        )
        .bind(ticket_id)
        .bind(agent_id)
        .bind(self.clock.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}
