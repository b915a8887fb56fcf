//! Host logging: stdout is the wire, so logs go to stderr (Chrome forwards it to its own
//! log) and to `host.log` in the user's state dir, rotated to `host.log.1` at 1 MiB so it
//! never grows without bound. The filter is RUST_LOG-style, read from `PREVIEW_SWITCH_LOG`,
//! else `RUST_LOG`, else `info`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The log filter variable checked before `RUST_LOG`.
pub const LOG_ENV: &str = "PREVIEW_SWITCH_LOG";

/// The file is rotated when it would grow past this.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;

/// `~/.local/state/preview-switch` on Linux; `~/Library/Application Support/…` on macOS,
/// which has no state dir.
pub fn default_log_dir() -> Option<PathBuf> {
    let dirs = directories::ProjectDirs::from("io", "previewswitch", "preview-switch")?;
    Some(
        dirs.state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .to_owned(),
    )
}

/// Installs the global subscriber: stderr, plus `<log_dir>/host.log` when given and
/// writable. Returns the log file's path. Calling it twice keeps the first subscriber.
pub fn init_logging(log_dir: Option<&Path>) -> Option<PathBuf> {
    let filter = || {
        std::env::var(LOG_ENV)
            .or_else(|_| std::env::var("RUST_LOG"))
            .ok()
            .and_then(|f| EnvFilter::try_new(f).ok())
            .unwrap_or_else(|| EnvFilter::new("info"))
    };
    let file = log_dir.and_then(|dir| {
        let path = dir.join("host.log");
        RotatingFile::open(&path, MAX_LOG_BYTES)
            .map(|f| (path, Arc::new(f)))
            .ok()
    });
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(io::stderr)
        .with_ansi(false)
        .with_filter(filter());
    let (path, file_layer) = match file {
        Some((path, writer)) => (
            Some(path),
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(writer)
                    .with_ansi(false)
                    .with_filter(filter()),
            ),
        ),
        None => (None, None),
    };
    let _ = tracing_subscriber::registry()
        .with(stderr)
        .with(file_layer)
        .try_init();
    path
}

/// An append-only file that moves itself to `<name>.1` when it would pass `max` bytes.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max: u64,
    state: Mutex<(File, u64)>,
}

impl RotatingFile {
    pub fn open(path: &Path, max: u64) -> io::Result<RotatingFile> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = open_append(path)?;
        let len = file.metadata()?.len();
        Ok(RotatingFile {
            path: path.to_owned(),
            max,
            state: Mutex::new((file, len)),
        })
    }

    fn rotated_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(".1");
        PathBuf::from(name)
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path)?;
    // The mode above applies only to a new file: one an older version (or a person) created
    // readable by others is made private too.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
    }
    Ok(file)
}

impl Write for &RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| io::Error::other("log lock poisoned"))?;
        if state.1 > 0 && state.1 + buf.len() as u64 > self.max {
            std::fs::rename(&self.path, self.rotated_path())?;
            *state = (open_append(&self.path)?, 0);
        }
        let n = state.0.write(buf)?;
        state.1 += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| io::Error::other("log lock poisoned"))?;
        state.0.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn an_existing_log_readable_by_others_is_made_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.log");
        std::fs::write(&path, "old line\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _log = RotatingFile::open(&path, 1000).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old line\n");
    }

    #[test]
    fn log_file_rotates_instead_of_growing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("host.log");
        let log = RotatingFile::open(&path, 100).unwrap();
        let line = [b'x'; 40];
        for _ in 0..5 {
            (&log).write_all(&line).unwrap();
        }
        let current = std::fs::metadata(&path).unwrap().len();
        let old = std::fs::metadata(dir.path().join("host.log.1"))
            .unwrap()
            .len();
        assert!(current <= 100 && old <= 100, "{current} {old}");
        assert_eq!(
            current + old,
            120,
            "the oldest lines are dropped, the newest kept"
        );
    }
}
