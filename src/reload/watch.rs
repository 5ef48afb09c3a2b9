//! What triggers a reload besides the admin API: file changes in the knowledge folder
//! (debounced, so an editor's save of many files is one reload) and `SIGHUP`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::Reloader;

/// Quiet time after the last change before reloading: an editor saving, a `git pull` or a
/// copy of a folder produces a burst of events that should become one reload.
pub const DEBOUNCE: Duration = Duration::from_millis(400);

/// Why watching could not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path} for changes: {source}")]
pub struct WatchError {
    /// The folder.
    path: String,
    /// Why.
    source: notify::Error,
}

/// Watches `dir` (recursively) and reloads after each burst of changes to knowledge files,
/// until `shutdown` changes.
pub fn spawn_file_watcher(
    reloader: Arc<Reloader>,
    dir: &Path,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> Result<(), WatchError> {
    // Capacity 1: while a change waits to be handled, more changes add nothing.
    let (changed, mut changes) = mpsc::channel::<()>(1);
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event)
                if changes_files(&event.kind)
                    && event.paths.iter().any(|p| is_knowledge_file(p)) =>
            {
                let _ = changed.try_send(());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "knowledge watcher error"),
        })
        .map_err(|source| WatchError {
            path: dir.display().to_string(),
            source,
        })?;
    watcher
        .watch(dir, RecursiveMode::Recursive)
        .map_err(|source| WatchError {
            path: dir.display().to_string(),
            source,
        })?;
    tokio::spawn(async move {
        // Owned by the task: watching stops when it ends.
        let _watcher = watcher;
        loop {
            tokio::select! {
                change = changes.recv() => if change.is_none() { break },
                _ = shutdown.changed() => break,
            }
            // Wait for the burst to end.
            while let Ok(Some(())) = tokio::time::timeout(DEBOUNCE, changes.recv()).await {}
            reloader.reload("files changed").await;
        }
    });
    Ok(())
}

/// Reloads on every `SIGHUP` (Unix), until `shutdown` changes.
pub fn spawn_sighup(reloader: Arc<Reloader>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGHUP; reload with the API instead");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = hangups.recv() => { reloader.reload("SIGHUP").await; }
                _ = shutdown.changed() => break,
            }
        }
    });
    #[cfg(not(unix))]
    let _ = (reloader, shutdown);
}

/// Writes, creations, removals and renames count; reads (the reload's own) do not.
fn changes_files(kind: &notify::EventKind) -> bool {
    use notify::EventKind;
    use notify::event::{AccessKind, AccessMode};
    matches!(
        kind,
        EventKind::Create(_)
            | EventKind::Modify(_)
            | EventKind::Remove(_)
            | EventKind::Access(AccessKind::Close(AccessMode::Write))
    )
}

/// Markdown and YAML files count; editors' swap and backup files (`.swp`, `~`, `.tmp`) do not.
fn is_knowledge_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("md" | "yaml" | "yml")
    ) || path.extension().is_none() && !path.to_string_lossy().ends_with('~')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editors_temporary_files_do_not_trigger_a_reload() {
        assert!(is_knowledge_file(Path::new("/k/faq/shipping.md")));
        assert!(is_knowledge_file(Path::new("/k/intents.yaml")));
        assert!(
            is_knowledge_file(Path::new("/k/faq/new-folder")),
            "a folder moved in"
        );
        assert!(!is_knowledge_file(Path::new("/k/faq/.shipping.md.swp")));
        assert!(!is_knowledge_file(Path::new("/k/faq/shipping.md~")));
    }
}
