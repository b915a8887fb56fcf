//! How this binary was installed ([`InstallMethod`]), for the host's `hello` and `doctor`:
//! the `installed-by` file that the package, the tarball's `install.sh`, the Windows
//! `install.ps1` and `make install` write (in `<prefix>/share/preview-switch/`, or beside
//! the `.exe`), else where the binary sits (Cargo's `bin`, a checkout's `target/`).
//! [`detect`] is pure; [`current`] reads the file and the binary's path.

use std::path::{Path, PathBuf};

pub use protocol::install::InstallMethod;

/// The marker file's name and where it sits relative to the binary's directory.
pub const MARKER: &str = "installed-by";
const MARKER_DIRS: [&str; 2] = ["../share/preview-switch", "."];

/// The text a marker holds for each method: one line, `deb`, `tarball <platform>`, `zip`,
/// or `source <checkout>` (written by `make install`).
pub fn marker_text(method: &InstallMethod) -> String {
    match method {
        InstallMethod::Deb => "deb\n".into(),
        InstallMethod::Tarball { platform } => format!("tarball {platform}\n"),
        InstallMethod::Zip => "zip\n".into(),
        InstallMethod::Cargo => "cargo\n".into(),
        InstallMethod::Source { checkout, .. } => format!("source {checkout}\n"),
        InstallMethod::Unknown => "unknown\n".into(),
    }
}

/// Decides from the binary's canonical path, the marker beside it (if any) and Cargo's
/// `bin` directory.
pub fn detect(exe: &Path, marker: Option<&str>, cargo_bin: Option<&Path>) -> InstallMethod {
    if let Some(text) = marker {
        let line = text.lines().next().unwrap_or("").trim();
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        match word {
            "deb" => return InstallMethod::Deb,
            "tarball" if !rest.is_empty() => {
                return InstallMethod::Tarball {
                    platform: rest.to_owned(),
                };
            }
            "zip" => return InstallMethod::Zip,
            "cargo" => return InstallMethod::Cargo,
            "source" if !rest.is_empty() => {
                return InstallMethod::Source {
                    checkout: rest.to_owned(),
                    make_target: "install".into(),
                };
            }
            _ => {}
        }
    }
    if cargo_bin.is_some_and(|bin| exe.parent() == Some(bin)) {
        return InstallMethod::Cargo;
    }
    // `<checkout>/target/<profile>/preview-switch`: run from where it was built.
    let profile_dir = exe.parent();
    let target = profile_dir.and_then(Path::parent);
    if let (Some(profile), Some(target)) = (profile_dir, target)
        && target.file_name().is_some_and(|n| n == "target")
        && matches!(
            profile.file_name().and_then(|n| n.to_str()),
            Some("release" | "debug")
        )
        && let Some(checkout) = target.parent()
    {
        return InstallMethod::Source {
            checkout: checkout.display().to_string(),
            make_target: "build".into(),
        };
    }
    InstallMethod::Unknown
}

/// How a user's shell runs `exe`: its bare name when that name on `path` (a `PATH` value)
/// is `exe` itself, else its full path (single-quoted when the shell would split it), so
/// a printed command works from where the user stands.
pub fn invocation_for(exe: &Path, path: Option<&std::ffi::OsStr>) -> String {
    let exe = exe.canonicalize().unwrap_or_else(|_| exe.to_path_buf());
    let Some(name) = exe.file_name() else {
        return exe.display().to_string();
    };
    let found = path
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find_map(|dir| dir.join(name).canonicalize().ok());
    if found.as_deref() == Some(exe.as_path()) {
        return name.to_string_lossy().trim_end_matches(".exe").to_owned();
    }
    let full = exe.display().to_string();
    if full
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%".contains(&b))
    {
        full
    } else {
        format!("'{}'", full.replace('\'', r"'\''"))
    }
}

/// How the user's shell runs this binary (see [`invocation_for`]).
pub fn invocation() -> String {
    match std::env::current_exe() {
        Ok(exe) => invocation_for(&exe, std::env::var_os("PATH").as_deref()),
        Err(_) => "preview-switch".to_owned(),
    }
}

