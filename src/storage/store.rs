//! [`Store`]: the connection pool (opened in `connect.rs`), conversations and feedback. The
//! event log's queries are in `events.rs`.
//!
//! Queries are plain `sqlx::query` with binds rather than the compile-time checked macros, so
//! that building never needs a database at hand.

use std::path::Path;

use base64::Engine;
use sha2::{Digest, Sha256};
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Conversation, ConversationState, NewConversation, StorageError};
use crate::clock::Clock;
use crate::knowledge::Priority;

/// Bytes of randomness in a resume token: 256 bits, beyond guessing.
const TOKEN_BYTES: usize = 32;

/// The rank stored for a priority (see `migrations/0002_queue.sql`): higher goes first.
pub(super) fn priority_rank(priority: Priority) -> i64 {
    match priority {
        Priority::Low => 0,
        Priority::Normal => 1,
        Priority::High => 2,
        Priority::Urgent => 3,
    }
}

fn priority_from_rank(rank: i64) -> Result<Priority, StorageError> {
    match rank {
        0 => Ok(Priority::Low),
        1 => Ok(Priority::Normal),
        2 => Ok(Priority::High),
        3 => Ok(Priority::Urgent),
        other => Err(StorageError::Corrupt(format!("priority rank {other}"))),
    }
}

macro_rules! conversation_columns {
    () => {
        "id, customer_id, customer_attributes, locale, page_url, state, handoff_reason, last_seq, \
         created_at, updated_at, closed_at, queue, priority, queued_at, lang"
    };
}

/// Creates the data folder if missing and makes it private to the server's user (0700 on
/// Unix): the database holds transcripts and hashed secrets, so no other local user should
/// read it.
pub fn private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Creates `path` empty if missing and makes it readable by its owner only (0600 on Unix).
/// SQLite creates its `-wal` and `-shm` files with the database file's permissions, so an 0600
/// database keeps them 0600 too; files from before this rule are tightened here.
pub(super) fn private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// The conversation store. Cheap to clone: every clone shares one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pub(super) pool: AnyPool,
    /// The PostgreSQL URL, for the notification listener (which holds a connection of its own);
    /// `None` on SQLite (see [`Store::backend`]).
    pub(super) postgres_url: Option<std::sync::Arc<str>>,
    /// Where every timestamp the store writes comes from.
    pub(super) clock: Clock,
}

impl Store {
    /// The same store, stamping times from `clock` (the server's, which tests advance).
    pub fn with_clock(self, clock: Clock) -> Store {
        Store { clock, ..self }
    }

    /// The clock the store stamps times with.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Closes every connection, waiting for queries in flight.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a conversation; returns it with its resume token. Only the token's hash is stored,
    /// so this is the one chance to hand the token to the customer.
    pub async fn create_conversation(
        &self,
        new: NewConversation,
    ) -> Result<(Conversation, String), StorageError> {
        let token = new_resume_token()?;
        let attributes = new
            .customer_attributes
            .as_ref()
            .map(serde_json::Value::to_string);
        let now = self.clock.now_ms();
        let row = sqlx::query(concat!(
            "INSERT INTO conversations (id, resume_token_hash, customer_id, customer_attributes, \
             locale, page_url, state, last_seq, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'bot', 0, $7, $7) RETURNING ",
            conversation_columns!()
        ))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(token_hash(&token))
        .bind(&new.customer_id)
        .bind(attributes)
        .bind(&new.locale)
        .bind(&new.page_url)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok((conversation_from_row(&row)?, token))
    }

