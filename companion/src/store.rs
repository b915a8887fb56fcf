//! Private files: the one way the companion writes its cache and state (the listing,
//! revision metadata, what was notified): atomically (temp file + rename), mode 0600 in a
//! 0700 directory, so a crash never leaves half a file and no other user reads them.

use std::path::Path;

/// Writes `value` as JSON to `path` like [`store_bytes`]; a failure is logged (a cache
/// that cannot be written costs only a later re-fetch), naming `what`.
pub fn store_json<T: serde::Serialize>(path: &Path, value: &T, what: &str) {
    match serde_json::to_vec(value) {
        Ok(body) => {
            if let Err(e) = store_bytes(path, &body) {
                tracing::warn!("cannot write {what} {}: {e}", path.display());
            }
        }
        Err(e) => tracing::warn!("cannot encode {what}: {e}"),
    }
}

/// Writes `body` to `path` atomically (temp file + rename) with mode 0600 in a 0700
/// directory: the one way the companion's cache and state files are written.
pub fn store_bytes(path: &Path, body: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    create_private_dir(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("listing"),
        std::process::id()
    ));
    write_private(&tmp, body)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// Creates the cache directory 0700, or makes an existing one that others can read 0700
/// (the mode given to `create` applies only to directories it creates).
#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    if std::fs::metadata(dir)?.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn write_private(path: &Path, body: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // A leftover file (a crashed earlier write) keeps its own mode: make it private before
    // anything is written to it.
    if f.metadata()?.permissions().mode() & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    f.write_all(body)?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, body: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, body)
}
