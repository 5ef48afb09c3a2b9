//! What several nodes on one PostgreSQL share besides conversations: notifications between
//! them (`LISTEN`/`NOTIFY`), which nodes are up and what knowledge each serves, the agent
//! consoles each holds, and locks that let one node act where all of them look (the watchdog).
//!
//! On SQLite (one node) notifications go nowhere and the locks are always granted: SQLite's
//! `BEGIN IMMEDIATE` already serialises writers, and the watchdog's writes are conditional.

use sqlx::Any;
use sqlx::Row;
use sqlx::Transaction;
use sqlx::postgres::PgListener;

use super::connect::Backend;
use super::store::flag;
use super::{StorageError, Store};

/// The channel every node listens on; payloads are the hub's relayed news (JSON, < 8000 bytes).
pub const CHANNEL: &str = "tandem_news";

/// A console as its node's heartbeat records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleRecord {
    /// The console's number on its node.
    pub console: u64,
    /// Whose it is.
    pub agent_id: String,
    /// The agent's queues.
    pub skills: Vec<String>,
    /// Online rather than away.
    pub online: bool,
}

/// A node that is up (its heartbeat has not expired).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NodeRecord {
    /// The node's id (fresh at every start).
    pub id: String,
    /// The knowledge version it serves.
    pub knowledge_version: Option<String>,
    /// When it started (ms since the epoch).
    pub started_at: i64,
    /// Its latest heartbeat (ms since the epoch).
    pub seen_at: i64,
}

/// Work that one node does for all of them; taken with [`Store::try_exclusive`] or
/// [`Store::wait_exclusive`].
#[derive(Debug, Clone, Copy)]
pub enum Duty {
    /// The once-a-second watchdog pass (timeouts, SLA breaches).
    Watchdog = 1,
    /// Auto-assignment of waiting conversations.
    Assignment = 2,
}

/// A held [`Duty`]: released when dropped (the transaction holding the lock rolls back).
#[derive(Debug)]
pub struct Exclusive {
    _held: Option<Transaction<'static, Any>>,
}

/// The notifications of the other nodes, as they arrive.
pub struct Listener {
    inner: PgListener,
}

/// What [`Listener::next`] heard.
#[derive(Debug)]
pub enum Heard {
    /// A payload on [`CHANNEL`].
    Payload(String),
    /// The connection dropped and was made again: anything sent meanwhile is lost, so
    /// whoever listens catches up from the store.
    Reconnected,
}

impl Listener {
    /// Waits for the next notification; errors when the server cannot be reached (the caller
    /// waits and asks again, which reconnects).
    pub async fn next(&mut self) -> Result<Heard, StorageError> {
        Ok(match self.inner.try_recv().await? {
            Some(notification) => Heard::Payload(notification.payload().to_owned()),
            None => Heard::Reconnected,
        })
    }
}

impl Store {
    /// Listens to the other nodes; `None` on SQLite, where there are none.
    pub async fn listen(&self) -> Result<Option<Listener>, StorageError> {
        let Some(url) = &self.postgres_url else {
            return Ok(None);
        };
        let mut inner = PgListener::connect(url).await?;
        inner.listen(CHANNEL).await?;
        Ok(Some(Listener { inner }))
    }