    /// The conversation a resume token belongs to, if any.
    pub async fn conversation_by_token(
        &self,
        token: &str,
    ) -> Result<Option<Conversation>, StorageError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            conversation_columns!(),
            " FROM conversations WHERE resume_token_hash = $1"
        ))
        .bind(token_hash(token))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    /// The conversation with this id, if any.
    pub async fn conversation(&self, id: &str) -> Result<Option<Conversation>, StorageError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            conversation_columns!(),
            " FROM conversations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(conversation_from_row).transpose()
    }

    /// Moves a conversation to `state`. `reason` (a `HandoffReason` name) is recorded when given
    /// and kept through later states (queued → agent), and cleared when the bot takes over again.
    pub async fn set_state(
        &self,
        conversation_id: &str,
        state: ConversationState,
        reason: Option<&str>,
    ) -> Result<Conversation, StorageError> {
        let row = sqlx::query(concat!(
            "UPDATE conversations SET state = $2, \
             handoff_reason = \
                 CASE WHEN $2 = 'bot' THEN NULL ELSE COALESCE($3, handoff_reason) END, \
             closed_at = CASE WHEN $2 = 'closed' THEN COALESCE(closed_at, $4) ELSE NULL END, \
             updated_at = $4 \
             WHERE id = $1 RETURNING ",
            conversation_columns!()
        ))
        .bind(conversation_id)
        .bind(state.as_str())
        .bind(reason)
        .bind(self.clock.now_ms())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => conversation_from_row(&row),
            None => Err(StorageError::UnknownConversation(
                conversation_id.to_owned(),
            )),
        }
    }

    /// Records a verified identity on a conversation that has none yet (the customer signed in
    /// after it began); an identified conversation keeps the identity it has.
    pub async fn identify(
        &self,
        conversation_id: &str,
        customer_id: Option<&str>,
        attributes: &serde_json::Value,
    ) -> Result<Conversation, StorageError> {
        let row = sqlx::query(concat!(
            "UPDATE conversations SET \
             customer_id = COALESCE(customer_id, $2), \
             customer_attributes = CASE WHEN customer_id IS NULL THEN $3 \
                                        ELSE customer_attributes END, \
             updated_at = $4 \
             WHERE id = $1 RETURNING ",
            conversation_columns!()
        ))
        .bind(conversation_id)
        .bind(customer_id)
        .bind(attributes.to_string())
        .bind(self.clock.now_ms())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => conversation_from_row(&row),
            None => Err(StorageError::UnknownConversation(
                conversation_id.to_owned(),
            )),
        }
    }

    /// Records the language the customer now writes in (what the server writes to them in).
    pub async fn set_language(
        &self,
        conversation_id: &str,
        lang: &str,
    ) -> Result<(), StorageError> {
        sqlx::query("UPDATE conversations SET lang = $2 WHERE id = $1")
            .bind(conversation_id)
            .bind(lang)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records helpful / not helpful on the event `seq`; a second vote replaces the first.
    pub async fn record_feedback(
        &self,
        conversation_id: &str,
        seq: u64,
        helpful: bool,
    ) -> Result<(), StorageError> {
        let result = sqlx::query(
            "INSERT INTO feedback (conversation_id, seq, helpful, created_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (conversation_id, seq) \
             DO UPDATE SET helpful = excluded.helpful, created_at = excluded.created_at",
        )
        .bind(conversation_id)
        .bind(seq_to_db(seq))
        .bind(helpful)
        .bind(self.clock.now_ms())
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StorageError::UnknownEvent {
                    conversation_id: conversation_id.to_owned(),
                    seq,
                })
            }
            Err(e) => Err(e.into()),
        }
    }
}

fn conversation_from_row(row: &AnyRow) -> Result<Conversation, StorageError> {
    let attributes: Option<String> = row.try_get("customer_attributes")?;
    let customer_attributes = attributes
        .map(|text| serde_json::from_str(&text))
        .transpose()
        .map_err(|e| StorageError::Corrupt(format!("customer_attributes: {e}")))?;
    Ok(Conversation {
        id: row.try_get("id")?,
        customer_id: row.try_get("customer_id")?,
        customer_attributes,
        locale: row.try_get("locale")?,
        page_url: row.try_get("page_url")?,
        state: row.try_get::<&str, _>("state")?.parse()?,
        handoff_reason: row.try_get("handoff_reason")?,
        last_seq: seq_from_db(row.try_get("last_seq")?),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
        closed_at: row.try_get("closed_at")?,
        queue: row.try_get("queue")?,
        priority: priority_from_rank(row.try_get("priority")?)?,
        queued_at: row.try_get("queued_at")?,
        lang: row.try_get("lang")?,
    })
}

/// A yes/no column computed as `CASE WHEN ... THEN 1 ELSE 0 END`. Flags are selected as
/// integers because SQLite has no boolean type (its `BOOLEAN` columns hold 0 and 1, which sqlx's
/// `Any` driver refuses to read as booleans) while PostgreSQL's are real booleans: an integer
/// reads the same from both.
pub(super) fn flag(row: &AnyRow, column: &str) -> Result<bool, StorageError> {
    Ok(row.try_get::<i64, _>(column)? != 0)
}

/// A fresh resume token: 32 random bytes from the OS, base64url without padding (43 characters).
fn new_resume_token() -> Result<String, StorageError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(StorageError::Random)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored instead of the token. A plain SHA-256 suffices (no salt, no slow hash): the
/// token has 256 bits of entropy, so there is nothing to brute-force, and lookups stay indexed.
pub(super) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The schema checks `seq >= 1` and `last_seq >= 0`, so the conversions below never clamp in
/// practice; they exist because SQLite integers are signed and the protocol's are not.
pub(super) fn seq_from_db(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

pub(super) fn seq_to_db(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}
