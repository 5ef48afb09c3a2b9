//! The store unit tests run on: the SQLite file in a temp folder, or, when `TANDEM_TEST_POSTGRES`
//! holds a PostgreSQL server's URL (as `scripts/postgres start` prints; `make test` sets it for
//! its second run), a fresh database of its own on that server.

use std::path::Path;

use super::{Store, create_postgres_database};

/// The environment variable naming the PostgreSQL server the tests run on.
pub const POSTGRES_ENV: &str = "TANDEM_TEST_POSTGRES";

/// A store for one test, with `dir` as its data folder.
pub async fn open(dir: &Path) -> Store {
    Store::connect(&database_url().await, dir)
        .await
        .expect("the test store opens")
}

/// Empty (the SQLite file in the data folder), or a new database on the test PostgreSQL.
pub async fn database_url() -> String {
    match std::env::var(POSTGRES_ENV) {
        Ok(server) if !server.is_empty() => {
            let name = format!("unit_{}", uuid::Uuid::new_v4().simple());
            create_postgres_database(&server, &name)
                .await
                .expect("a test database is created on the test PostgreSQL")
        }
        _ => String::new(),
    }
}
