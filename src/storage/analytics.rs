//! The rows analytics are computed from, for conversations started (or events stored) in a
//! time range `[from, to)` in ms since the epoch. Portable SQL: no date functions (hours of the
//! day are integer arithmetic on the millisecond timestamps, in UTC). Yes/no columns are
//! computed as 0/1 integers (see [`flag`]).

use sqlx::Row;

use super::store::flag;

use super::{StorageError, Store};

/// One conversation started in the range, with what happened in it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationFacts {
    /// When it started.
    pub created_at: i64,
    /// The customer wrote at least once (an opened widget alone is not a conversation).
    pub engaged: bool,
    /// The bot handed it off at least once.
    pub handed_off: bool,
    /// The customer marked an answer not helpful.
    pub unhelpful: bool,
    /// The latest handoff's start, its claim, first agent reply and resolution.
    pub queued_at: Option<i64>,
    /// When an agent took it (claim, assignment or transfer to them): the latest agent.
    pub assigned_at: Option<i64>,
    /// When the first agent took the latest handoff (kept across transfers).
    pub first_assigned_at: Option<i64>,
    /// How long the customer waited in queues during the latest handoff, transfers included
    /// (absent for conversations stored before it was recorded, and for those nobody took).
    pub waited_ms: Option<i64>,
    /// When the SLA clock of the latest handoff started.
    pub sla_started_at: Option<i64>,
    /// The first agent reply of the latest handoff.
    pub first_agent_reply_at: Option<i64>,
    /// When an agent resolved it.
    pub resolved_at: Option<i64>,
    /// The customer's rating, 1–5.
    pub csat: Option<i64>,
}

/// How often an FAQ entry answered in the range, and the votes on those answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaqUse {
    /// The entry.
    pub faq_id: String,
    /// Answers given with it.
    pub answers: i64,
    /// Of which voted helpful.
    pub helpful: i64,
    /// Of which voted not helpful.
    pub unhelpful: i64,
}

/// A customer or bot event, for finding what the bot could not answer.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnEvent {
    /// The conversation.
    pub conversation_id: String,
    /// Customer or bot.
    pub from_customer: bool,
    /// The customer's text.
    pub text: Option<String>,
    /// The bot's decision (`answer`, `fallback`, `clarify`, `handoff`...).
    pub decision: Option<String>,
    /// The handoff reason.
    pub reason: Option<String>,
    /// Whether a customer event was a button (`choose`), from its stored frame.
    pub choice: bool,
    /// The customer's vote on a bot answer.
    pub helpful: Option<bool>,
}

