//! Opening the store: an embedded SQLite file in the data folder (the default: one machine, no
//! database server) or a PostgreSQL server shared by several nodes (`database_url =
//! "postgres://..."`).
//!
//! Both go through sqlx's `Any` driver, so every query in this module is written once, in the
//! portable SQL the migrations describe. What differs is here: SQLite's pragmas and file
//! permissions, and how a write transaction begins (see [`Store::begin_write`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::AnyConnection;
use sqlx::any::AnyPoolOptions;
use sqlx::{Any, Executor, Transaction};

use super::store::{private_dir, private_file};
use super::{StorageError, Store};
use crate::clock::Clock;

/// Name of the database file inside the data folder.
pub const DB_FILE: &str = "tandem.db";

/// How long a SQLite writer waits for another writer's transaction before giving up.
/// Transactions here are a few statements long, so waiting seconds means something is wrong.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Connections in a SQLite pool. WAL lets readers (replays) run beside the one writer; SQLite
/// serialises writers anyway, so more connections would only queue on the file lock.
const SQLITE_POOL_SIZE: u32 = 8;

/// Connections per node to PostgreSQL, which writes in parallel. Several nodes share the
/// server's `max_connections` (100 by default), so this stays modest.
const POSTGRES_POOL_SIZE: u32 = 16;

/// Which database the store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A file in the data folder: one node.
    Sqlite,
    /// A PostgreSQL server: one or several nodes.
    Postgres,
}

/// Where the store lives, parsed from the `database_url` setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL (`postgres://user:password@host:port/database`).
    Postgres(String),
}

impl Location {
    /// `url` as configured: empty means `DATA_DIR/tandem.db`; `sqlite://PATH` (or `sqlite:PATH`)
    /// a file elsewhere; `postgres://` or `postgresql://` a server.
    pub fn parse(url: &str, data_dir: &Path) -> Result<Location, StorageError> {
        let url = url.trim();
        if url.is_empty() {
            return Ok(Location::Sqlite(data_dir.join(DB_FILE)));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres(url.to_owned()));
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() || path.contains('?') || path.starts_with(":memory:") {
                return Err(StorageError::BadUrl(format!(
                    "{url}: a SQLite URL names a file, without options (sqlite://PATH)"
                )));
            }
            return Ok(Location::Sqlite(PathBuf::from(path)));
        }
        Err(StorageError::BadUrl(format!(
            "{}: expected sqlite://PATH or postgres://USER:PASSWORD@HOST/DATABASE",
            redacted(url)
        )))
    }

    /// For messages and logs: the file, or the URL without its password.
    pub fn display(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(url) => redacted(url),
        }
    }
}

/// `url` with the password (between `user:` and `@`) replaced by `***`: database URLs end up in
/// error messages and logs, the password must not.
pub fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credentials, host)) = rest.rsplit_once('@') else {
        return url.to_owned();
    };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

/// Creates the empty database `name` (lower-case letters, digits and `_`) on the PostgreSQL
/// server `server_url` points to, and returns the URL of the new database: the same URL with its
/// database replaced. The test suites give each test server a database of its own this way.
pub async fn create_postgres_database(
    server_url: &str,
    name: &str,
) -> Result<String, StorageError> {
    use sqlx::Connection;
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(StorageError::BadUrl(format!("database name {name:?}")));
    }
    let location = Location::Postgres(server_url.to_owned());
    let opened = |source| StorageError::Open {
        location: location.display(),
        source,
    };
    let mut conn = sqlx::PgConnection::connect(server_url)
        .await
        .map_err(opened)?;
    // The name was checked above: an identifier cannot be a bind parameter.
    conn.execute(format!("CREATE DATABASE {name}").as_str())
        .await?;
    conn.close().await?;
    let mut url = url::Url::parse(server_url)
        .map_err(|e| StorageError::BadUrl(format!("{}: {e}", redacted(server_url))))?;
    url.set_path(name);
    Ok(url.into())
}

impl Store {
    /// Opens (creating if needed) `DATA_DIR/tandem.db` and brings its schema up to date.
    pub async fn open(data_dir: impl AsRef<Path>) -> Result<Store, StorageError> {
        Store::connect("", data_dir).await
    }