/// This process's install method.
pub fn current() -> InstallMethod {
    let Ok(exe) = std::env::current_exe().and_then(|p| p.canonicalize()) else {
        return InstallMethod::Unknown;
    };
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let marker = MARKER_DIRS
        .iter()
        .find_map(|d| std::fs::read_to_string(dir.join(d).join(MARKER)).ok());
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().join(".cargo")))
        .map(|home| home.join("bin"))
        .and_then(|bin| bin.canonicalize().ok());
    match detect(&exe, marker.as_deref(), cargo_bin.as_deref()) {
        // A `target/` directory that is not a checkout's (no Cargo.toml beside it).
        InstallMethod::Source { checkout, .. }
            if marker.is_none() && !Path::new(&checkout).join("Cargo.toml").is_file() =>
        {
            InstallMethod::Unknown
        }
        method => method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_decides_and_round_trips() {
        let exe = Path::new("/usr/local/bin/preview-switch");
        for method in [
            InstallMethod::Deb,
            InstallMethod::Tarball {
                platform: "x86_64-linux".into(),
            },
            InstallMethod::Zip,
            InstallMethod::Cargo,
            InstallMethod::Source {
                checkout: "/home/u/src/preview switch".into(),
                make_target: "install".into(),
            },
        ] {
            assert_eq!(
                detect(exe, Some(&marker_text(&method)), None),
                method,
                "{method:?}"
            );
        }
        assert_eq!(detect(exe, Some("tarball\n"), None), InstallMethod::Unknown);
        assert_eq!(detect(exe, Some("snap"), None), InstallMethod::Unknown);
    }

    #[test]
    fn without_a_marker_the_path_tells_cargo_and_a_checkout() {
        let cargo = Path::new("/home/u/.cargo/bin");
        assert_eq!(
            detect(
                Path::new("/home/u/.cargo/bin/preview-switch"),
                None,
                Some(cargo)
            ),
            InstallMethod::Cargo
        );
        assert_eq!(
            detect(
                Path::new("/home/u/ps/target/release/preview-switch"),
                None,
                Some(cargo)
            ),
            InstallMethod::Source {
                checkout: "/home/u/ps".into(),
                make_target: "build".into()
            }
        );
        assert_eq!(
            detect(Path::new("/opt/tools/preview-switch"), None, Some(cargo)),
            InstallMethod::Unknown
        );
        assert_eq!(
            detect(Path::new("/srv/target/x/preview-switch"), None, None),
            InstallMethod::Unknown,
            "not a cargo profile directory"
        );
    }

    /// `make run` prints commands a newcomer pastes: the bare name only when the shell
    /// would find this very binary (issue 15 §6: nothing put a checkout's build on PATH).
    #[test]
    fn a_printed_command_names_the_binary_the_shell_would_run() {
        let dir = tempfile::tempdir().unwrap();
        let built = dir.path().join("target/release");
        let elsewhere = dir.path().join("bin");
        std::fs::create_dir_all(&built).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        let exe = built.join("preview-switch");
        std::fs::write(&exe, "").unwrap();
        let full = exe.canonicalize().unwrap().display().to_string();
        let path = |dirs: &[&Path]| std::env::join_paths(dirs).unwrap();
        assert_eq!(invocation_for(&exe, None), full);
        assert_eq!(invocation_for(&exe, Some(&path(&[&elsewhere]))), full);
        assert_eq!(
            invocation_for(&exe, Some(&path(&[&elsewhere, &built]))),
            "preview-switch"
        );
        // Another preview-switch first on PATH is not this one: the full path.
        std::fs::write(elsewhere.join("preview-switch"), "").unwrap();
        assert_eq!(
            invocation_for(&exe, Some(&path(&[&elsewhere, &built]))),
            full
        );
        // A symlink on PATH to this binary is this binary.
        std::fs::remove_file(elsewhere.join("preview-switch")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&exe, elsewhere.join("preview-switch")).unwrap();
            assert_eq!(
                invocation_for(&exe, Some(&path(&[&elsewhere]))),
                "preview-switch"
            );
        }
        let spaced = dir.path().join("my tools");
        std::fs::create_dir_all(&spaced).unwrap();
        let odd = spaced.join("preview-switch");
        std::fs::write(&odd, "").unwrap();
        let quoted = invocation_for(&odd, None);
        assert!(
            quoted.starts_with('\'') && quoted.ends_with("my tools/preview-switch'"),
            "{quoted}"
        );
    }
}