impl Store {
    /// Every conversation started in `[from, to)`.
    pub async fn conversation_facts(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<ConversationFacts>, StorageError> {
        let rows = sqlx::query(
            "SELECT c.created_at, c.queued_at, c.assigned_at, \
             COALESCE(c.first_assigned_at, c.assigned_at) AS first_assigned_at, c.waited_ms, \
             COALESCE(c.sla_started_at, c.queued_at) AS sla_started_at, \
             c.first_agent_reply_at, c.resolved_at, c.csat_score, \
             CASE WHEN EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id \
                 AND m.sender = 'customer') THEN 1 ELSE 0 END AS engaged, \
             CASE WHEN EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id \
                 AND m.decision = 'handoff') THEN 1 ELSE 0 END AS handed_off, \
             CASE WHEN EXISTS (SELECT 1 FROM feedback f WHERE f.conversation_id = c.id \
                 AND f.helpful = FALSE) THEN 1 ELSE 0 END AS unhelpful \
             FROM conversations AS c WHERE c.created_at >= $1 AND c.created_at < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ConversationFacts {
                    created_at: row.try_get("created_at")?,
                    engaged: flag(row, "engaged")?,
                    handed_off: flag(row, "handed_off")?,
                    unhelpful: flag(row, "unhelpful")?,
                    queued_at: row.try_get("queued_at")?,
                    assigned_at: row.try_get("assigned_at")?,
                    first_assigned_at: row.try_get("first_assigned_at")?,
                    waited_ms: row.try_get("waited_ms")?,
                    sla_started_at: row.try_get("sla_started_at")?,
                    first_agent_reply_at: row.try_get("first_agent_reply_at")?,
                    resolved_at: row.try_get("resolved_at")?,
                    csat: row.try_get("csat_score")?,
                })
            })
            .collect()
    }

    /// Handoffs in `[from, to)` by reason, most frequent first.
    pub async fn handoff_reasons(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64)>, StorageError> {
        self.counts(
            "SELECT COALESCE(reason, 'unknown') AS r, COUNT(*) AS n FROM messages \
             WHERE decision = 'handoff' AND created_at >= $1 AND created_at < $2 \
             GROUP BY r ORDER BY n DESC, r",
            from,
            to,
        )
        .await
    }

    /// FAQ entries answered with in `[from, to)`, most used first, with the votes.
    pub async fn faq_use(&self, from: i64, to: i64) -> Result<Vec<FaqUse>, StorageError> {
        let rows: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT m.faq_id, COUNT(*) AS n, \
             COALESCE(SUM(CASE WHEN f.helpful = TRUE THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN f.helpful = FALSE THEN 1 ELSE 0 END), 0) \
             FROM messages AS m LEFT JOIN feedback AS f \
                 ON f.conversation_id = m.conversation_id AND f.seq = m.seq \
             WHERE m.decision = 'answer' AND m.faq_id IS NOT NULL \
                 AND m.created_at >= $1 AND m.created_at < $2 \
             GROUP BY m.faq_id ORDER BY n DESC, m.faq_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(faq_id, answers, helpful, unhelpful)| FaqUse {
                faq_id,
                answers,
                helpful,
                unhelpful,
            })
            .collect())
    }

    /// Intents the bot recognised in customer messages of `[from, to)`, most frequent first:
    /// those it acted on (answered, replied to, or handed off for). A message it did not
    /// understand (a fallback, a question back, a handoff after misses) also stores the model's
    /// best guess, for agents, but that guess is not a recognised intent.
    pub async fn intent_counts(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64)>, StorageError> {
        self.counts(
            "SELECT intent, COUNT(*) AS n FROM messages WHERE sender = 'bot' \
             AND intent IS NOT NULL AND created_at >= $1 AND created_at < $2 \
             AND (decision IN ('answer', 'reply') \
                 OR (decision = 'handoff' AND reason IN ('intent', 'customer_request'))) \
             GROUP BY intent ORDER BY n DESC, intent",
            from,
            to,
        )
        .await
    }

    /// Customer messages of `[from, to)` per hour of the day (UTC, 0–23).
    pub async fn messages_by_hour(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, i64)>, StorageError> {
        Ok(sqlx::query_as(
            "SELECT (created_at / 3600000) % 24 AS h, COUNT(*) FROM messages \
             WHERE sender = 'customer' AND created_at >= $1 AND created_at < $2 \
             GROUP BY h ORDER BY h",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    /// SLA breaches falling due in `[from, to)`, by kind.
    pub async fn breach_counts(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64)>, StorageError> {
        self.counts(
            "SELECT kind, COUNT(*) FROM sla_breaches WHERE due_at >= $1 AND due_at < $2 \
             GROUP BY kind",
            from,
            to,
        )
        .await
    }

    /// Runs a `(name, count)` query over `[from, to)` (bound as `$1`, `$2`).
    async fn counts(
        &self,
        sql: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64)>, StorageError> {
        Ok(sqlx::query_as(sql)
            .bind(from)
            .bind(to)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Customer and bot events of `[from, to)` in conversation order, for the unanswered list.
    pub async fn turn_events(&self, from: i64, to: i64) -> Result<Vec<TurnEvent>, StorageError> {
        let rows = sqlx::query(
            "SELECT m.conversation_id, m.sender, m.text, m.decision, m.reason, \
             CASE WHEN m.sender = 'customer' AND m.frame LIKE '%\"choice_id\"%' \
                 THEN 1 ELSE 0 END AS choice, \
             CASE WHEN f.helpful IS NULL THEN NULL WHEN f.helpful THEN 1 ELSE 0 END AS helpful \
             FROM messages AS m LEFT JOIN feedback AS f \
                 ON f.conversation_id = m.conversation_id AND f.seq = m.seq \
             WHERE m.sender IN ('customer', 'bot') AND m.created_at >= $1 AND m.created_at < $2 \
             ORDER BY m.conversation_id, m.seq",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let sender: String = row.try_get("sender")?;
                Ok(TurnEvent {
                    conversation_id: row.try_get("conversation_id")?,
                    from_customer: sender == "customer",
                    text: row.try_get("text")?,
                    decision: row.try_get("decision")?,
                    reason: row.try_get("reason")?,
                    choice: flag(row, "choice")?,
                    helpful: row.try_get::<Option<i64>, _>("helpful")?.map(|v| v != 0),
                })
            })
            .collect()
    }
}