    /// Opens the store `database_url` names (see [`Location::parse`]; empty is the SQLite file
    /// in `data_dir`) and brings its schema up to date. Several nodes may do this at once on
    /// one PostgreSQL: sqlx's migrator holds an advisory lock while it migrates.
    pub async fn connect(
        database_url: &str,
        data_dir: impl AsRef<Path>,
    ) -> Result<Store, StorageError> {
        sqlx::any::install_default_drivers();
        let location = Location::parse(database_url, data_dir.as_ref())?;
        let (url, backend, size) = match &location {
            Location::Sqlite(file) => {
                prepare_sqlite_file(file)?;
                // Absolute: in a URL, a relative path's first part would read as a host name.
                let file = std::path::absolute(file).map_err(|source| StorageError::DataDir {
                    path: file.clone(),
                    source,
                })?;
                (sqlite_url(&file), Backend::Sqlite, SQLITE_POOL_SIZE)
            }
            Location::Postgres(url) => (url.clone(), Backend::Postgres, POSTGRES_POOL_SIZE),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(size)
            .after_connect(move |conn, _| Box::pin(configure(conn, backend)))
            .connect(&url)
            .await
            .map_err(|source| StorageError::Open {
                location: location.display(),
                source,
            })?;
        sqlx::migrate!().run(&pool).await?;
        let postgres_url = match &location {
            Location::Postgres(url) => Some(url.as_str().into()),
            Location::Sqlite(_) => None,
        };
        Ok(Store {
            pool,
            postgres_url,
            clock: Clock::default(),
        })
    }

    /// The database this store talks to.
    pub fn backend(&self) -> Backend {
        match self.postgres_url {
            Some(_) => Backend::Postgres,
            None => Backend::Sqlite,
        }
    }

    /// A write transaction. On SQLite, `BEGIN IMMEDIATE` takes the write lock up front, so two
    /// writers queue on the busy timeout instead of both reading and one failing to upgrade its
    /// lock. On PostgreSQL a plain `BEGIN` (read committed): each write transaction's first
    /// statement is a conditional `UPDATE` of the row it is about, whose row lock serialises
    /// writers of that row and whose condition is re-checked after the wait.
    pub(super) async fn begin_write(&self) -> Result<Transaction<'static, Any>, StorageError> {
        Ok(match self.backend() {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }
}

/// Per-connection settings. SQLite: WAL lets readers run beside the writer; `synchronous =
/// FULL` syncs the WAL on every commit, so an acknowledged message survives a power cut, not only
/// a crash (NORMAL would lose the last commits on power loss); foreign keys are off unless asked
/// for. PostgreSQL's defaults (synchronous commit, foreign keys) are already these.
async fn configure(conn: &mut AnyConnection, backend: Backend) -> Result<(), sqlx::Error> {
    if backend == Backend::Sqlite {
        let pragmas = format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {};",
            BUSY_TIMEOUT.as_millis()
        );
        conn.execute(pragmas.as_str()).await?;
    }
    Ok(())
}

/// Creates the database file's folder and the file itself, private to the server's user: the
/// database holds transcripts and hashed secrets. SQLite creates its `-wal` and `-shm` files
/// with the database file's permissions; files from before this rule are tightened here.
fn prepare_sqlite_file(file: &Path) -> Result<(), StorageError> {
    let failed = |path: &Path| {
        let path = path.to_owned();
        move |source| StorageError::DataDir { path, source }
    };
    if let Some(dir) = file.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        private_dir(dir).map_err(failed(dir))?;
    }
    private_file(file).map_err(failed(file))?;
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    for suffix in ["-wal", "-shm"] {
        let side = file.with_file_name(format!("{}{suffix}", name.as_deref().unwrap_or(DB_FILE)));
        if side.exists() {
            private_file(&side).map_err(failed(&side))?;
        }
    }
    Ok(())
}

/// The URL sqlx's SQLite driver reads: the path percent-decoded after `sqlite://`, options after
/// `?`, so the characters that would end the path are escaped. `mode=rw`: the file exists
/// (created above, with its permissions).
fn sqlite_url(file: &Path) -> String {
    let path = file.to_string_lossy();
    let mut escaped = String::with_capacity(path.len());
    for c in path.chars() {
        match c {
            '%' => escaped.push_str("%25"),
            '?' => escaped.push_str("%3F"),
            '#' => escaped.push_str("%23"),
            other => escaped.push(other),
        }
    }
    format!("sqlite://{escaped}?mode=rw")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_sqlite_file_or_a_postgres_server_and_nothing_else() {
        let data = Path::new("/var/lib/tandem");
        assert_eq!(
            Location::parse("", data).expect("default"),
            Location::Sqlite(data.join(DB_FILE))
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x.db", data).expect("absolute"),
            Location::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert_eq!(
            Location::parse("sqlite:x.db", data).expect("relative"),
            Location::Sqlite(PathBuf::from("x.db"))
        );
        assert!(matches!(
            Location::parse("postgresql://u:p@db/tandem", data),
            Ok(Location::Postgres(_))
        ));
        for bad in [
            "mysql://u:secret@h/d",
            "sqlite://",
            "sqlite::memory:",
            "sqlite://a?mode=ro",
        ] {
            let error = Location::parse(bad, data).expect_err(bad).to_string();
            assert!(!error.contains("secret"), "{error}");
        }
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redacted("postgres://tandem:s3cr@t@db:5432/tandem"),
            "postgres://tandem:***@db:5432/tandem"
        );
        assert_eq!(redacted("postgres://db/tandem"), "postgres://db/tandem");
        let location = Location::Postgres("postgres://a:b@c/d".to_owned());
        assert_eq!(location.display(), "postgres://a:***@c/d");
    }

    #[test]
    fn file_names_with_url_characters_are_escaped() {
        assert_eq!(
            sqlite_url(Path::new("/tmp/50%?#/t.db")),
            "sqlite:///tmp/50%25%3F%23/t.db?mode=rw"
        );
    }
}
