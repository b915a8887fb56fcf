//! The host's last good listing on disk, so a freshly spawned host (one process per
//! `sendNativeMessage`) answers at once. One JSON file per set of configured servers in the
//! user's cache dir (`PREVIEW_SWITCH_CACHE_DIR` overrides it, for tests), written
//! atomically with mode 0600. It holds previews and server errors only: `Preview` has no
//! credential field and error texts never carry a token, so neither does the cache.

use std::path::{Path, PathBuf};

use protocol::Preview;
use protocol::messages::{ServerFailure, ServerInfo};
use serde::{Deserialize, Serialize};

/// Overrides the cache directory (tests, sandboxes).
pub const CACHE_DIR_ENV: &str = "PREVIEW_SWITCH_CACHE_DIR";

/// Bumped when the file layout changes; other versions are ignored, not misread.
const FORMAT: u32 = 1;

/// One listing result as the host keeps it, in memory and on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the previews were fetched (unix ms). A failed refresh does not move it.
    pub fetched_at_ms: u64,
    pub previews: Vec<Preview>,
    pub failures: Vec<ServerFailure>,
    /// Some previews were kept from an older fetch because their server failed now:
    /// the snapshot is stale whatever its age.
    pub kept_previous: bool,
}

#[derive(Serialize, Deserialize)]
struct File {
    format: u32,
    #[serde(flatten)]
    snapshot: Snapshot,
}

/// The default cache directory: `$PREVIEW_SWITCH_CACHE_DIR`, else the platform cache dir
/// (`~/.cache/preview-switch` on Linux, `~/Library/Caches/io.previewswitch.preview-switch`
/// on macOS). `None` when no home directory is known: the host then keeps memory only.
pub fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os(CACHE_DIR_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("io", "previewswitch", "preview-switch")
        .map(|d| d.cache_dir().to_owned())
}

/// The cache file for this set of servers: a different config never reads another's data.
pub fn file_for(dir: &Path, servers: &[ServerInfo]) -> PathBuf {
    // FNV-1a: stable across Rust versions, unlike `DefaultHasher`.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for s in servers {
        for part in [&s.name, &s.url, &s.selector] {
            for b in part.bytes().chain([0u8]) {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    dir.join(format!("listing-{hash:016x}.json"))
}

/// Reads a snapshot; a missing, unreadable or foreign file is treated as no cache.
pub fn load(path: &Path) -> Option<Snapshot> {
    let bytes = std::fs::read(path).ok()?;
    match serde_json::from_slice::<File>(&bytes) {
        Ok(file) if file.format == FORMAT => Some(file.snapshot),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!("ignoring unreadable cache {}: {e}", path.display());
            None
        }
    }
}

/// Writes a snapshot atomically (temp file + rename) with mode 0600 in a 0700 directory.
pub fn store(path: &Path, snapshot: &Snapshot) -> std::io::Result<()> {
    let body = serde_json::to_vec(&File {
        format: FORMAT,
        snapshot: snapshot.clone(),
    })?;
    crate::store::store_bytes(path, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(name: &str) -> ServerInfo {
        ServerInfo {
            name: name.into(),
            url: format!("https://{name}"),
            selector: "type=pr".into(),
        }
    }

    #[test]
    fn store_then_load_round_trips_with_private_modes() {
        let dir = tempfile::tempdir().unwrap();
        let path = file_for(&dir.path().join("sub"), &[server("argocd.dev")]);
        let snap = Snapshot {
            fetched_at_ms: 1_700_000_000_000,
            previews: vec![],
            failures: vec![],
            kept_previous: false,
        };
        store(&path, &snap).unwrap();
        assert_eq!(load(&path), Some(snap));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let mode = std::fs::metadata(path.parent().unwrap())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1,
            "no temp file left behind"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_cache_dir_and_files_made_earlier_readable_by_others_become_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cache");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = file_for(&dir, &[server("argocd.dev")]);
        std::fs::write(&path, "{}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        // A temp file left by a crashed write with this process id.
        let leftover = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name().unwrap().to_str().unwrap(),
            std::process::id()
        ));
        std::fs::write(&leftover, "x").unwrap();
        std::fs::set_permissions(&leftover, std::fs::Permissions::from_mode(0o666)).unwrap();
        let snap = Snapshot {
            fetched_at_ms: 1,
            previews: vec![],
            failures: vec![],
            kept_previous: false,
        };
        store(&path, &snap).unwrap();
        assert_eq!((mode(&dir), mode(&path)), (0o700, 0o600));
        assert_eq!(load(&path), Some(snap));
    }

    #[test]
    fn each_server_set_has_its_own_file_and_junk_reads_as_no_cache() {
        let dir = tempfile::tempdir().unwrap();
        let a = file_for(dir.path(), &[server("dev")]);
        let b = file_for(dir.path(), &[server("dev"), server("prod")]);
        assert_ne!(a, b);
        std::fs::write(&a, b"{not json").unwrap();
        assert_eq!(load(&a), None);
        std::fs::write(
            &a,
            br#"{"format":99,"fetched_at_ms":1,"previews":[],"failures":[],"kept_previous":false}"#,
        )
        .unwrap();
        assert_eq!(load(&a), None);
        assert_eq!(load(&b), None);
    }
}