    /// Sends `payload` to every node listening (this one included); nothing on SQLite.
    pub async fn notify(&self, payload: &str) -> Result<(), StorageError> {
        if self.backend() == Backend::Postgres {
            // Wrapped: sqlx's Any driver cannot read a `void` column.
            sqlx::query("SELECT 1 FROM (SELECT pg_notify($1, $2)) AS sent")
                .bind(CHANNEL)
                .bind(payload)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    /// Takes `duty` for this node if no other node holds it now (PostgreSQL: a transaction-level
    /// advisory lock); `None` when another does. Always granted on SQLite.
    pub async fn try_exclusive(&self, duty: Duty) -> Result<Option<Exclusive>, StorageError> {
        self.exclusive(
            duty,
            "SELECT CASE WHEN pg_try_advisory_xact_lock($1) THEN 1 ELSE 0 END",
        )
        .await
    }

    /// Takes `duty` for this node once no other node holds it.
    pub async fn wait_exclusive(&self, duty: Duty) -> Result<Exclusive, StorageError> {
        // `pg_advisory_xact_lock` returns once held; the 1 is only for sqlx's Any driver, which
        // cannot read a `void` column.
        let held = self
            .exclusive(
                duty,
                "SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS taken",
            )
            .await?;
        held.ok_or_else(|| StorageError::Corrupt("a waited-for lock was not taken".to_owned()))
    }

    /// Runs `sql` (1 when the lock on `duty` is held) in a transaction that then holds it.
    async fn exclusive(&self, duty: Duty, sql: &str) -> Result<Option<Exclusive>, StorageError> {
        if self.backend() != Backend::Postgres {
            return Ok(Some(Exclusive { _held: None }));
        }
        let mut tx = self.pool.begin().await?;
        // The key: tandem's duties live at 0x74616e64 ("tand") + n, away from other users'.
        let key = 0x7461_6e64_0000_i64 + duty as i64;
        let held: i64 = sqlx::query_scalar(sql)
            .bind(key)
            .fetch_one(&mut *tx)
            .await?;
        Ok((held == 1).then(|| Exclusive { _held: Some(tx) }))
    }

    /// Records this node's heartbeat: it is up, serves `knowledge_version`, holds `consoles`,
    /// and should be forgotten if not heard from again by `expires_at` (ms since the epoch).
    pub async fn heartbeat(
        &self,
        node_id: &str,
        started_at: i64,
        now: i64,
        expires_at: i64,
        knowledge_version: &str,
        consoles: &[ConsoleRecord],
    ) -> Result<(), StorageError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO nodes (id, knowledge_version, started_at, seen_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
             knowledge_version = excluded.knowledge_version, seen_at = excluded.seen_at, \
             expires_at = excluded.expires_at",
        )
        .bind(node_id)
        .bind(knowledge_version)
        .bind(started_at)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM presence WHERE node_id = $1 OR expires_at < $2")
            .bind(node_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        for console in consoles {
            let skills = serde_json::to_string(&console.skills)
                .map_err(|e| StorageError::Corrupt(format!("skills: {e}")))?;
            sqlx::query(
                "INSERT INTO presence (node_id, console, agent_id, skills, online, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(node_id)
            .bind(i64::try_from(console.console).unwrap_or(i64::MAX))
            .bind(&console.agent_id)
            .bind(skills)
            .bind(console.online)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM nodes WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The consoles other nodes hold, by their latest heartbeats before they expire.
    pub async fn remote_consoles(
        &self,
        node_id: &str,
        now: i64,
    ) -> Result<Vec<ConsoleRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT console, agent_id, skills, CASE WHEN online THEN 1 ELSE 0 END AS online \
             FROM presence WHERE node_id <> $1 AND expires_at >= $2 ORDER BY node_id, console",
        )
        .bind(node_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let skills: String = row.try_get("skills")?;
                Ok(ConsoleRecord {
                    console: u64::try_from(row.try_get::<i64, _>("console")?).unwrap_or(0),
                    agent_id: row.try_get("agent_id")?,
                    skills: serde_json::from_str(&skills)
                        .map_err(|e| StorageError::Corrupt(format!("skills {skills:?}: {e}")))?,
                    online: flag(row, "online")?,
                })
            })
            .collect()
    }

    /// The nodes that are up, oldest first.
    pub async fn nodes(&self, now: i64) -> Result<Vec<NodeRecord>, StorageError> {
        let rows = sqlx::query(
            "SELECT id, knowledge_version, started_at, seen_at FROM nodes \
             WHERE expires_at >= $1 ORDER BY started_at, id",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(NodeRecord {
                    id: row.try_get("id")?,
                    knowledge_version: row.try_get("knowledge_version")?,
                    started_at: row.try_get("started_at")?,
                    seen_at: row.try_get("seen_at")?,
                })
            })
            .collect()
    }

    /// Forgets a node that is shutting down, with its consoles.
    pub async fn leave_nodes(&self, node_id: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM presence WHERE node_id = $1")
            .bind(node_id)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM nodes WHERE id = $1")
            .bind(node_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
