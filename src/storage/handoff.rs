//! Conversations in human hands: the waiting list, claiming (exactly one agent wins), the
//! agent's own conversations, transfer, resolve, hand back, notes, satisfaction.

use std::collections::HashMap;

use sqlx::Row;

use super::{StorageError, Store};

/// A conversation waiting for an agent, as the queue list shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    /// The conversation.
    pub conversation_id: String,
    /// Its queue.
    pub queue: String,
    /// Priority rank (0 low … 3 urgent).
    pub priority: i64,
    /// Why it was handed off.
    pub reason: Option<String>,
    /// When it started waiting (ms since the epoch).
    pub queued_at: i64,
    /// The customer's language.
    pub locale: Option<String>,
    /// The verified customer's attributes (name, email...), if any.
    pub customer_attributes: Option<serde_json::Value>,
    /// The customer's latest message.
    pub preview: Option<String>,
}

/// An internal note.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Note {
    /// The author's display name.
    pub agent_name: String,
    /// The note.
    pub text: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

const PREVIEW: &str = "(SELECT m.text FROM messages AS m WHERE m.conversation_id = c.id \
     AND m.sender = 'customer' ORDER BY m.seq DESC LIMIT 1)";

impl Store {
    /// Every waiting conversation, in queue order (priority, then arrival).
    pub async fn waiting(&self) -> Result<Vec<Waiting>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT c.id, c.queue, c.priority, c.handoff_reason, c.queued_at, c.locale, \
             c.customer_attributes, {PREVIEW} AS preview FROM conversations AS c \
             WHERE c.state = 'queued' ORDER BY c.priority DESC, c.queue_seq"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let attributes: Option<String> = row.try_get("customer_attributes")?;
                Ok(Waiting {
                    conversation_id: row.try_get("id")?,
                    queue: row
                        .try_get::<Option<String>, _>("queue")?
                        .unwrap_or_else(|| crate::knowledge::DEFAULT_QUEUE.to_owned()),
                    priority: row.try_get("priority")?,
                    reason: row.try_get("handoff_reason")?,
                    queued_at: row.try_get::<Option<i64>, _>("queued_at")?.unwrap_or(0),
                    locale: row.try_get("locale")?,
                    customer_attributes: attributes.and_then(|a| serde_json::from_str(&a).ok()),
                    preview: row.try_get("preview")?,
                })
            })
            .collect()
    }

    /// The conversations an agent holds now, oldest first: (id, queue, preview).
    pub async fn assigned_to(
        &self,
        agent_id: &str,
    ) -> Result<Vec<(String, Option<String>, Option<String>)>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT c.id, c.queue, {PREVIEW} AS preview FROM conversations AS c \
             WHERE c.state = 'agent' AND c.assigned_agent_id = $1 ORDER BY c.assigned_at"
        ))
        .bind(agent_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("id")?,
                    row.try_get("queue")?,
                    row.try_get("preview")?,
                ))
            })
            .collect()
    }

    /// The agent holding a conversation, if one does.
    pub async fn holder(&self, conversation_id: &str) -> Result<Option<String>, StorageError> {
        let holder: Option<Option<String>> = sqlx::query_scalar(
            "SELECT assigned_agent_id FROM conversations WHERE id = $1 AND state = 'agent'",
        )
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(holder.flatten())
    }

    /// Gives a waiting conversation to `agent_id` if they have room for one more. One
    /// statement, conditional on the state and on the agent's load, so that of two agents
    /// claiming at once exactly one succeeds, and an agent claiming two at once (two consoles,
    /// two nodes) never holds more than `max_chats`: false otherwise (and for a conversation that
    /// is not waiting).
    pub async fn claim(&self, conversation_id: &str, agent_id: &str) -> Result<bool, StorageError> {
        let now = self.clock.now_ms();
        let mut tx = self.begin_write().await?;
        // A no-op write on the agent's row: on PostgreSQL its lock makes a second claim by the
        // same agent wait for this one, so the count below is not read by both at once.
        sqlx::query("UPDATE agents SET max_chats = max_chats WHERE id = $1")
            .bind(agent_id)
            .execute(&mut *tx)
            .await?;
        let claimed = sqlx::query(
            "UPDATE conversations SET state = 'agent', assigned_agent_id = $2, assigned_at = $3, \
             updated_at = $3, first_assigned_at = COALESCE(first_assigned_at, $3), \
             waited_ms = COALESCE(waited_ms, 0) + $3 - queued_at \
             WHERE id = $1 AND state = 'queued' \
             AND (SELECT COUNT(*) FROM conversations AS held \
                  WHERE held.assigned_agent_id = $2 AND held.state = 'agent') \
                 < (SELECT max_chats FROM agents WHERE id = $2)",
        )
        .bind(conversation_id)
        .bind(agent_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// Gives a waiting or held conversation straight to `agent_id` (a transfer to an agent).
    pub async fn assign(
        &self,
        conversation_id: &str,
        agent_id: &str,
    ) -> Result<bool, StorageError> {
        let now = self.clock.now_ms();
        let assigned = sqlx::query(
            "UPDATE conversations SET state = 'agent', assigned_agent_id = $2, assigned_at = $3, \
             updated_at = $3, first_assigned_at = COALESCE(first_assigned_at, $3), \
             waited_ms = COALESCE(waited_ms, 0) \
                 + CASE WHEN state = 'queued' THEN $3 - queued_at ELSE 0 END \
             WHERE id = $1 AND state IN ('queued', 'agent')",
        )
        .bind(conversation_id)
        .bind(agent_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(assigned.rows_affected() == 1)
    }

    /// Records the first agent reply's time (later replies leave it); true for the first.
    pub async fn mark_agent_reply(&self, conversation_id: &str) -> Result<bool, StorageError> {
        let first = sqlx::query(
            "UPDATE conversations SET first_agent_reply_at = $2 \
             WHERE id = $1 AND first_agent_reply_at IS NULL",
        )
        .bind(conversation_id)
        .bind(self.clock.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(first.rows_affected() == 1)
    }

    /// Closes a conversation an agent resolved.
    pub async fn resolve(&self, conversation_id: &str) -> Result<(), StorageError> {
        let now = self.clock.now_ms();
        sqlx::query(
            "UPDATE conversations SET state = 'closed', resolved_at = $2, \
             closed_at = COALESCE(closed_at, $2), updated_at = $2 WHERE id = $1",
        )
        .bind(conversation_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Opens a closed conversation to the bot again (the customer wrote after it was resolved);
    /// false when it was not closed. The resolution stays on record for the analytics.
    pub async fn reopen(&self, conversation_id: &str) -> Result<bool, StorageError> {
        let done = sqlx::query(
            "UPDATE conversations SET state = 'bot', assigned_agent_id = NULL, \
             handoff_reason = NULL, closed_at = NULL, updated_at = $2 \
             WHERE id = $1 AND state = 'closed'",
        )
        .bind(conversation_id)
        .bind(self.clock.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Gives a conversation back to the bot: no agent, no handoff reason.
    pub async fn hand_back(&self, conversation_id: &str) -> Result<(), StorageError> {
        sqlx::query(
            "UPDATE conversations SET state = 'bot', assigned_agent_id = NULL, \
             handoff_reason = NULL, updated_at = $2 WHERE id = $1",
        )
        .bind(conversation_id)
        .bind(self.clock.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores the customer's 1–5 rating and comment; a second rating replaces the first.
    pub async fn record_csat(
        &self,
        conversation_id: &str,
        score: u8,
        comment: Option<&str>,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE conversations SET csat_score = $2, csat_comment = $3 WHERE id = $1")
            .bind(conversation_id)
            .bind(i64::from(score.clamp(1, 5)))
            .bind(comment)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The stored rating and comment of a conversation.
    pub async fn csat(
        &self,
        conversation_id: &str,
    ) -> Result<Option<(u8, Option<String>)>, StorageError> {
        let row: Option<(Option<i64>, Option<String>)> =
            sqlx::query_as("SELECT csat_score, csat_comment FROM conversations WHERE id = $1")
                .bind(conversation_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.and_then(|(score, comment)| Some((u8::try_from(score?).unwrap_or(0), comment))))
    }

    /// Adds an internal note; returns it as agents see it.
    pub async fn add_note(
        &self,
        conversation_id: &str,
        agent_id: &str,
        text: &str,
    ) -> Result<Note, StorageError> {
        let now = self.clock.now_ms();
        sqlx::query(
            "INSERT INTO notes (id, conversation_id, agent_id, text, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(conversation_id)
        .bind(agent_id)
        .bind(text)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let agent_name: String = sqlx::query_scalar("SELECT name FROM agents WHERE id = $1")
            .bind(agent_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(Note {
            agent_name,
            text: text.to_owned(),
            created_at: now,
        })
    }

    /// A conversation's notes, oldest first.
    pub async fn notes(&self, conversation_id: &str) -> Result<Vec<Note>, StorageError> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT a.name, n.text, n.created_at FROM notes AS n JOIN agents AS a \
             ON a.id = n.agent_id WHERE n.conversation_id = $1 ORDER BY n.created_at, n.id",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(agent_name, text, created_at)| Note {
                agent_name,
                text,
                created_at,
            })
            .collect())
    }

    /// Feedback on a conversation's answers: seq → helpful.
    pub async fn feedback(
        &self,
        conversation_id: &str,
    ) -> Result<HashMap<u64, bool>, StorageError> {
        // `helpful` as 0/1: see `store::flag`.
        let rows: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT seq, CASE WHEN helpful THEN 1 ELSE 0 END FROM feedback \
             WHERE conversation_id = $1",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(seq, helpful)| (u64::try_from(seq).unwrap_or(0), helpful != 0))
            .collect())
    }

    /// A known customer's other conversations, newest first: (id, created_at, state).
    pub async fn customer_history(
        &self,
        customer_id: &str,
        except: &str,
    ) -> Result<Vec<(String, i64, String)>, StorageError> {
        Ok(sqlx::query_as(
            "SELECT id, created_at, state FROM conversations WHERE customer_id = $1 AND id <> $2 \
             ORDER BY created_at DESC LIMIT 20",
        )
        .bind(customer_id)
        .bind(except)
        .fetch_all(&self.pool)
        .await?)
    }
}

impl Store {
    /// The median handling time (resolved − taken, in seconds) of the latest `n` conversations
    /// resolved from `queue`; `None` before any was.
    pub async fn median_handling_secs(
        &self,
        queue: &str,
        n: u32,
    ) -> Result<Option<u64>, StorageError> {
        let mut times: Vec<i64> = sqlx::query_scalar(
            "SELECT resolved_at - assigned_at FROM conversations \
             WHERE queue = $1 AND resolved_at IS NOT NULL AND assigned_at IS NOT NULL \
             ORDER BY resolved_at DESC LIMIT $2",
        )
        .bind(queue)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        if times.is_empty() {
            return Ok(None);
        }
        times.sort_unstable();
        let median = times[times.len() / 2].max(0);
        Ok(Some(u64::try_from(median / 1000).unwrap_or(0)))
    }
}
