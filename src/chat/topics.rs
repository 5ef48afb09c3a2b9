//! The most asked topics, offered as quick replies when a customer says hello.
//!
//! "Most asked" is the FAQ entries the bot answered with most often in the past week, read from
//! the store at most once a minute (by the store's clock, which tests move): popularity moves
//! slowly, and a greeting (or a new chat's welcome) must not cost a query over the whole
//! message log.

use std::sync::Mutex;
use std::time::Duration;

use crate::storage::Store;

/// How long a computed list is served before it is read again.
pub const REFRESH: Duration = Duration::from_secs(60);
/// The window of answers counted.
const WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// Entries kept: more than a greeting shows, since some may have left the knowledge base.
const KEEP: u32 = 8;

/// A cache of the most answered FAQ entry ids, best first.
#[derive(Debug, Default)]
pub struct TopTopics {
    /// When (store clock, ms) the list was read, and the list.
    cached: Mutex<Option<(i64, Vec<String>)>>,
}

impl TopTopics {
    /// The most answered entry ids, best first; empty when nothing was answered yet (or the
    /// store failed, which is logged: a greeting without quick replies is no reason to fail).
    pub async fn get(&self, store: &Store) -> Vec<String> {
        let now = store.clock().now_ms();
        let refresh = i64::try_from(REFRESH.as_millis()).unwrap_or(i64::MAX);
        if let Ok(cached) = self.cached.lock()
            && let Some((at, ids)) = cached.as_ref()
            && now - at < refresh
        {
            return ids.clone();
        }
        let since = now - i64::try_from(WINDOW.as_millis()).unwrap_or(0);
        match store.most_answered(since, KEEP).await {
            Ok(ids) => {
                if let Ok(mut cached) = self.cached.lock() {
                    *cached = Some((now, ids.clone()));
                }
                ids
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the most asked topics");
                Vec::new()
            }
        }
    }
}
