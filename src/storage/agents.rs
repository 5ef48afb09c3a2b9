//! Agents and their sign-in sessions.
//!
//! The store keeps what it is given: password hashing (argon2) and token generation are the
//! `auth` module's, so no secret in clear ever reaches this layer except the session token, which
//! is hashed here exactly like a resume token.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::store::{flag, token_hash};
use super::{StorageError, Store};

/// What an agent may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Takes conversations from the queues of their skills.
    Agent,
    /// Also sees every queue and manages agents and knowledge.
    Admin,
}

impl Role {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    fn parse(name: &str) -> Result<Role, StorageError> {
        match name {
            "agent" => Ok(Role::Agent),
            "admin" => Ok(Role::Admin),
            other => Err(StorageError::Corrupt(format!("unknown role {other:?}"))),
        }
    }
}

/// An agent account (without its password hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Agent {
    /// Random id (a UUID).
    pub id: String,
    /// Sign-in name, lower case.
    pub email: String,
    /// Shown to customers ("Sam joined the conversation").
    pub name: String,
    /// What the agent may do.
    pub role: Role,
    /// Queues the agent takes conversations from.
    pub skills: Vec<String>,
    /// Most conversations the agent holds at once.
    pub max_chats: u32,
    /// A disabled agent cannot sign in and is signed out everywhere.
    pub disabled: bool,
    /// Milliseconds since the Unix epoch (UTC).
    pub created_at: i64,
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewAgent {
    /// Sign-in name; stored lower-cased.
    pub email: String,
    /// Display name.
    pub name: String,
    /// The argon2 PHC string of the password.
    pub password_hash: String,
    /// What the agent may do.
    pub role: Role,
    /// Queues the agent takes conversations from.
    pub skills: Vec<String>,
    /// Most conversations at once.
    pub max_chats: u32,
}

/// An agent's columns; `disabled` as 0/1 (see `store::flag`).
const AGENT_COLUMNS: &str = "id, email, name, role, skills, max_chats, \
     CASE WHEN disabled THEN 1 ELSE 0 END AS disabled, created_at";

impl Store {
    /// Creates an agent; [`StorageError::Duplicate`] when the email is taken.
    pub async fn create_agent(&self, new: NewAgent) -> Result<Agent, StorageError> {
        let skills = serde_json::to_string(&new.skills)
            .map_err(|e| StorageError::Corrupt(format!("skills: {e}")))?;
        let row = sqlx::query(&format!(
            "INSERT INTO agents (id, email, name, password_hash, role, skills, max_chats, \
             disabled, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8) \
             RETURNING {AGENT_COLUMNS}"
        ))
        .bind(uuid::Uuid::new_v4().to_string())
        .bind(new.email.trim().to_lowercase())
        .bind(new.name.trim())
        .bind(&new.password_hash)
        .bind(new.role.as_str())
        .bind(skills)
        .bind(i64::from(new.max_chats.max(1)))
        .bind(self.clock.now_ms())
        .fetch_one(&self.pool)
        .await;
        match row {
            Ok(row) => agent_from_row(&row),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StorageError::Duplicate(new.email.trim().to_lowercase()))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every agent, by email.
    pub async fn agents(&self) -> Result<Vec<Agent>, StorageError> {
        let rows = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents ORDER BY email"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(agent_from_row).collect()
    }

    /// How many agents exist (disabled ones included).
    pub async fn count_agents(&self) -> Result<u64, StorageError> {
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM agents")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// The agent with this id.
    pub async fn agent(&self, id: &str) -> Result<Option<Agent>, StorageError> {
        let row = sqlx::query(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    /// The agent with this email (any case) and their password hash, for signing in.
    pub async fn agent_credentials(
        &self,
        email: &str,
    ) -> Result<Option<(Agent, String)>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS}, password_hash FROM agents WHERE email = $1"
        ))
        .bind(email.trim().to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => Ok(Some((agent_from_row(&row)?, row.try_get("password_hash")?))),
            None => Ok(None),
        }
    }

    /// Disables (or enables again) the agent with this email. Disabling deletes every session of
    /// the agent in the same transaction, so the next request with their cookie is refused.
    pub async fn set_agent_disabled(
        &self,
        email: &str,
        disabled: bool,
    ) -> Result<Agent, StorageError> {
        self.update_agent(email, "disabled", disabled, disabled)
            .await
    }

    /// Replaces the password hash of the agent with this email and signs them out everywhere
    /// (every session deleted in the same transaction).
    pub async fn set_password_hash(&self, email: &str, hash: &str) -> Result<Agent, StorageError> {
        self.update_agent(email, "password_hash", hash.to_owned(), true)
            .await
    }

