//! Pruning the brain cache to its newest versions.

use std::path::Path;

/// Deletes all but the `keep` most recently written cache entries in `dir` (an entry is its
/// `vectors-KEY.safetensors`, `head-KEY.*` and `tone-KEY.*`). Failures only cost disk space.
pub fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let entries: Vec<std::fs::DirEntry> = entries.filter_map(Result::ok).collect();
    // Files of a save that never finished (a killed process) carry a unique name with two
    // dots; an hour is far longer than any save takes.
    for entry in &entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let unfinished = name.matches('.').count() >= 2;
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(3600));
        if unfinished && old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let mut versions: Vec<(std::time::SystemTime, String)> = entries
        .iter()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let key = name
                .strip_prefix("vectors-")?
                .strip_suffix(".safetensors")?
                .to_owned();
            Some((e.metadata().ok()?.modified().ok()?, key))
        })
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.0));
    for (_, key) in versions.into_iter().skip(keep) {
        for file in [
            format!("vectors-{key}.safetensors"),
            format!("head-{key}.safetensors"),
            format!("head-{key}.json"),
            format!("tone-{key}.safetensors"),
            format!("tone-{key}.json"),
        ] {
            let path = dir.join(file);
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %path.display(), error = %e, "cannot prune the model cache");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_versions_and_their_heads() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let now = std::time::SystemTime::now();
        for (age, key) in [(3, "a"), (2, "b"), (1, "c")] {
            let vectors = dir.path().join(format!("vectors-{key}.safetensors"));
            std::fs::write(&vectors, key).expect("write");
            std::fs::write(dir.path().join(format!("head-{key}.safetensors")), key).expect("write");
            // Distinct modification times, oldest first, set rather than waited for.
            std::fs::File::options()
                .write(true)
                .open(&vectors)
                .and_then(|f| f.set_modified(now - std::time::Duration::from_secs(age * 60)))
                .expect("set the modification time");
        }
        std::fs::write(dir.path().join("unrelated.txt"), "x").expect("write");
        prune(dir.path(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("dir")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                "head-b.safetensors",
                "head-c.safetensors",
                "unrelated.txt",
                "vectors-b.safetensors",
                "vectors-c.safetensors"
            ]
        );
    }
}
