//! Which database a test server stores into. By default the SQLite file in its data folder;
//! with `TANDEM_TEST_POSTGRES` set to a PostgreSQL server's URL (what `scripts/postgres start`
//! prints; `make test` runs the tests that reach the store a second time so), a database of
//! its own on that server, so every such test runs on both (`scripts/test-on-postgres`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The PostgreSQL server the suite runs on, if it runs on one.
pub fn postgres_server() -> Option<String> {
    std::env::var("TANDEM_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
}

/// The database of each data folder that has one on PostgreSQL.
static DATABASES: OnceLock<Mutex<HashMap<PathBuf, String>>> = OnceLock::new();

/// [`DATABASES`], locked (a test that panicked holding it left the map whole: one insert).
fn databases() -> std::sync::MutexGuard<'static, HashMap<PathBuf, String>> {
    DATABASES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The `database_url` for a server whose data folder is `data_dir`: the one given to the folder
/// by [`shared_database`], else empty (its SQLite file) or a fresh PostgreSQL database, the same
/// one every time for the same folder, so that a server restarted on its data folder finds
/// what it stored.
pub fn database_for(data_dir: &Path) -> String {
    let mut databases = databases();
    if let Some(url) = databases.get(data_dir) {
        return url.clone();
    }
    let Some(server) = postgres_server() else {
        return String::new();
    };
    let url = create_database(&server);
    databases.insert(data_dir.to_owned(), url.clone());
    url
}

/// A PostgreSQL server for the multi-node tests, which need one in both runs of the suite:
/// the suite's own, or the throw-away cluster `scripts/postgres start` starts (or finds running;
/// `make test` stops it at the end, `scripts/postgres stop` by hand).
pub fn postgres_for_nodes() -> String {
    if let Some(server) = postgres_server() {
        return server;
    }
    let output =
        std::process::Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/postgres"))
            .arg("start")
            .output()
            .expect("scripts/postgres runs");
    assert!(
        output.status.success(),
        "scripts/postgres start failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .expect("scripts/postgres prints the URL last")
        .to_owned()
}

/// A fresh database on `server` that several nodes (data folders) will share.
pub fn shared_database(server: &str, data_dirs: &[&Path]) -> String {
    let url = create_database(server);
    let mut databases = databases();
    for dir in data_dirs {
        databases.insert(dir.to_path_buf(), url.clone());
    }
    url
}

/// Creates a database on its own thread and runtime: callers are synchronous code inside the
/// tests' runtimes, which cannot block on a future.
fn create_database(server: &str) -> String {
    let server = server.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for creating the test database");
        let name = format!("api_{}", uuid::Uuid::new_v4().simple());
        runtime
            .block_on(tandem::storage::create_postgres_database(&server, &name))
            .expect("a test database is created on the test PostgreSQL")
    })
    .join()
    .expect("the database thread finishes")
}

/// Whether `needle` is stored anywhere in clear: in the SQLite file or its write-ahead log,
/// byte for byte, or in any row of any table on PostgreSQL (each row cast to text).
pub async fn stored_in_clear(data_dir: &Path, database_url: &str, needle: &str) -> bool {
    if database_url.is_empty() {
        return ["tandem.db", "tandem.db-wal"].iter().any(|file| {
            let bytes = std::fs::read(data_dir.join(file)).unwrap_or_default();
            bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
        });
    }
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url)
        .await
        .expect("the test database accepts a connection");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public'")
            .fetch_all(&mut conn)
            .await
            .expect("tables listed");
    assert!(tables.len() > 5, "the schema is there: {tables:?}");
    for table in tables {
        let found: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM {table} AS t WHERE strpos(CAST(t AS TEXT), $1) > 0"
        ))
        .bind(needle)
        .fetch_one(&mut conn)
        .await
        .expect("table searched");
        if found > 0 {
            return true;
        }
    }
    false
}
