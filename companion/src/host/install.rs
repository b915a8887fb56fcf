//! Native-messaging host manifests: what they say, and `install` / `uninstall` / `check`
//! over the one table of where each browser looks ([`browsers`]: Linux and macOS
//! directories, Windows registry keys). The home directory, OS and binary path are inputs,
//! so tests install into temp dirs.
//!
//! Firefox manifests allow exactly the shipped add-on id ([`FIREFOX_EXTENSION_ID`], the
//! Firefox build's `gecko.id`). A Chrome-family id other than the published one is also
//! recorded ([`recorded_ids`]): the browser tells the host only the caller's origin, not
//! which manifest allowed it, so the record is how the host knows whom it was installed for.
//! `uninstall` drops from the record every id that no remaining manifest allows.
//!
//! On Windows a browser finds the manifest through a registry key (`HKCU` for the user,
//! `HKLM` for `--system`) whose default value is the file's path; each browser gets its own
//! file under `%LOCALAPPDATA%` (or `%PROGRAMDATA%`), so removing one browser's registration
//! never breaks another's. The keys are written by [`registry`], built only for Windows.
//!
//! Why not the `native_messaging` crate's installer: ARCHITECTURE.md, "companion/src/host/".

pub mod browsers;
#[cfg(windows)]
mod registry;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use browsers::{Browser, Hive, Os, RegistryKey, Scope, registry_key};

use super::{EXTENSION_ID, FIREFOX_EXTENSION_ID, HOST_NAME};
use crate::error::{Error, Problem, Result};

/// Everything `install`, `uninstall` and `check` need; [`InstallOptions::new`] fills the
/// environment-dependent parts for the real binary.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    pub browsers: Vec<Browser>,
    pub scope: Scope,
    /// Chrome-family extension ids for `allowed_origins` (32 letters a–p). Firefox always
    /// gets [`FIREFOX_EXTENSION_ID`].
    pub extension_ids: Vec<String>,
    /// Where ids other than the published one are recorded for the host; `None`: nowhere.
    pub record: Option<PathBuf>,
    /// `--user-data-dir`: one Chrome-family profile; the manifest goes to
    /// `<dir>/NativeMessagingHosts/`, the only place such a profile reads.
    pub user_data_dir: Option<PathBuf>,
    pub home: PathBuf,
    pub os: Os,
    /// The absolute path written as the manifest's `path`.
    pub exe: PathBuf,
    /// Windows: the directory below which a user install keeps its manifest files
    /// (`%LOCALAPPDATA%\previewswitch\preview-switch\data`).
    pub user_files: PathBuf,
    /// The machine-wide directory of preview-switch (`/etc/preview-switch`, or
    /// `%PROGRAMDATA%\preview-switch`; see `config::system_config_path`): the system record,
    /// and on Windows the files of a `--system` install.
    pub system_files: PathBuf,
}

impl InstallOptions {
    /// Options for this user and this binary, with the default extension ids.
    pub fn new(browsers: Vec<Browser>, scope: Scope) -> Result<InstallOptions> {
        let home = directories::BaseDirs::new()
            .map(|d| d.home_dir().to_owned())
            .ok_or_else(|| {
                Error::Usage(Problem::new(
                    "cannot find your home directory",
                    "set HOME to install host manifests",
                ))
            })?;
        let exe = std::env::current_exe()
            .and_then(|p| p.canonicalize())
            .map_err(|source| Error::Io {
                what: "finding the path of the preview-switch binary".to_owned(),
                source,
            })?;
        let system_files = crate::config::system_dir(&|k| std::env::var(k).ok());
        let user_files = project_dirs()
            .map(|d| d.data_local_dir().to_owned())
            .unwrap_or_else(|| home.join(".preview-switch"));
        Ok(InstallOptions {
            browsers,
            scope,
            extension_ids: vec![EXTENSION_ID.to_owned()],
            record: match scope {
                Scope::User => record_path(),
                Scope::System => Some(system_files.join(RECORD_FILE)),
            },
            user_data_dir: None,
            home,
            os: Os::current(),
            exe,
            user_files,
            system_files,
        })
    }

