//! Agent authentication: argon2id password hashes, random session tokens carried in an
//! HttpOnly, SameSite=Strict cookie, and the first admin account.
//!
//! Hashing is deliberately slow (tens of milliseconds of CPU), so it always runs on the blocking
//! pool, never on the async threads that serve chats.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;

use crate::storage::{Agent, NewAgent, Role, StorageError, Store};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "tandem_session";
/// How long a sign-in lasts: a working day and then some, so a shift never signs out midway.
pub const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// The first admin's email, created on first start when there are no agents.
pub const FIRST_ADMIN_EMAIL: &str = "admin@localhost";
/// Shortest password `tandem agents add` accepts when one is given.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// What can go wrong signing in or managing accounts.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong email or password, or a disabled account: one error for all, so that the answer
    /// does not tell which emails exist.
    #[error("wrong email or password")]
    BadCredentials,
    /// A password too short to be worth hashing.
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// argon2 refused its input (cannot happen with the default parameters).
    #[error("password hashing failed: {0}")]
    Hash(String),
    /// The operating system gave no random bytes.
    #[error("no randomness for a token: {0}")]
    Random(getrandom::Error),
    /// The hashing task panicked.
    #[error("the hashing task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// Password hashings and checks running at once. Each takes ~19 MiB and a core for tens of
/// milliseconds: unbounded, 250 concurrent wrong sign-ins took the server from 2.3 to 6.2 GB
/// and a customer's round trip to 9 s. One at a time leaves the other core to the chats; the
/// rest wait their turn (and the sign-in throttle turns most of them away first).
static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Hashes a password with argon2id (default parameters: 19 MiB, 2 passes, the OWASP
/// recommendation) and a random salt, off the async threads.
pub async fn hash_password(password: String) -> Result<String, AuthError> {
    let salt = random_bytes::<16>()?;
    // The semaphore is never closed, so acquiring cannot fail.
    let _turn = HASHING
        .acquire()
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt).map_err(|e| AuthError::Hash(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| AuthError::Hash(e.to_string()))
    })
    .await?
}

/// Whether `password` matches `hash`, off the async threads. A malformed hash matches nothing.
pub async fn verify_password(password: String, hash: String) -> Result<bool, AuthError> {
    let _turn = HASHING
        .acquire()
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?;
    Ok(tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await?)
}

/// A random password for a new account: 18 bytes, 24 URL-safe characters.
pub fn generate_password() -> Result<String, AuthError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<18>()?))
}

/// A random session token: 32 bytes, beyond guessing.
pub fn new_session_token() -> Result<String, AuthError> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(AuthError::Random)?;
    Ok(bytes)
}

/// Checks an email and password; on success starts a session and returns its token.
pub async fn sign_in(
    store: &Store,
    email: &str,
    password: &str,
) -> Result<(Agent, String), AuthError> {
    let found = store.agent_credentials(email).await?;
    // Verify even when the email is unknown, against a hash that matches nothing, so that the
    // time taken does not tell which emails exist.
    let (agent, hash) = match found {
        Some((agent, hash)) => (Some(agent), hash),
        None => (None, unmatchable_hash().await?),
    };
    let matches = verify_password(password.to_owned(), hash).await?;
    let agent = match agent {
        Some(agent) if matches && !agent.disabled => agent,
        _ => return Err(AuthError::BadCredentials),
    };
    let token = new_session_token()?;
    let ttl = i64::try_from(SESSION_TTL.as_millis()).unwrap_or(i64::MAX);
    store
        .create_session(
            &agent.id,
            &token,
            store.clock().now_ms().saturating_add(ttl),
        )
        .await?;
    Ok((agent, token))
}

/// The argon2id hash of a random password nobody knows, made once per process with the same
/// parameters as real hashes: verifying against it costs what a real verification costs.
async fn unmatchable_hash() -> Result<String, AuthError> {
    static HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    HASH.get_or_try_init(|| async { hash_password(generate_password()?).await })
        .await
        .cloned()
}

