//! Offline tickets: what a customer left when no agent could take the conversation. The email
//! arrives and leaves sealed (see [`super::seal`]); this layer never sees it in clear.

use super::{StorageError, Store};

/// A ticket as stored, its email still sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Random id.
    pub id: String,
    /// The conversation it came from (its transcript is the context).
    pub conversation_id: String,
    /// The queue the conversation waited in.
    pub queue: String,
    /// The contact email, sealed.
    pub email_sealed: String,
    /// The customer's message.
    pub text: String,
    /// `open` or `done`.
    pub status: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

impl Store {
    /// Stores a ticket; returns its id.
    pub async fn add_ticket(
        &self,
        conversation_id: &str,
        queue: &str,
        email_sealed: &str,
        text: &str,
    ) -> Result<String, StorageError> {
        let id = uuid::Uuid::new_v4().to_string();
        sqlx::query(
            "INSERT INTO tickets (id, conversation_id, queue, email_sealed, text, status, \
             created_at) VALUES ($1, $2, $3, $4, $5, 'open', $6)",
        )
        .bind(&id)
        .bind(conversation_id)
        .bind(queue)
        .bind(email_sealed)
        .bind(text)
        .bind(self.clock.now_ms())
        .execute(&self.pool)
        .await?;
        Ok(id)
    }

    /// Open tickets, oldest first.
    pub async fn open_tickets(&self) -> Result<Vec<Ticket>, StorageError> {
        let rows: Vec<(String, String, String, String, String, String, i64)> = sqlx::query_as(
            "SELECT id, conversation_id, queue, email_sealed, text, status, created_at \
             FROM tickets WHERE status = 'open' ORDER BY created_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, conversation_id, queue, email_sealed, text, status, created_at)| Ticket {
                    id,
                    conversation_id,
                    queue,
                    email_sealed,
                    text,
                    status,
                    created_at,
                },
            )
            .collect())
    }
}