    /// Sets one column of the agent with this email (`column` is one of ours, never input) and,
    /// with `sign_out`, deletes every session of theirs in the same transaction.
    async fn update_agent<T>(
        &self,
        email: &str,
        column: &'static str,
        value: T,
        sign_out: bool,
    ) -> Result<Agent, StorageError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
    {
        let email = email.trim().to_lowercase();
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&format!(
            "UPDATE agents SET {column} = $2 WHERE email = $1 RETURNING {AGENT_COLUMNS}"
        ))
        .bind(&email)
        .bind(value)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StorageError::UnknownAgent(email.clone()))?;
        let agent = agent_from_row(&row)?;
        if sign_out {
            sqlx::query("DELETE FROM agent_sessions WHERE agent_id = $1")
                .bind(&agent.id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(agent)
    }

    /// Stores a session for `agent_id` under the hash of `token`, valid until `expires_at` (ms).
    pub async fn create_session(
        &self,
        agent_id: &str,
        token: &str,
        expires_at: i64,
    ) -> Result<(), StorageError> {
        sqlx::query(
            "INSERT INTO agent_sessions (token_hash, agent_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash(token))
        .bind(agent_id)
        .bind(self.clock.now_ms())
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The enabled agent a session token belongs to, if the session exists and has not expired.
    pub async fn agent_for_session(&self, token: &str) -> Result<Option<Agent>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE NOT disabled AND id = \
             (SELECT agent_id FROM agent_sessions WHERE token_hash = $1 AND expires_at > $2)"
        ))
        .bind(token_hash(token))
        .bind(self.clock.now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(agent_from_row).transpose()
    }

    /// Deletes a session (sign-out); nothing happens for an unknown token.
    pub async fn delete_session(&self, token: &str) -> Result<(), StorageError> {
        sqlx::query("DELETE FROM agent_sessions WHERE token_hash = $1")
            .bind(token_hash(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

fn agent_from_row(row: &AnyRow) -> Result<Agent, StorageError> {
    let skills: String = row.try_get("skills")?;
    let max_chats: i64 = row.try_get("max_chats")?;
    Ok(Agent {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        name: row.try_get("name")?,
        role: Role::parse(row.try_get("role")?)?,
        skills: serde_json::from_str(&skills)
            .map_err(|e| StorageError::Corrupt(format!("skills {skills:?}: {e}")))?,
        max_chats: u32::try_from(max_chats).unwrap_or(1),
        disabled: flag(row, "disabled")?,
        created_at: row.try_get("created_at")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = crate::storage::test_db::open(dir.path()).await;
        (dir, store)
    }

    fn sam() -> NewAgent {
        NewAgent {
            email: "Sam@Example.com ".into(),
            name: "Sam".into(),
            password_hash: "$argon2id$fake".into(),
            role: Role::Agent,
            skills: vec!["general".into(), "billing".into()],
            max_chats: 3,
        }
    }

    #[tokio::test]
    async fn an_agent_is_created_once_per_email_in_any_case() {
        let (_dir, store) = store().await;
        let sam = store.create_agent(sam()).await.expect("created");
        assert_eq!(sam.email, "sam@example.com");
        assert_eq!(sam.skills, ["general", "billing"]);
        let again = store.create_agent(sam_with_email("SAM@example.com")).await;
        assert!(
            matches!(again, Err(StorageError::Duplicate(_))),
            "{again:?}"
        );
        let (found, hash) = store
            .agent_credentials("SAM@EXAMPLE.COM")
            .await
            .expect("query")
            .expect("found");
        assert_eq!(found, sam);
        assert_eq!(hash, "$argon2id$fake");
        assert_eq!(store.count_agents().await.expect("count"), 1);
    }

    fn sam_with_email(email: &str) -> NewAgent {
        NewAgent {
            email: email.into(),
            ..sam()
        }
    }

    #[tokio::test]
    async fn a_session_signs_in_until_it_expires_is_deleted_or_the_agent_is_disabled() {
        let (_dir, store) = store().await;
        let sam = store.create_agent(sam()).await.expect("created");
        let later = crate::clock::system_ms() + 60_000;
        store
            .create_session(&sam.id, "t1", later)
            .await
            .expect("session");
        store
            .create_session(&sam.id, "t2", later)
            .await
            .expect("session");
        store
            .create_session(&sam.id, "old", crate::clock::system_ms() - 1)
            .await
            .expect("session");
        let who = |token: &'static str| {
            let store = store.clone();
            async move {
                store
                    .agent_for_session(token)
                    .await
                    .expect("query")
                    .map(|a| a.name)
            }
        };
        assert_eq!(who("t1").await.as_deref(), Some("Sam"));
        assert_eq!(who("old").await, None, "expired");
        assert_eq!(who("nope").await, None, "unknown");
        store.delete_session("t1").await.expect("deleted");
        assert_eq!(who("t1").await, None, "signed out");
        let disabled = store
            .set_agent_disabled("sam@example.com", true)
            .await
            .expect("disabled");
        assert!(disabled.disabled);
        assert_eq!(
            who("t2").await,
            None,
            "a disabled agent's sessions are gone"
        );
        let unknown = store.set_agent_disabled("kim@example.com", true).await;
        assert!(
            matches!(unknown, Err(StorageError::UnknownAgent(_))),
            "{unknown:?}"
        );
    }
}
