//! Revision metadata on disk: a commit's tags and message never change, so each
//! (repository, revision) is asked of Argo CD once and then read from one JSON file in the
//! cache directory (`revisions.json`, 0600), shared by the CLI and the host.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::argocd::model::RevisionMetadata;

/// Bumped when the file layout changes; other versions are ignored, not misread.
const FORMAT: u32 = 1;

/// Past this many entries the file starts over (about 300 bytes each).
const MAX_ENTRIES: usize = 50_000;

#[derive(Serialize, Deserialize)]
struct File {
    format: u32,
    /// `repo\nrevision` → metadata.
    revisions: HashMap<String, RevisionMetadata>,
}

/// The revision metadata known so far; loaded once, saved when something was added.
#[derive(Debug, Default)]
pub struct RevisionCache {
    path: Option<PathBuf>,
    entries: Mutex<(HashMap<String, RevisionMetadata>, bool)>,
}

fn key(repo: &str, revision: &str) -> String {
    format!("{}\n{revision}", repo.trim_end_matches('/'))
}

impl RevisionCache {
    /// The cache in `dir` (`None`: memory only). A missing or unreadable file is empty.
    pub fn open(dir: Option<&Path>) -> RevisionCache {
        let path = dir.map(|d| d.join("revisions.json"));
        let entries = path
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|bytes| match serde_json::from_slice::<File>(&bytes) {
                Ok(f) if f.format == FORMAT => Some(f.revisions),
                Ok(_) => None,
                Err(e) => {
                    tracing::warn!("ignoring an unreadable revision cache: {e}");
                    None
                }
            })
            .unwrap_or_default();
        RevisionCache {
            path,
            entries: Mutex::new((entries, false)),
        }
    }

    pub fn get(&self, repo: &str, revision: &str) -> Option<RevisionMetadata> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.0.get(&key(repo, revision)).cloned()
    }

    pub fn insert(&self, repo: &str, revision: &str, metadata: RevisionMetadata) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.0.len() >= MAX_ENTRIES {
            entries.0.clear();
        }
        entries.0.insert(key(repo, revision), metadata);
        entries.1 = true;
    }

    /// Writes the file when entries were added since it was read.
    pub fn save(&self) {
        let Some(path) = &self.path else { return };
        let file = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            if !entries.1 {
                return;
            }
            entries.1 = false;
            File {
                format: FORMAT,
                revisions: entries.0.clone(),
            }
        };
        crate::store::store_json(path, &file, "the revision cache");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_a_new_process_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RevisionCache::open(Some(dir.path()));
        assert_eq!(cache.get("https://git/r.git", "abc"), None);
        let meta = RevisionMetadata {
            tags: vec!["v1.0.0".into()],
            ..Default::default()
        };
        cache.insert("https://git/r.git/", "abc", meta.clone());
        cache.save();
        let again = RevisionCache::open(Some(dir.path()));
        assert_eq!(again.get("https://git/r.git", "abc"), Some(meta));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("revisions.json"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join("revisions.json"), b"{not json").unwrap();
        assert_eq!(
            RevisionCache::open(Some(dir.path())).get("https://git/r.git", "abc"),
            None
        );
    }
}