    /// The manifest file for `browser`, or why there is none.
    pub fn manifest_path(&self, browser: Browser) -> Result<PathBuf> {
        let file = format!("{HOST_NAME}.json");
        if let Some(dir) = &self.user_data_dir {
            if browser.is_firefox() {
                return Err(Error::Usage(Problem::new(
                    "--user-data-dir is for Chrome-family profiles; Firefox reads host manifests only from its global directories",
                    "drop --user-data-dir for firefox",
                )));
            }
            if !browser.locations().reads_user_data_dir {
                return Err(Error::Usage(Problem::new(
                    format!(
                        "{browser} reads host manifests only from its default directories, whatever --user-data-dir says (brave-core app/brave_main_delegate.cc)"
                    ),
                    format!("drop --user-data-dir for {browser}"),
                )));
            }
            if self.os == Os::Windows {
                return Err(Error::Usage(Problem::new(
                    "on Windows browsers find hosts only through the registry, not in a profile directory",
                    "drop --user-data-dir",
                )));
            }
            return Ok(dir.join("NativeMessagingHosts").join(file));
        }
        let l = browser.locations();
        let dir = match (self.os, self.scope) {
            (Os::Linux, Scope::User) => self.home.join(l.linux_user),
            (Os::MacOs, Scope::User) => self.home.join(l.macos_user),
            (Os::Linux, Scope::System) => PathBuf::from(l.linux_system),
            (Os::MacOs, Scope::System) => PathBuf::from(l.macos_system),
            (Os::Windows, Scope::User) => windows_dir(&self.user_files, browser),
            (Os::Windows, Scope::System) => windows_dir(&self.system_files, browser),
        };
        Ok(dir.join(file))
    }

    /// On Windows, the registry key that points `browser` at its manifest.
    pub fn registry_key(&self, browser: Browser) -> Option<RegistryKey> {
        (self.os == Os::Windows && self.user_data_dir.is_none())
            .then(|| registry_key(browser, self.scope, HOST_NAME))
    }

    /// The browsers this call is about; with `--user-data-dir` and several browsers, the
    /// first Chrome-family browser that reads a profile's directory (one profile dir, one
    /// manifest).
    fn targets(&self) -> Vec<Browser> {
        let mut browsers = self.browsers.clone();
        if self.user_data_dir.is_some() && browsers.len() > 1 {
            browsers.retain(|b| b.locations().reads_user_data_dir);
            browsers.truncate(1);
        }
        browsers
    }
}

/// Windows: one file per browser, so that removing one never breaks another (the
/// `native_messaging` crate shares one file among every Chromium browser).
fn windows_dir(base: &Path, browser: Browser) -> PathBuf {
    base.join("NativeMessagingHosts").join(browser.name())
}

/// A host manifest as browsers read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub description: String,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_extensions: Option<Vec<String>>,
}

/// The manifest for `browser`: `allowed_origins` for the Chrome family, `allowed_extensions`
/// for Firefox. Pure: data in, data out.
pub fn manifest(browser: Browser, opts: &InstallOptions) -> Result<Manifest> {
    let path = opts
        .exe
        .to_str()
        .filter(|_| opts.exe.is_absolute())
        .ok_or_else(|| {
            Error::Usage(Problem::new(
                format!(
                    "the binary path {} must be absolute UTF-8 for a host manifest",
                    opts.exe.display()
                ),
                "move preview-switch to such a path",
            ))
        })?;
    let (origins, extensions) = if browser.is_firefox() {
        (None, Some(vec![FIREFOX_EXTENSION_ID.to_owned()]))
    } else {
        for id in &opts.extension_ids {
            if !is_chrome_id(id) {
                return Err(Error::Usage(Problem::new(
                    format!("extension id {id:?} is not a Chrome extension id (32 letters a-p)"),
                    "copy it from chrome://extensions",
                )));
            }
        }
        (
            Some(
                opts.extension_ids
                    .iter()
                    .map(|id| format!("chrome-extension://{id}/"))
                    .collect(),
            ),
            None,
        )
    };
    Ok(Manifest {
        name: HOST_NAME.to_owned(),
        description: "Preview Switch companion: lists Argo CD PR previews for the extension"
            .to_owned(),
        path: path.to_owned(),
        kind: "stdio".to_owned(),
        allowed_origins: origins,
        allowed_extensions: extensions,
    })
}

/// Whether `id` is a Chrome-family extension id (32 letters a-p).
pub fn is_chrome_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| (b'a'..=b'p').contains(&b))
}

/// What `install` or `uninstall` did for one browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub browser: Browser,
    pub path: PathBuf,
}

pub(crate) const RECORD_FILE: &str = "extension-ids";

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("io", "previewswitch", "preview-switch")
}

/// The file that lists, one a line, the Chrome-family ids `install` allowed besides the
/// published one: `preview-switch/extension-ids` in the user's data dir.
fn record_path() -> Option<PathBuf> {
    project_dirs().map(|d| d.data_dir().join(RECORD_FILE))
}