/// Creates an agent account; the password is hashed here.
pub async fn add_agent(
    store: &Store,
    email: &str,
    name: &str,
    password: String,
    role: Role,
    skills: Vec<String>,
    max_chats: u32,
) -> Result<Agent, AuthError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::WeakPassword);
    }
    let password_hash = hash_password(password).await?;
    Ok(store
        .create_agent(NewAgent {
            email: email.to_owned(),
            name: name.to_owned(),
            password_hash,
            role,
            skills,
            max_chats,
        })
        .await?)
}

/// On a first start (no agents at all) creates the admin account [`FIRST_ADMIN_EMAIL`] with a
/// random password and returns that password, to be shown once; `None` when agents exist.
pub async fn ensure_first_admin(
    store: &Store,
    queues: Vec<String>,
) -> Result<Option<String>, AuthError> {
    if store.count_agents().await? > 0 {
        return Ok(None);
    }
    let password = generate_password()?;
    let created = add_agent(
        store,
        FIRST_ADMIN_EMAIL,
        "Admin",
        password.clone(),
        Role::Admin,
        queues,
        5,
    )
    .await;
    match created {
        Ok(_) => Ok(Some(password)),
        // Another process created it between the count and the insert.
        Err(AuthError::Storage(StorageError::Duplicate(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let hash = hash_password("correct horse".into()).await.expect("hashed");
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(
            verify_password("correct horse".into(), hash.clone())
                .await
                .expect("ran")
        );
        assert!(
            !verify_password("correct horsE".into(), hash)
                .await
                .expect("ran")
        );
        assert!(
            !verify_password("x".into(), "not a hash".into())
                .await
                .expect("ran")
        );
        let unmatchable = unmatchable_hash().await.expect("hashed");
        assert!(unmatchable.starts_with("$argon2id$"), "{unmatchable}");
        assert!(!verify_password("x".into(), unmatchable).await.expect("ran"));
    }

    #[test]
    fn generated_passwords_and_tokens_are_long_and_distinct() {
        let (a, b) = (
            generate_password().expect("a"),
            generate_password().expect("b"),
        );
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
        assert_eq!(new_session_token().expect("token").len(), 43);
    }

    #[tokio::test]
    async fn sign_in_refuses_a_wrong_password_an_unknown_email_and_a_disabled_agent() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = crate::storage::test_db::open(dir.path()).await;
        let password = ensure_first_admin(&store, vec!["general".into()])
            .await
            .expect("created")
            .expect("first start");
        assert_eq!(
            ensure_first_admin(&store, vec![]).await.expect("ran"),
            None,
            "only once"
        );
        let (admin, token) = sign_in(&store, "ADMIN@localhost", &password)
            .await
            .expect("signed in");
        assert_eq!(admin.role, Role::Admin);
        let found = store.agent_for_session(&token).await.expect("query");
        assert_eq!(found.map(|a| a.id), Some(admin.id));
        for (email, pass) in [
            (FIRST_ADMIN_EMAIL, "wrong password"),
            ("kim@example.com", password.as_str()),
        ] {
            let refused = sign_in(&store, email, pass).await;
            assert!(
                matches!(refused, Err(AuthError::BadCredentials)),
                "{email}: {refused:?}"
            );
        }
        store
            .set_agent_disabled(FIRST_ADMIN_EMAIL, true)
            .await
            .expect("disabled");
        let refused = sign_in(&store, FIRST_ADMIN_EMAIL, &password).await;
        assert!(
            matches!(refused, Err(AuthError::BadCredentials)),
            "{refused:?}"
        );
        let weak = add_agent(
            &store,
            "kim@example.com",
            "Kim",
            "short".into(),
            Role::Agent,
            vec![],
            3,
        )
        .await;
        assert!(matches!(weak, Err(AuthError::WeakPassword)), "{weak:?}");
    }
}
