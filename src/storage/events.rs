//! The event log: appending numbered events to a conversation and reading them back.

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::store::{seq_from_db, seq_to_db};
use super::{Appended, NewEvent, Sender, StorageError, Store, StoredEvent};

macro_rules! event_columns {
    () => {
        "conversation_id, seq, sender, client_id, kind, text, frame, intent, confidence, faq_id, \
         decision, reason, created_at"
    };
}

impl Store {
    /// Appends an event with the conversation's next sequence number; durable when this returns.
    pub async fn append(
        &self,
        conversation_id: &str,
        event: NewEvent,
    ) -> Result<StoredEvent, StorageError> {
        let mut tx = self.begin_write().await?;
        let stored = insert_event(
            &mut tx,
            self.clock.now_ms(),
            conversation_id,
            None,
            None,
            event,
        )
        .await?
        .ok_or_else(|| {
            // Without a client id there is nothing the insert could conflict on.
            StorageError::Corrupt("an event without client id conflicted".to_owned())
        })?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Appends the bot's answer to the customer message at seq `turn`, only if that message is
    /// still the conversation's last event and the bot still serves it: two connections
    /// answering the same message (two tabs resuming, or a crash and a resume racing) store one
    /// answer, and the other gets [`StorageError::TurnTaken`], with nothing stored.
    pub async fn append_turn(
        &self,
        conversation_id: &str,
        turn: u64,
        event: NewEvent,
    ) -> Result<StoredEvent, StorageError> {
        let mut tx = self.begin_write().await?;
        let now = self.clock.now_ms();
        let stored = insert_event(&mut tx, now, conversation_id, None, Some(turn), event)
            .await?
            .ok_or_else(|| StorageError::Corrupt("a bot event conflicted".to_owned()))?;
        tx.commit().await?;
        Ok(stored)
    }

    /// Appends a customer message (sender [`Sender::Customer`]) unless one with the same
    /// `client_id` is already stored, in which case nothing is stored and its seq is returned.
    pub async fn append_customer_message(
        &self,
        conversation_id: &str,
        client_id: &str,
        event: NewEvent,
    ) -> Result<Appended, StorageError> {
        let mut tx = self.begin_write().await?;
        match insert_event(
            &mut tx,
            self.clock.now_ms(),
            conversation_id,
            Some(client_id),
            None,
            event,
        )
        .await?
        {
            Some(stored) => {
                tx.commit().await?;
                Ok(Appended::New(stored))
            }
            None => {
                // Undo the seq bump: the conversation's sequence must stay without gaps.
                tx.rollback().await?;
                let seq: i64 = sqlx::query_scalar(
                    "SELECT seq FROM messages WHERE conversation_id = $1 AND client_id = $2",
                )
                .bind(conversation_id)
                .bind(client_id)
                .fetch_one(&self.pool)
                .await?;
                Ok(Appended::Duplicate(seq_from_db(seq)))
            }
        }
    }

    /// Every event with a seq greater than `after_seq`, in order: what a resuming client missed.
    pub async fn events_after(
        &self,
        conversation_id: &str,
        after_seq: u64,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM messages WHERE conversation_id = $1 AND seq > $2 ORDER BY seq"
        ))
        .bind(conversation_id)
        .bind(seq_to_db(after_seq))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// The last `n` customer events, oldest first (for repeat detection).
    pub async fn recent_customer_messages(
        &self,
        conversation_id: &str,
        n: u32,
    ) -> Result<Vec<StoredEvent>, StorageError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM messages WHERE conversation_id = $1 AND sender = 'customer' \
             ORDER BY seq DESC LIMIT $2"
        ))
        .bind(conversation_id)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        let mut events = rows
            .iter()
            .map(event_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        events.reverse();
        Ok(events)
    }

    /// The bot's latest decisions in a conversation (at most `n`), oldest first, each with the
    /// FAQ entry it answered with: what the policy's memory is rebuilt from on resume.
    pub async fn bot_decisions(
        &self,
        conversation_id: &str,
        n: u32,
    ) -> Result<Vec<(String, Option<String>)>, StorageError> {
        let mut rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT decision, faq_id FROM messages \
             WHERE conversation_id = $1 AND sender = 'bot' AND decision IS NOT NULL \
             ORDER BY seq DESC LIMIT $2",
        )
        .bind(conversation_id)
        .bind(i64::from(n))
        .fetch_all(&self.pool)
        .await?;
        rows.reverse();
        Ok(rows)
    }

    /// The FAQ entries answered with most often since `since_ms`, most often first (ties by
    /// id, so the order is stable), at most `limit`.
    pub async fn most_answered(
        &self,
        since_ms: i64,
        limit: u32,
    ) -> Result<Vec<String>, StorageError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT faq_id FROM messages \
             WHERE decision = 'answer' AND faq_id IS NOT NULL AND created_at >= $1 \
             GROUP BY faq_id ORDER BY COUNT(*) DESC, faq_id LIMIT $2",
        )
        .bind(since_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(ids)
    }

    /// The seq of the conversation's latest handoff, if it had one.
    pub async fn last_handoff_seq(
        &self,
        conversation_id: &str,
    ) -> Result<Option<u64>, StorageError> {
        let seq: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(seq) FROM messages WHERE conversation_id = $1 AND decision = 'handoff'",
        )
        .bind(conversation_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(seq.map(seq_from_db))
    }

    /// The seqs of the answers in a conversation the customer marked not helpful, in order.
    pub async fn unhelpful_answers(&self, conversation_id: &str) -> Result<Vec<u64>, StorageError> {
        let seqs: Vec<i64> = sqlx::query_scalar(
            "SELECT seq FROM feedback WHERE conversation_id = $1 AND NOT helpful ORDER BY seq",
        )
        .bind(conversation_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(seqs.into_iter().map(seq_from_db).collect())
    }
}