/// The ids `install --extension-id` recorded for this user and, with `--system`, for the
/// machine (`<system dir>/extension-ids`); none when there is no record. Lines that are not
/// Chrome extension ids are skipped.
pub fn recorded_ids() -> Vec<String> {
    let system = crate::config::system_dir(&|k| std::env::var(k).ok()).join(RECORD_FILE);
    let mut ids = read_record(&system);
    for id in record_path().map_or_else(Vec::new, |p| read_record(&p)) {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

fn read_record(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|id| is_chrome_id(id))
        .map(str::to_owned)
        .collect()
}

/// Adds the non-published ids of this install to the record, keeping the ones already there.
fn record(opts: &InstallOptions) -> Result<()> {
    let Some(path) = &opts.record else {
        return Ok(());
    };
    let mut ids = read_record(path);
    let before = ids.len();
    for id in &opts.extension_ids {
        if id != EXTENSION_ID && !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    if ids.len() == before {
        return Ok(());
    }
    let io = |what: &str| {
        let what = format!("{what} {}", path.display());
        move |source| Error::Io { what, source }
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("creating the directory of"))?;
    }
    let text: String = ids.iter().map(|id| format!("{id}\n")).collect();
    std::fs::write(path, text).map_err(io("recording the extension ids in"))
}

/// Writes the manifest for every chosen browser (creating the directories). Manifests are
/// 0644 and the directories created 0755 whatever the umask: every browser user must read a
/// system-wide one, and no other user may change it. `--system` refuses a binary that a
/// non-root user could replace, which would run as every user who opens the browser.
pub fn install(opts: &InstallOptions) -> Result<Vec<Done>> {
    if opts.scope == Scope::System {
        only_root_can_replace(&opts.exe)?;
    }
    let targets = opts.targets();
    let custom_id = opts.extension_ids.iter().any(|id| id != EXTENSION_ID);
    if custom_id && targets.iter().all(|b| b.is_firefox()) {
        return Err(Error::Usage(Problem::new(
            format!(
                "--extension-id is for Chrome-family browsers; Firefox runs only the shipped add-on {FIREFOX_EXTENSION_ID}"
            ),
            "drop --extension-id for firefox",
        )));
    }
    if targets.iter().any(|b| !b.is_firefox()) {
        record(opts)?;
    }
    let mut done = Vec::new();
    for browser in targets {
        let path = opts.manifest_path(browser)?;
        let body = serde_json::to_vec_pretty(&manifest(browser, opts)?).expect("serialise");
        let io = |what: &str| {
            let what = format!("{what} {}", path.display());
            move |source| Error::Io { what, source }
        };
        if let Some(dir) = path.parent() {
            let created: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
            std::fs::create_dir_all(dir).map_err(io("creating the directory of"))?;
            for d in created {
                set_mode(d, 0o755).map_err(io("setting the mode of the directory of"))?;
            }
        }
        std::fs::write(&path, body).map_err(io("writing the host manifest"))?;
        set_mode(&path, 0o644).map_err(io("setting the mode of"))?;
        if let Some(key) = opts.registry_key(browser) {
            registry_set(&key, &path)?;
        }
        done.push(Done { browser, path });
    }
    Ok(done)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> std::io::Result<()> {
    Ok(())
}

/// Refuses `exe` unless it and every directory above it belong to root and are writable by
/// no one else (no group or other write bit).
#[cfg(unix)]
fn only_root_can_replace(exe: &Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let real = std::fs::canonicalize(exe).map_err(|source| Error::Io {
        what: format!("finding the binary {}", exe.display()),
        source,
    })?;
    for p in real.ancestors() {
        let meta = std::fs::metadata(p).map_err(|source| Error::Io {
            what: format!("reading the owner of {}", p.display()),
            source,
        })?;
        let why = if meta.uid() != 0 {
            format!("is owned by user {}, not root", meta.uid())
        } else if meta.mode() & 0o022 != 0 {
            format!(
                "can be changed by other users (mode {:o})",
                meta.mode() & 0o7777
            )
        } else {
            continue;
        };
        return Err(Error::Usage(Problem::new(
            format!(
                "a system-wide host manifest would run {}, but {} {why}, so another user could replace what every browser user runs",
                real.display(),
                p.display()
            ),
            "copy preview-switch to a root-owned directory (e.g. sudo install -m 0755 preview-switch /usr/local/bin/) and run install --system from there, or install without --system",
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn only_root_can_replace(_: &Path) -> Result<()> {
    Ok(())
}

/// Removes the manifests (and on Windows their registry keys) that exist; returns the ones
/// removed. Then drops from the record every id that no remaining manifest allows.
pub fn uninstall(opts: &InstallOptions) -> Result<Vec<Done>> {
    let mut done = Vec::new();
    for browser in opts.targets() {
        let path = opts.manifest_path(browser)?;
        let mut removed = match std::fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(source) => {
                return Err(Error::Io {
                    what: format!("removing the host manifest {}", path.display()),
                    source,
                });
            }
        };
        if let Some(key) = opts.registry_key(browser) {
            removed |= registry_delete(&key)?;
        }
        if removed {
            done.push(Done { browser, path });
        }
    }
    prune_record(opts)?;
    Ok(done)
}

/// The Chrome-family ids the manifests still on disk allow: those in the browsers' own
/// directories for this scope, and the profile's with `--user-data-dir`.
fn ids_still_allowed(opts: &InstallOptions) -> Vec<String> {
    let mut paths: Vec<PathBuf> = Vec::new();
    let standard = InstallOptions {
        user_data_dir: None,
        ..opts.clone()
    };
    for browser in Browser::ALL.into_iter().filter(|b| !b.is_firefox()) {
        paths.extend(standard.manifest_path(browser).ok());
        if opts.user_data_dir.is_some() {
            paths.extend(opts.manifest_path(browser).ok());
        }
    }
    let mut ids = Vec::new();
    for path in paths {
        let Some(found) = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
        else {
            continue;
        };
        for origin in found.allowed_origins.unwrap_or_default() {
            let id = origin
                .trim_start_matches("chrome-extension://")
                .trim_end_matches('/');
            if !ids.iter().any(|i| i == id) {
                ids.push(id.to_owned());
            }
        }
    }
    ids
}

fn prune_record(opts: &InstallOptions) -> Result<()> {
    let Some(path) = &opts.record else {
        return Ok(());
    };
    let ids = read_record(path);
    if ids.is_empty() {
        return Ok(());
    }
    let allowed = ids_still_allowed(opts);
    let kept: Vec<&String> = ids.iter().filter(|id| allowed.contains(id)).collect();
    if kept.len() == ids.len() {
        return Ok(());
    }
    let result = if kept.is_empty() {
        std::fs::remove_file(path)
    } else {
        std::fs::write(
            path,
            kept.iter().map(|id| format!("{id}\n")).collect::<String>(),
        )
    };
    result.map_err(|source| Error::Io {
        what: format!("updating the extension-id record {}", path.display()),
        source,
    })
}

#[cfg(windows)]
fn registry_set(key: &RegistryKey, manifest: &Path) -> Result<()> {
    registry::set(key, manifest).map_err(|source| Error::Io {
        what: format!("writing the registry key {key}"),
        source,
    })
}

#[cfg(windows)]
fn registry_delete(key: &RegistryKey) -> Result<bool> {
    registry::delete(key).map_err(|source| Error::Io {
        what: format!("removing the registry key {key}"),
        source,
    })
}

#[cfg(windows)]
fn registry_get(key: &RegistryKey) -> std::io::Result<Option<String>> {
    registry::get(key)
}

/// Only a Windows build writes the registry; elsewhere [`Os::Windows`] is only the pure table.
#[cfg(not(windows))]
fn registry_set(key: &RegistryKey, _: &Path) -> Result<()> {
    Err(not_windows(key))
}

#[cfg(not(windows))]
fn registry_delete(key: &RegistryKey) -> Result<bool> {
    Err(not_windows(key))
}

#[cfg(not(windows))]
fn registry_get(_: &RegistryKey) -> std::io::Result<Option<String>> {
    Ok(None)
}

#[cfg(not(windows))]
fn not_windows(key: &RegistryKey) -> Error {
    Error::Usage(Problem::new(
        format!("the registry key {key} can only be written on Windows"),
        "run the Windows build of preview-switch",
    ))
}

/// The state of one browser's manifest, for `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestState {
    /// Present, pointing at this binary, naming the right extension.
    Ok,
    /// The browser seems installed but the manifest is not there.
    Missing,
    Unreadable(String),
    /// It points at another binary (an older install, another checkout).
    WrongPath(String),
    /// It does not allow the configured extension id(s).
    WrongExtension(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub browser: Browser,
    pub scope: Scope,
    pub path: PathBuf,
    pub state: ManifestState,
}

impl Check {
    /// The command that fixes it, when something is wrong.
    pub fn fix(&self) -> Option<String> {
        let command = match (self.scope, cfg!(windows)) {
            (Scope::User, _) => "preview-switch install",
            (Scope::System, false) => "sudo preview-switch install --system",
            (Scope::System, true) => "preview-switch install --system",
        };
        (self.state != ManifestState::Ok)
            .then(|| format!("run `{command} --browser {}`", self.browser))
    }
}

/// For every chosen browser that is installed (its profile directory exists) or has a
/// manifest: whether the manifest exists, points at this binary and allows the right id.
pub fn check(opts: &InstallOptions) -> Vec<Check> {
    let mut checks = Vec::new();
    for browser in opts.targets() {
        let Ok(mut path) = opts.manifest_path(browser) else {
            continue;
        };
        if let Some(key) = opts.registry_key(browser) {
            // Windows: the browser reads whatever file its key names.
            match registry_get(&key) {
                Ok(Some(named)) => path = PathBuf::from(named),
                Ok(None) => continue,
                Err(e) => {
                    checks.push(Check {
                        browser,
                        scope: opts.scope,
                        path,
                        state: ManifestState::Unreadable(format!("{key}: {e}")),
                    });
                    continue;
                }
            }
        } else {
            // `…/NativeMessagingHosts/x.json` → the browser's own config dir.
            let browser_dir = path.parent().and_then(Path::parent);
            let found = path.exists() || browser_dir.is_some_and(Path::is_dir);
            if !found {
                continue;
            }
        }
        let state = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ManifestState::Missing,
            Err(e) => ManifestState::Unreadable(e.to_string()),
            Ok(bytes) => match serde_json::from_slice::<Manifest>(&bytes) {
                Err(e) => ManifestState::Unreadable(e.to_string()),
                Ok(found) => judge(browser, opts, &found),
            },
        };
        checks.push(Check {
            browser,
            scope: opts.scope,
            path,
            state,
        });
    }
    checks
}

fn judge(browser: Browser, opts: &InstallOptions, found: &Manifest) -> ManifestState {
    let Ok(wanted) = manifest(browser, opts) else {
        return ManifestState::Unreadable("cannot build the expected manifest".to_owned());
    };
    let same_binary = Path::new(&found.path)
        .canonicalize()
        .map_or(found.path == wanted.path, |p| p == Path::new(&wanted.path));
    if !same_binary {
        return ManifestState::WrongPath(found.path.clone());
    }
    let (have, want) = if browser.is_firefox() {
        (&found.allowed_extensions, &wanted.allowed_extensions)
    } else {
        (&found.allowed_origins, &wanted.allowed_origins)
    };
    let have = have.clone().unwrap_or_default();
    let want = want.clone().unwrap_or_default();
    // Firefox: exactly the shipped id; another one would only be refused by the host.
    let fits = if browser.is_firefox() {
        have == want
    } else {
        want.iter().all(|w| have.contains(w))
    };
    if fits {
        ManifestState::Ok
    } else {
        ManifestState::WrongExtension(have)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Surface;

    fn opts(home: &Path, os: Os, browsers: Vec<Browser>) -> InstallOptions {
        InstallOptions {
            browsers,
            scope: Scope::User,
            extension_ids: vec![EXTENSION_ID.to_owned()],
            record: Some(home.join("record/extension-ids")),
            user_data_dir: None,
            home: home.to_owned(),
            os,
            exe: PathBuf::from("/opt/preview-switch/bin/preview-switch"),
            user_files: home.join("AppData/Local/preview-switch"),
            system_files: home.join("ProgramData/preview-switch"),
        }
    }

    #[test]
    fn installs_every_browser_at_its_documented_path_and_uninstalls() {
        let expected_linux = [
            (
                Browser::Chrome,
                ".config/google-chrome/NativeMessagingHosts",
            ),
            (Browser::Chromium, ".config/chromium/NativeMessagingHosts"),
            (
                Browser::Brave,
                ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
            ),
            (Browser::Edge, ".config/microsoft-edge/NativeMessagingHosts"),
            (Browser::Vivaldi, ".config/vivaldi/NativeMessagingHosts"),
            (Browser::Firefox, ".mozilla/native-messaging-hosts"),
        ];
        let expected_macos = [
            (
                Browser::Chrome,
                "Library/Application Support/Google/Chrome/NativeMessagingHosts",
            ),
            (
                Browser::Chromium,
                "Library/Application Support/Chromium/NativeMessagingHosts",
            ),
            // Brave reads Chrome's directory on macOS (see `brave_reads_chromes_directories`).
            (
                Browser::Brave,
                "Library/Application Support/Google/Chrome/NativeMessagingHosts",
            ),
            (
                Browser::Edge,
                "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
            ),
            (
                Browser::Vivaldi,
                "Library/Application Support/Vivaldi/NativeMessagingHosts",
            ),
            (
                Browser::Firefox,
                "Library/Application Support/Mozilla/NativeMessagingHosts",
            ),
        ];
        for (os, expected) in [(Os::Linux, expected_linux), (Os::MacOs, expected_macos)] {
            let home = tempfile::tempdir().unwrap();
            let o = opts(home.path(), os, Browser::parse_list("all").unwrap());
            let done = install(&o).unwrap();
            assert_eq!(done.len(), 6);
            for (browser, dir) in expected {
                let path = home
                    .path()
                    .join(dir)
                    .join("io.previewswitch.companion.json");
                assert!(done.contains(&Done {
                    browser,
                    path: path.clone()
                }));
                let json: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                assert_eq!(json["name"], "io.previewswitch.companion");
                assert_eq!(json["type"], "stdio");
                assert_eq!(json["path"], "/opt/preview-switch/bin/preview-switch");
                if browser == Browser::Firefox {
                    assert_eq!(
                        json["allowed_extensions"],
                        serde_json::json!(["preview-switch@previewswitch.io"])
                    );
                    assert!(json.get("allowed_origins").is_none());
                } else {
                    assert_eq!(
                        json["allowed_origins"],
                        serde_json::json!([format!("chrome-extension://{EXTENSION_ID}/")])
                    );
                    assert!(json.get("allowed_extensions").is_none());
                }
            }
            let checks = check(&o);
            assert_eq!(checks.len(), 6);
            assert!(
                checks
                    .iter()
                    .all(|c| c.state == ManifestState::Ok && c.fix().is_none())
            );

            let removed = uninstall(&o).unwrap();
            // On macOS Brave's manifest is Chrome's file, removed with Chrome's.
            assert_eq!(removed.len(), if os == Os::MacOs { 5 } else { 6 });
            for d in &removed {
                assert!(!d.path.exists(), "{}", d.path.display());
            }
            assert_eq!(
                uninstall(&o).unwrap(),
                vec![],
                "a second uninstall is a no-op"
            );
            let checks = check(&o);
            assert!(checks.iter().all(|c| c.state == ManifestState::Missing));
        }
    }

    #[test]
    fn user_data_dir_gets_one_chrome_manifest_with_the_given_id() {
        let profile = tempfile::tempdir().unwrap();
        let mut o = opts(
            Path::new("/nonexistent"),
            Os::Linux,
            vec![Browser::Chromium],
        );
        o.user_data_dir = Some(profile.path().to_owned());
        o.extension_ids = vec!["pppppppppppppppppppppppppppppppp".to_owned()];
        let record = profile.path().join("data/extension-ids");
        o.record = Some(record.clone());
        let done = install(&o).unwrap();
        // The host launched for that id must know it was installed for it.
        assert_eq!(read_record(&record), ["pppppppppppppppppppppppppppppppp"]);
        install(&o).unwrap();
        assert_eq!(
            std::fs::read_to_string(&record).unwrap(),
            "pppppppppppppppppppppppppppppppp\n",
            "recorded once"
        );
        let path = profile
            .path()
            .join("NativeMessagingHosts/io.previewswitch.companion.json");
        assert_eq!(
            done,
            vec![Done {
                browser: Browser::Chromium,
                path: path.clone()
            }]
        );
        let m: Manifest = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            m.allowed_origins,
            Some(vec![
                "chrome-extension://pppppppppppppppppppppppppppppppp/".to_owned()
            ])
        );
        // `all` with a profile dir writes that one file, not six.
        o.browsers = Browser::ALL.to_vec();
        assert_eq!(install(&o).unwrap().len(), 1);
        o.browsers = vec![Browser::Firefox];
        let err = install(&o).unwrap_err().to_string();
        assert!(err.contains("--extension-id is for Chrome-family"), "{err}");
        o.extension_ids = vec![EXTENSION_ID.to_owned()];
        let err = install(&o).unwrap_err().to_string();
        assert!(err.contains("--user-data-dir"), "{err}");
    }

    #[test]
    fn firefox_gets_exactly_the_shipped_add_on_id_and_nothing_is_recorded_for_it() {
        let home = tempfile::tempdir().unwrap();
        let o = opts(home.path(), Os::Linux, vec![Browser::Firefox]);
        let [done] = &install(&o).unwrap()[..] else {
            panic!("one manifest")
        };
        let m: Manifest = serde_json::from_slice(&std::fs::read(&done.path).unwrap()).unwrap();
        assert_eq!(
            m.allowed_extensions,
            Some(vec![protocol::ids::FIREFOX_EXTENSION_ID.to_owned()])
        );
        assert_eq!(m.allowed_origins, None);
        assert!(!home.path().join("record").exists());

        // A manifest that also lets another add-on start the host is reported by doctor.
        let mut wider = m.clone();
        wider
            .allowed_extensions
            .as_mut()
            .unwrap()
            .push("evil@example.com".into());
        std::fs::write(&done.path, serde_json::to_vec(&wider).unwrap()).unwrap();
        assert!(matches!(
            check(&o)[0].state,
            ManifestState::WrongExtension(_)
        ));
    }

    #[test]
    fn system_scope_uses_each_browsers_machine_wide_directory() {
        let mut o = opts(Path::new("/home/u"), Os::Linux, vec![]);
        o.scope = Scope::System;
        let linux = [
            (Browser::Chrome, "/etc/opt/chrome/native-messaging-hosts"),
            (Browser::Chromium, "/etc/chromium/native-messaging-hosts"),
            (Browser::Brave, "/etc/opt/chrome/native-messaging-hosts"),
            (Browser::Edge, "/etc/opt/edge/native-messaging-hosts"),
            (Browser::Vivaldi, "/etc/opt/vivaldi/native-messaging-hosts"),
            (Browser::Firefox, "/usr/lib/mozilla/native-messaging-hosts"),
        ];
        for (browser, dir) in linux {
            assert_eq!(
                o.manifest_path(browser).unwrap(),
                Path::new(dir).join("io.previewswitch.companion.json"),
                "{browser}"
            );
        }
        o.os = Os::MacOs;
        let macos = [
            (
                Browser::Chrome,
                "/Library/Google/Chrome/NativeMessagingHosts",
            ),
            (
                Browser::Chromium,
                "/Library/Application Support/Chromium/NativeMessagingHosts",
            ),
            (
                Browser::Brave,
                "/Library/Google/Chrome/NativeMessagingHosts",
            ),
            (
                Browser::Edge,
                "/Library/Microsoft/Edge/NativeMessagingHosts",
            ),
            (
                Browser::Vivaldi,
                "/Library/Application Support/Vivaldi/NativeMessagingHosts",
            ),
            (
                Browser::Firefox,
                "/Library/Application Support/Mozilla/NativeMessagingHosts",
            ),
        ];
        for (browser, dir) in macos {
            assert_eq!(
                o.manifest_path(browser).unwrap(),
                Path::new(dir).join("io.previewswitch.companion.json"),
                "{browser}"
            );
        }
    }

    /// Brave reads host manifests from Chrome's directories, not its own: brave-core
    /// `app/brave_main_delegate.cc`, `BraveMainDelegate::PreSandboxStartup` ("Setup
    /// NativeMessagingHosts to point to the default Chrome locations") overrides
    /// `DIR_NATIVE_MESSAGING` with `/etc/opt/chrome/native-messaging-hosts` on Linux and
    /// `/Library/Google/Chrome/NativeMessagingHosts` on macOS, and `DIR_USER_NATIVE_MESSAGING`
    /// with `<default user data dir>/NativeMessagingHosts`, which on macOS is Chrome's
    /// (`DIR_APP_DATA` + `Google/Chrome`). The regression: we wrote `/etc/brave/...` (Brave's
    /// policy root) and `BraveSoftware/Brave-Browser` on macOS, where Brave never looked.
    #[test]
    fn brave_reads_chromes_directories() {
        let home = Path::new("/home/u");
        let mut o = opts(home, Os::Linux, vec![Browser::Brave]);
        assert_eq!(
            o.manifest_path(Browser::Brave).unwrap(),
            home.join(".config/BraveSoftware/Brave-Browser/NativeMessagingHosts/io.previewswitch.companion.json")
        );
        o.scope = Scope::System;
        assert_eq!(
            o.manifest_path(Browser::Brave).unwrap(),
            o.manifest_path(Browser::Chrome).unwrap()
        );
        o.os = Os::MacOs;
        assert_eq!(
            o.manifest_path(Browser::Brave).unwrap(),
            o.manifest_path(Browser::Chrome).unwrap()
        );
        o.scope = Scope::User;
        assert_eq!(
            o.manifest_path(Browser::Brave).unwrap(),
            home.join("Library/Application Support/Google/Chrome/NativeMessagingHosts/io.previewswitch.companion.json")
        );
        // The same override ignores --user-data-dir: a profile directory is never read.
        o.user_data_dir = Some(PathBuf::from("/tmp/profile"));
        let err = o
            .manifest_path(Browser::Brave)
            .unwrap_err()
            .with_fix(Surface::Cli);
        assert!(err.contains("brave_main_delegate.cc"), "{err}");
        assert!(err.contains("drop --user-data-dir for brave"), "{err}");
        o.browsers = Browser::ALL.to_vec();
        assert_eq!(
            o.targets(),
            vec![Browser::Chrome],
            "all: the first that reads it"
        );
    }

    /// Windows: one manifest file per browser under %LOCALAPPDATA% (user) or %PROGRAMDATA%
    /// (system), each named by its browser's registry key in HKCU or HKLM.
    #[test]
    fn windows_keeps_a_file_per_browser_named_by_its_registry_key() {
        let home = Path::new("C:/Users/u");
        let mut o = opts(home, Os::Windows, Browser::ALL.to_vec());
        let mut files = Vec::new();
        for browser in Browser::ALL {
            let path = o.manifest_path(browser).unwrap();
            assert_eq!(
                path,
                home.join("AppData/Local/preview-switch/NativeMessagingHosts")
                    .join(browser.name())
                    .join("io.previewswitch.companion.json")
            );
            files.push(path);
            let key = o.registry_key(browser).unwrap();
            assert_eq!(key.hive, Hive::CurrentUser);
            assert!(
                key.path
                    .ends_with(r"\NativeMessagingHosts\io.previewswitch.companion")
            );
        }
        files.dedup();
        assert_eq!(files.len(), 6, "no file shared between browsers");
        o.scope = Scope::System;
        assert_eq!(
            o.manifest_path(Browser::Firefox).unwrap(),
            home.join("ProgramData/preview-switch/NativeMessagingHosts/firefox/io.previewswitch.companion.json")
        );
        assert_eq!(
            o.registry_key(Browser::Firefox).unwrap().to_string(),
            r"HKEY_LOCAL_MACHINE\Software\Mozilla\NativeMessagingHosts\io.previewswitch.companion"
        );
        o.user_data_dir = Some(PathBuf::from("C:/profile"));
        assert_eq!(o.registry_key(Browser::Chrome), None);
        let err = o
            .manifest_path(Browser::Chrome)
            .unwrap_err()
            .with_fix(Surface::Cli);
        assert!(err.contains("only through the registry"), "{err}");
    }

    /// The leftover from issue 15: `uninstall` kept recorded ids, so a host kept serving an
    /// extension nobody had registered any more.
    #[test]
    fn uninstall_drops_recorded_ids_no_manifest_allows_any_more() {
        let home = tempfile::tempdir().unwrap();
        let record = home.path().join("record/extension-ids");
        let mut o = opts(home.path(), Os::Linux, vec![Browser::Chromium]);
        let a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        o.extension_ids = vec![a.to_owned()];
        install(&o).unwrap();
        o.browsers = vec![Browser::Edge];
        o.extension_ids = vec![b.to_owned()];
        install(&o).unwrap();
        assert_eq!(read_record(&record), [a, b]);

        // Edge's manifest goes: its id is no longer allowed anywhere.
        uninstall(&o).unwrap();
        assert_eq!(read_record(&record), [a]);
        // Chromium's still allows `a`, whichever browsers the uninstall named.
        o.browsers = vec![Browser::Chrome];
        uninstall(&o).unwrap();
        assert_eq!(read_record(&record), [a]);
        o.browsers = vec![Browser::Chromium];
        uninstall(&o).unwrap();
        assert!(!record.exists(), "the record goes with the last id");
    }

    /// Finding 7: a system-wide manifest must not point at a binary another user can
    /// replace (the modes it writes are tested on the built binary under umask 077,
    /// `companion/tests/it/hostile.rs`).
    #[cfg(unix)]
    #[test]
    fn system_install_refuses_a_binary_other_users_can_replace() {
        use std::os::unix::fs::PermissionsExt;
        let home = tempfile::tempdir().unwrap();
        let shared = home.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let exe = shared.join("preview-switch");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        let mut o = opts(home.path(), Os::Linux, vec![]);
        o.scope = Scope::System;
        o.browsers = vec![Browser::Chromium];
        o.exe = exe;
        let err = install(&o).unwrap_err().with_fix(Surface::Cli);
        assert!(err.contains("another user could replace"), "{err}");
        assert!(err.contains("sudo install -m 0755"), "{err}");
        // A root-owned binary in root-owned directories passes the check.
        assert!(only_root_can_replace(Path::new("/bin/sh")).is_ok());
    }

    #[test]
    fn check_reports_wrong_binary_wrong_id_and_skips_absent_browsers() {
        let home = tempfile::tempdir().unwrap();
        let mut o = opts(
            home.path(),
            Os::Linux,
            vec![Browser::Chromium, Browser::Edge],
        );
        install(&o).unwrap();
        assert_eq!(check(&o).len(), 2);

        let mut other = o.clone();
        other.exe = PathBuf::from("/usr/local/bin/old-preview-switch");
        let states: Vec<_> = check(&other).into_iter().map(|c| c.state).collect();
        assert_eq!(
            states,
            vec![ManifestState::WrongPath("/opt/preview-switch/bin/preview-switch".into()); 2]
        );

        o.extension_ids = vec!["pppppppppppppppppppppppppppppppp".to_owned()];
        let c = &check(&o)[0];
        assert_eq!(
            c.state,
            ManifestState::WrongExtension(vec![format!("chrome-extension://{EXTENSION_ID}/")])
        );
        assert_eq!(
            c.fix().unwrap(),
            "run `preview-switch install --browser chromium`"
        );

        // Brave's config dir does not exist: not installed, nothing to report.
        o.browsers = vec![Browser::Brave];
        assert_eq!(check(&o), vec![]);
    }

    #[test]
    fn refuses_bad_ids_browsers_and_relative_binaries() {
        let mut o = opts(Path::new("/home/u"), Os::Linux, vec![Browser::Chrome]);
        o.extension_ids = vec!["not-an-id".to_owned()];
        assert!(
            manifest(Browser::Chrome, &o)
                .unwrap_err()
                .to_string()
                .contains("32 letters a-p")
        );
        o.extension_ids = vec![EXTENSION_ID.to_owned()];
        o.exe = PathBuf::from("target/preview-switch");
        assert!(
            manifest(Browser::Chrome, &o)
                .unwrap_err()
                .to_string()
                .contains("absolute")
        );
        let err = Browser::parse_list("safari")
            .unwrap_err()
            .with_fix(Surface::Cli);
        assert!(
            err.contains("all, or one or more of chrome, chromium, brave, edge, vivaldi, firefox"),
            "{err}"
        );
        assert_eq!(Browser::parse_list("Brave").unwrap(), vec![Browser::Brave]);
    }
}