/// Takes the next seq and inserts the event; `None` (with the transaction to roll back) when
/// `client_id` is already stored for this conversation. With a `turn`, the seq is taken only if
/// the conversation's last seq is still `turn` and the bot serves it
/// ([`StorageError::TurnTaken`] otherwise).
async fn insert_event(
    tx: &mut Transaction<'static, Any>,
    now: i64,
    conversation_id: &str,
    client_id: Option<&str>,
    turn: Option<u64>,
    event: NewEvent,
) -> Result<Option<StoredEvent>, StorageError> {
    let NewEvent {
        sender,
        mut frame,
        text,
        intent,
        confidence,
        faq_id,
        decision,
        reason,
    } = event;
    let kind = frame
        .get("type")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| StorageError::InvalidFrame(truncated(&frame.to_string())))?;
    let seq: Option<i64> = sqlx::query_scalar(
        "UPDATE conversations SET last_seq = last_seq + 1, updated_at = $2 \
         WHERE id = $1 AND ($3 IS NULL OR (last_seq = $3 AND state = 'bot')) RETURNING last_seq",
    )
    .bind(conversation_id)
    .bind(now)
    .bind(turn.map(seq_to_db))
    .fetch_optional(&mut **tx)
    .await?;
    let seq = seq.ok_or_else(|| match turn {
        Some(_) => StorageError::TurnTaken(conversation_id.to_owned()),
        None => StorageError::UnknownConversation(conversation_id.to_owned()),
    })?;
    let Some(fields) = frame.as_object_mut() else {
        return Err(StorageError::InvalidFrame(truncated(&frame.to_string())));
    };
    fields.insert("seq".to_owned(), seq.into());
    let frame = frame.to_string();
    let inserted = sqlx::query(
        "INSERT INTO messages (conversation_id, seq, sender, client_id, kind, text, frame, intent, \
         confidence, faq_id, decision, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CAST($9 AS DOUBLE PRECISION), $10, $11, $12, \
         $13) \
         ON CONFLICT (conversation_id, client_id) DO NOTHING",
    )
    .bind(conversation_id)
    .bind(seq)
    .bind(sender.as_str())
    .bind(client_id)
    .bind(&kind)
    .bind(&text)
    .bind(&frame)
    .bind(&intent)
    // As text: sqlx 0.8's Any driver binds a missing f64 as a PostgreSQL float4 (its null
    // mapping swaps the two float types), and a statement prepared with a float4 parameter then
    // refuses the next real f64. Rust prints an f64 with the digits that parse back to it.
    .bind(confidence.map(|c| c.to_string()))
    .bind(&faq_id)
    .bind(&decision)
    .bind(&reason)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    Ok(Some(StoredEvent {
        conversation_id: conversation_id.to_owned(),
        seq: seq_from_db(seq),
        sender,
        client_id: client_id.map(str::to_owned),
        kind,
        text,
        frame,
        intent,
        confidence,
        faq_id,
        decision,
        reason,
        created_at: now,
    }))
}
fn event_from_row(row: &AnyRow) -> Result<StoredEvent, StorageError> {
    Ok(StoredEvent {
        conversation_id: row.try_get("conversation_id")?,
        seq: seq_from_db(row.try_get("seq")?),
        sender: row.try_get::<&str, _>("sender")?.parse::<Sender>()?,
        client_id: row.try_get("client_id")?,
        kind: row.try_get("kind")?,
        text: row.try_get("text")?,
        frame: row.try_get("frame")?,
        intent: row.try_get("intent")?,
        confidence: row.try_get("confidence")?,
        faq_id: row.try_get("faq_id")?,
        decision: row.try_get("decision")?,
        reason: row.try_get("reason")?,
        created_at: row.try_get("created_at")?,
    })
}
fn truncated(text: &str) -> String {
    const MAX: usize = 120;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}
