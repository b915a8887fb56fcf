//! What each release artifact holds, as data: the Debian package's tree (with its `DEBIAN/`
//! control files), the Linux and macOS tarballs' (with `install.sh`) and the Windows zip's
//! (with `install.ps1`). Pure: [`layout`] turns the version, the generated man pages and
//! completions and the binary's size into [`Entry`]s; `preview-switch stage` writes them and
//! `scripts/dist.sh` packs them (`dpkg-deb --build`, `tar`, `zip`). The host manifests come
//! from the installer's own table and [`install::manifest`], so the package registers the
//! same files `install --system` writes.
//!
//! Why not cargo-deb: ARCHITECTURE.md, "Packages".

use std::io::Write as _;

use flate2::{Compression, GzBuilder};

use crate::host::install::{self, Browser, InstallOptions, Os, Scope};
use crate::installed::{InstallMethod, MARKER, marker_text};

/// Which artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The Debian package's tree (`dpkg-deb --build` it).
    Deb,
    /// `preview-switch-<version>-<platform>/` for Linux or macOS, with `install.sh`.
    Tarball,
    /// `preview-switch-<version>-x86_64-windows/`, with `install.ps1`.
    Windows,
}

/// The man pages and shell completions generated from the clap definitions.
#[derive(Debug, Clone, Default)]
pub struct Assets {
    /// `preview-switch.1`, `preview-switch-list.1`, … with their roff text.
    pub man: Vec<(String, Vec<u8>)>,
    pub bash: Vec<u8>,
    pub zsh: Vec<u8>,
    pub fish: Vec<u8>,
    pub powershell: Vec<u8>,
}

/// What a layout is made from.
#[derive(Debug, Clone)]
pub struct Inputs<'a> {
    /// The workspace version (the binary's).
    pub version: &'a str,
    /// Size of the binary in bytes (the package's `Installed-Size`).
    pub binary_size: u64,
    /// The tarball's platform, e.g. `x86_64-linux` or `aarch64-macos`.
    pub platform: &'a str,
    /// The Debian architecture, e.g. `amd64`.
    pub arch: &'a str,
    /// The package's `Depends`, e.g. `libc6 (>= 2.34)` (the newest glibc symbol the binary
    /// uses, which `scripts/dist.sh` reads from it).
    pub depends: &'a str,
    /// Unix time of the release, for the Debian changelog (reproducible builds).
    pub date_epoch: i64,
    /// Chrome-family extension ids the host manifests allow besides the published one: a
    /// team's own CRX (`make dist` with `CRX_KEY` passes its id), so no machine needs
    /// `install --extension-id` after the package.
    pub extension_ids: &'a [String],
    pub assets: &'a Assets,
}

/// One file of a layout, at `path` relative to the tree's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub path: String,
    pub body: Body,
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The companion binary itself, copied in.
    Binary,
    Bytes(Vec<u8>),
}

/// The package name, and where the package puts the binary.
pub const PACKAGE: &str = "preview-switch";
pub const DEB_BINARY: &str = "/usr/bin/preview-switch";
/// The system configuration directory (`config::system_dir` on Linux).
const DEB_SYSTEM_DIR: &str = "/etc/preview-switch";
const MAINTAINER: &str = "Preview Switch maintainers <maintainers@previewswitch.io>";
const HOMEPAGE: &str = "https://example.invalid/preview-switch";

/// The directory a tarball or zip unpacks to (and the archive's name without extension).
pub fn root_dir(kind: Kind, version: &str, platform: &str) -> String {
    match kind {
        Kind::Deb => String::new(),
        Kind::Tarball => format!("{PACKAGE}-{version}-{platform}"),
        Kind::Windows => format!("{PACKAGE}-{version}-x86_64-windows"),
    }
}

/// The Debian version of a release: upstream version plus revision 1.
pub fn deb_version(version: &str) -> String {
    format!("{version}-1")
}

/// Every file of `kind`'s tree.
pub fn layout(kind: Kind, inputs: &Inputs<'_>) -> Vec<Entry> {
    match kind {
        Kind::Deb => deb(inputs),
        Kind::Tarball => tarball(inputs),
        Kind::Windows => windows(inputs),
    }
}

fn file(path: impl Into<String>, bytes: impl Into<Vec<u8>>, mode: u32) -> Entry {
    Entry {
        path: path.into(),
        body: Body::Bytes(bytes.into()),
        mode,
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    // mtime 0 and no file name: the same input gives the same bytes (lintian, reproducibility).
    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    gz.write_all(bytes).expect("writing to memory");
    gz.finish().expect("writing to memory")
}

/// The Chrome-family extension ids a package allows: the published one, then `extra`.
fn allowed_ids(extra: &[String]) -> Vec<String> {
    let mut ids = vec![protocol::ids::CHROME_EXTENSION_ID.to_owned()];
    for id in extra {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    ids
}

/// The system-wide host manifests for `os` with the binary at `exe`, one per distinct path
/// (Brave's is Chrome's file on Linux and macOS), as `(absolute path, JSON)`, allowing the
/// published extension and the `extra` ids.
pub fn system_manifests(os: Os, exe: &str, extra: &[String]) -> Vec<(String, Vec<u8>)> {
    let opts = InstallOptions {
        browsers: Browser::ALL.to_vec(),
        scope: Scope::System,
        extension_ids: allowed_ids(extra),
        record: None,
        user_data_dir: None,
        home: "/nonexistent".into(),
        os,
        exe: exe.into(),
        user_files: "/nonexistent".into(),
        system_files: "/nonexistent".into(),
    };
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for browser in Browser::ALL {
        let path = opts
            .manifest_path(browser)
            .expect("every browser has a system directory on Linux and macOS");
        let path = path.to_string_lossy().into_owned();
        if out.iter().any(|(p, _)| *p == path) {
            continue;
        }
        let manifest = install::manifest(browser, &opts).expect("an absolute binary path");
        let mut json = serde_json::to_vec_pretty(&manifest).expect("serialise");
        json.push(b'\n');
        out.push((path, json));
    }
    out
}

fn deb(inputs: &Inputs<'_>) -> Vec<Entry> {
    let mut entries = vec![Entry {
        path: DEB_BINARY.trim_start_matches('/').to_owned(),
        body: Body::Binary,
        mode: 0o755,
    }];
    let mut conffiles = String::new();
    for (path, json) in system_manifests(Os::Linux, DEB_BINARY, inputs.extension_ids) {
        if path.starts_with("/etc/") {
            conffiles.push_str(&format!("{path}\n"));
        }
        entries.push(file(path.trim_start_matches('/'), json, 0o644));
    }
    // The host serves only the extensions it knows: the published one and the ids recorded
    // where `install --system --extension-id` records them, which the package writes too.
    let team: Vec<String> = allowed_ids(inputs.extension_ids)
        .into_iter()
        .skip(1) // the published one, which the host always serves
        .collect();
    if !team.is_empty() {
        let path = format!("{DEB_SYSTEM_DIR}/{}", install::RECORD_FILE);
        conffiles.push_str(&format!("{path}\n"));
        let text: String = team.iter().map(|id| format!("{id}\n")).collect();
        entries.push(file(path.trim_start_matches('/'), text, 0o644));
    }
    for (name, roff) in &inputs.assets.man {
        entries.push(file(
            format!("usr/share/man/man1/{name}.gz"),
            gzip(roff),
            0o644,
        ));
    }
    let a = inputs.assets;
    entries.extend([
        file(
            "usr/share/bash-completion/completions/preview-switch",
            a.bash.clone(),
            0o644,
        ),
        file(
            "usr/share/zsh/vendor-completions/_preview-switch",
            a.zsh.clone(),
            0o644,
        ),
        file(
            "usr/share/fish/vendor_completions.d/preview-switch.fish",
            a.fish.clone(),
            0o644,
        ),
        file(
            "usr/share/doc/preview-switch/copyright",
            COPYRIGHT.replace("{HOMEPAGE}", HOMEPAGE),
            0o644,
        ),
        file(
            "usr/share/doc/preview-switch/changelog.Debian.gz",
            gzip(changelog(inputs).as_bytes()),
            0o644,
        ),
        file(
            "usr/share/lintian/overrides/preview-switch",
            LINTIAN_OVERRIDES,
            0o644,
        ),
        file(
            format!("usr/share/preview-switch/{MARKER}"),
            marker_text(&InstallMethod::Deb),
            0o644,
        ),
    ]);
    let installed_kib: u64 = entries
        .iter()
        .map(|e| match &e.body {
            Body::Binary => inputs.binary_size,
            Body::Bytes(b) => b.len() as u64,
        })
        .map(|size| size.div_ceil(1024))
        .sum();
    entries.push(file(
        "DEBIAN/control",
        control(inputs, installed_kib),
        0o644,
    ));
    entries.push(file("DEBIAN/conffiles", conffiles, 0o644));
    entries
}

fn control(inputs: &Inputs<'_>, installed_kib: u64) -> String {
    format!(
        "Package: {PACKAGE}\n\
         Version: {version}\n\
         Architecture: {arch}\n\
         Maintainer: {MAINTAINER}\n\
         Installed-Size: {installed_kib}\n\
         Depends: {depends}\n\
         Section: web\n\
         Priority: optional\n\
         Homepage: {HOMEPAGE}\n\
         Description: route a browser to Argo CD pull-request previews\n\
         \x20preview-switch finds the pull-request previews in Argo CD with the user's own\n\
         \x20credentials and works out which cookie on which hosts reaches each one. It is\n\
         \x20a command-line tool and the native-messaging host of the Preview Switch\n\
         \x20browser extension; this package registers it for Chrome, Chromium, Brave,\n\
         \x20Edge, Vivaldi and Firefox system-wide.\n",
        version = deb_version(inputs.version),
        arch = inputs.arch,
        depends = inputs.depends,
    )
}

fn changelog(inputs: &Inputs<'_>) -> String {
    let date = jiff::Timestamp::from_second(inputs.date_epoch)
        .ok()
        .and_then(|t| jiff::fmt::rfc2822::to_string(&t.to_zoned(jiff::tz::TimeZone::UTC)).ok())
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 +0000".into());
    format!(
        "{PACKAGE} ({version}) unstable; urgency=medium\n\n\
         \x20 * Release {upstream}.\n\n\
         \x20-- {MAINTAINER}  {date}\n",
        version = deb_version(inputs.version),
        upstream = inputs.version,
    )
}

/// The lintian tags that are facts of what this package is, each with its reason.
const LINTIAN_OVERRIDES: &str = "\
# Debian policy keeps /etc/opt for packages in /opt, but Chrome, Edge and Vivaldi read
# system-wide native-messaging hosts only from there.
preview-switch: dir-or-file-in-etc-opt [etc/opt/*]
# serde_norway's YAML parser (the argocd CLI's config) is unsafe-libyaml-norway, a Rust
# translation of libyaml compiled into the binary: there is no C libyaml to link to.
preview-switch: embedded-library libyaml [usr/bin/preview-switch]
# Released by its maintainers, not uploaded to Debian: there is no ITP bug to close.
preview-switch: initial-upload-closes-no-bugs [usr/share/doc/preview-switch/changelog.Debian.gz:1]
";

const COPYRIGHT: &str = "\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: preview-switch
Source: {HOMEPAGE}

Files: *
Copyright: 2026 Preview Switch maintainers
License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 can be
 found in /usr/share/common-licenses/Apache-2.0.
";

fn tarball(inputs: &Inputs<'_>) -> Vec<Entry> {
    let root = root_dir(Kind::Tarball, inputs.version, inputs.platform);
    let os = if inputs.platform.ends_with("macos") {
        Os::MacOs
    } else {
        Os::Linux
    };
    let mut entries = vec![Entry {
        path: format!("{root}/bin/preview-switch"),
        body: Body::Binary,
        mode: 0o755,
    }];
    for (name, roff) in &inputs.assets.man {
        entries.push(file(
            format!("{root}/share/man/man1/{name}"),
            roff.clone(),
            0o644,
        ));
    }
    let a = inputs.assets;
    entries.extend([
        file(
            format!("{root}/share/bash-completion/completions/preview-switch"),
            a.bash.clone(),
            0o644,
        ),
        file(
            format!("{root}/share/zsh/site-functions/_preview-switch"),
            a.zsh.clone(),
            0o644,
        ),
        file(
            format!("{root}/share/fish/vendor_completions.d/preview-switch.fish"),
            a.fish.clone(),
            0o644,
        ),
    ]);
    // The files `install.sh` (through `install --system`) writes for the default prefix, for
    // teams that deploy files with their own tools.
    for (path, json) in system_manifests(os, "/usr/local/bin/preview-switch", inputs.extension_ids)
    {
        entries.push(file(
            format!("{root}/share/preview-switch/manifests{path}"),
            json,
            0o644,
        ));
    }
    entries.push(file(
        format!("{root}/install.sh"),
        INSTALL_SH.replace("{PLATFORM}", inputs.platform).replace(
            "{EXTENSION_IDS}",
            &id_flags(inputs.extension_ids, "--extension-id "),
        ),
        0o755,
    ));
    entries
}

fn windows(inputs: &Inputs<'_>) -> Vec<Entry> {
    let root = root_dir(Kind::Windows, inputs.version, inputs.platform);
    vec![
        Entry {
            path: format!("{root}/preview-switch.exe"),
            body: Body::Binary,
            mode: 0o755,
        },
        file(
            format!("{root}/install.ps1"),
            INSTALL_PS1.replace(
                "{EXTENSION_IDS}",
                &id_flags(inputs.extension_ids, "--extension-id "),
            ),
            0o644,
        ),
        file(
            format!("{root}/completions/_preview-switch.ps1"),
            inputs.assets.powershell.clone(),
            0o644,
        ),
    ]
}

/// ` --extension-id <id>` for each allowed id when the package allows more than the published
/// extension (none otherwise: `install` allows the published one by default).
fn id_flags(extra: &[String], flag: &str) -> String {
    if extra
        .iter()
        .all(|id| id == protocol::ids::CHROME_EXTENSION_ID)
    {
        return String::new();
    }
    allowed_ids(extra)
        .iter()
        .map(|id| format!(" {flag}{id}"))
        .collect()
}

/// The tarball's installer: what `preview-switch install --system` expects around it.
const INSTALL_SH: &str = r#"#!/bin/sh
# Installs preview-switch from this directory and registers it with every browser.
#   sudo ./install.sh               /usr/local: binary, man pages, completions, and the
#                                   system-wide host manifests (install --system)
#   ./install.sh --user             ~/.local, host manifests for your user only
#   PREFIX=/opt/ps sudo -E ./install.sh
#   [sudo] ./install.sh --uninstall [--user]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ "$(id -u)" = 0 ]; then scope=system; else scope=user; fi
action=install
for arg in "$@"; do
  case "$arg" in
    --user) scope=user ;;
    --system) scope=system ;;
    --uninstall) action=uninstall ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg: use --user, --system, --uninstall or --help" >&2; exit 2 ;;
  esac
done
if [ "$scope" = system ]; then
  prefix=${PREFIX:-/usr/local}
  register="--system"
  if [ "$(id -u)" != 0 ]; then
    echo "install.sh: a system-wide install needs root: run sudo $0, or $0 --user" >&2
    exit 1
  fi
else
  prefix=${PREFIX:-$HOME/.local}
  register=""
fi
bin="$prefix/bin/preview-switch"
share="$prefix/share"
if [ "$action" = uninstall ]; then
  if [ -x "$bin" ]; then "$bin" uninstall $register --browser all; fi
  rm -f "$bin" "$share"/man/man1/preview-switch.1 "$share"/man/man1/preview-switch-*.1 \
    "$share/bash-completion/completions/preview-switch" "$share/zsh/site-functions/_preview-switch" \
    "$share/fish/vendor_completions.d/preview-switch.fish" "$share/preview-switch/installed-by"
  echo "removed preview-switch from $prefix"
  exit 0
fi
for d in bin share/man/man1 share/bash-completion/completions share/zsh/site-functions \
  share/fish/vendor_completions.d share/preview-switch; do
  mkdir -p "$prefix/$d"
done
install -m 0755 "$here/bin/preview-switch" "$bin"
for page in "$here"/share/man/man1/*.1; do install -m 0644 "$page" "$share/man/man1/"; done
install -m 0644 "$here/share/bash-completion/completions/preview-switch" "$share/bash-completion/completions/"
install -m 0644 "$here/share/zsh/site-functions/_preview-switch" "$share/zsh/site-functions/"
install -m 0644 "$here/share/fish/vendor_completions.d/preview-switch.fish" "$share/fish/vendor_completions.d/"
# How it was installed, which `doctor` and the extension's upgrade hint read.
printf '%s\n' "${INSTALLED_BY:-tarball {PLATFORM}}" >"$share/preview-switch/installed-by"
chmod 0644 "$share/preview-switch/installed-by"
"$bin" install $register --browser all{EXTENSION_IDS}
echo "installed $bin"
case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "note: $prefix/bin is not on your PATH: add it, e.g. export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
"#;

/// The Windows zip's installer.
const INSTALL_PS1: &str = r#"# Installs preview-switch from this directory and registers it with every browser.
#   .\install.ps1             %LOCALAPPDATA%\Programs\preview-switch, your user's PATH and
#                             registry (HKEY_CURRENT_USER)
#   .\install.ps1 -System     %ProgramFiles%\preview-switch and HKEY_LOCAL_MACHINE (run as
#                             administrator)
#   .\install.ps1 -Uninstall [-System]
param([switch]$System, [switch]$Uninstall)
$ErrorActionPreference = 'Stop'
if ($System) {
  $dir = Join-Path $env:ProgramFiles 'preview-switch'
  $scope = @('--system')
  $pathScope = 'Machine'
} else {
  $dir = Join-Path $env:LOCALAPPDATA 'Programs\preview-switch'
  $scope = @()
  $pathScope = 'User'
}
$exe = Join-Path $dir 'preview-switch.exe'
if ($Uninstall) {
  if (Test-Path $exe) { & $exe uninstall @scope --browser all }
  Remove-Item -Recurse -Force $dir -ErrorAction SilentlyContinue
  Write-Output "removed preview-switch from $dir"
  exit 0
}
New-Item -ItemType Directory -Force -Path $dir | Out-Null
Copy-Item -Force (Join-Path $PSScriptRoot 'preview-switch.exe') $exe
Copy-Item -Force (Join-Path $PSScriptRoot 'completions\_preview-switch.ps1') $dir
# How it was installed, which `doctor` and the extension's upgrade hint read.
Set-Content -Path (Join-Path $dir 'installed-by') -Value 'zip' -Encoding ascii
& $exe install @scope --browser all{EXTENSION_IDS}
if ($LASTEXITCODE -ne 0) { exit $LASTEXITCODE }
$path = [Environment]::GetEnvironmentVariable('Path', $pathScope)
if (-not ($path -split ';' -contains $dir)) {
  [Environment]::SetEnvironmentVariable('Path', "$path;$dir", $pathScope)
  Write-Output "added $dir to your PATH (open a new terminal to use it)"
}
Write-Output "installed $exe"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn assets() -> Assets {
        Assets {
            man: vec![
                (
                    "preview-switch.1".into(),
                    b".TH preview-switch 1\n".to_vec(),
                ),
                ("preview-switch-list.1".into(), b".TH list 1\n".to_vec()),
            ],
            bash: b"complete -F _preview-switch preview-switch\n".to_vec(),
            zsh: b"#compdef preview-switch\n".to_vec(),
            fish: b"complete -c preview-switch\n".to_vec(),
            powershell: b"Register-ArgumentCompleter\n".to_vec(),
        }
    }

    fn inputs(assets: &Assets) -> Inputs<'_> {
        Inputs {
            version: "1.2.3",
            binary_size: 10_000,
            platform: "x86_64-linux",
            arch: "amd64",
            depends: "libc6 (>= 2.34)",
            date_epoch: 1_796_036_400,
            extension_ids: &[],
            assets,
        }
    }

    fn paths(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|e| e.path.as_str()).collect()
    }

    fn text<'a>(entries: &'a [Entry], path: &str) -> &'a str {
        let e = entries
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("{path} in {:?}", paths(entries)));
        match &e.body {
            Body::Bytes(b) => std::str::from_utf8(b).unwrap(),
            Body::Binary => panic!("{path} is the binary"),
        }
    }

    /// The package registers every browser system-wide at the installer's own paths (Brave
    /// through Chrome's file), each file 0644 and a conffile when under /etc.
    #[test]
    fn the_package_holds_the_binary_and_every_system_manifest() {
        let a = assets();
        let entries = layout(Kind::Deb, &inputs(&a));
        let manifests = [
            "etc/opt/chrome/native-messaging-hosts/io.previewswitch.companion.json",
            "etc/chromium/native-messaging-hosts/io.previewswitch.companion.json",
            "etc/opt/edge/native-messaging-hosts/io.previewswitch.companion.json",
            "etc/opt/vivaldi/native-messaging-hosts/io.previewswitch.companion.json",
            "usr/lib/mozilla/native-messaging-hosts/io.previewswitch.companion.json",
        ];
        let json_files: Vec<&str> = paths(&entries)
            .into_iter()
            .filter(|p| p.ends_with(".json"))
            .collect();
        assert_eq!(json_files, manifests);
        for path in manifests {
            let m: install::Manifest = serde_json::from_str(text(&entries, path)).unwrap();
            assert_eq!(m.path, "/usr/bin/preview-switch");
            assert_eq!(m.kind, "stdio");
        }
        assert!(
            entries
                .iter()
                .filter(|e| e.path.ends_with(".json"))
                .all(|e| e.mode == 0o644)
        );
        assert_eq!(
            text(&entries, "DEBIAN/conffiles"),
            "/etc/opt/chrome/native-messaging-hosts/io.previewswitch.companion.json\n\
             /etc/chromium/native-messaging-hosts/io.previewswitch.companion.json\n\
             /etc/opt/edge/native-messaging-hosts/io.previewswitch.companion.json\n\
             /etc/opt/vivaldi/native-messaging-hosts/io.previewswitch.companion.json\n"
        );
        let bin = entries.iter().find(|e| e.body == Body::Binary).unwrap();
        assert_eq!(
            (bin.path.as_str(), bin.mode),
            ("usr/bin/preview-switch", 0o755)
        );
        let control = text(&entries, "DEBIAN/control");
        assert!(control.contains("\nVersion: 1.2.3-1\n"), "{control}");
        assert!(
            control.contains("\nDepends: libc6 (>= 2.34)\n"),
            "{control}"
        );
        assert!(control.contains("\nArchitecture: amd64\n"), "{control}");
        assert!(
            control.lines().all(|l| l.len() <= 80),
            "lintian wants lines of at most 80 characters: {control}"
        );
        assert!(paths(&entries).contains(&"usr/share/man/man1/preview-switch-list.1.gz"));
        assert_eq!(
            text(&entries, "usr/share/preview-switch/installed-by"),
            "deb\n"
        );
    }

    /// A team that hosts its own CRX builds the packages with its id: every Chrome-family
    /// manifest allows it beside the published extension (no `install --extension-id` on each
    /// machine), Firefox's is unchanged, and the installers register both ids.
    #[test]
    fn a_teams_own_extension_id_is_allowed_by_every_package() {
        let a = assets();
        let team = ["abcdefghijklmnopabcdefghijklmnop".to_owned()];
        let i = Inputs {
            extension_ids: &team,
            ..inputs(&a)
        };
        let deb = layout(Kind::Deb, &i);
        let published = format!("chrome-extension://{}/", protocol::ids::CHROME_EXTENSION_ID);
        let ours = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/";
        for e in deb.iter().filter(|e| e.path.ends_with(".json")) {
            let m: install::Manifest = serde_json::from_str(text(&deb, &e.path)).unwrap();
            if e.path.contains("mozilla") {
                assert_eq!(m.allowed_origins, None, "{m:?}");
                assert_eq!(
                    m.allowed_extensions,
                    Some(vec![protocol::ids::FIREFOX_EXTENSION_ID.to_owned()])
                );
            } else {
                assert_eq!(
                    m.allowed_origins,
                    Some(vec![published.clone(), ours.to_owned()]),
                    "{}",
                    e.path
                );
            }
        }
        assert_eq!(
            text(&deb, "etc/preview-switch/extension-ids"),
            "abcdefghijklmnopabcdefghijklmnop\n",
            "the host serves the team's CRX"
        );
        assert!(text(&deb, "DEBIAN/conffiles").ends_with("/etc/preview-switch/extension-ids\n"));
        assert!(
            !paths(&layout(Kind::Deb, &inputs(&a))).contains(&"etc/preview-switch/extension-ids"),
            "no record without a team id"
        );
        let flags = format!(
            " --extension-id {} --extension-id abcdefghijklmnopabcdefghijklmnop",
            protocol::ids::CHROME_EXTENSION_ID
        );
        let tar = layout(Kind::Tarball, &i);
        let script = text(&tar, "preview-switch-1.2.3-x86_64-linux/install.sh");
        assert!(
            script.contains(&format!(
                "\"$bin\" install $register --browser all{flags}\n"
            )),
            "{script}"
        );
        let win = layout(Kind::Windows, &i);
        let ps1 = text(&win, "preview-switch-1.2.3-x86_64-windows/install.ps1");
        assert!(
            ps1.contains(&format!("& $exe install @scope --browser all{flags}\n")),
            "{ps1}"
        );
        // Without a team id the installers keep `install`'s default (the published one).
        let plain = layout(Kind::Tarball, &inputs(&a));
        let script = text(&plain, "preview-switch-1.2.3-x86_64-linux/install.sh");
        assert!(script.contains("\"$bin\" install $register --browser all\n"));
        assert!(!script.contains("{EXTENSION_IDS}"));
    }

    #[test]
    fn man_pages_and_the_changelog_are_gzipped_reproducibly() {
        let a = assets();
        let one = layout(Kind::Deb, &inputs(&a));
        let two = layout(Kind::Deb, &inputs(&a));
        assert_eq!(one, two, "the same inputs give the same bytes");
        let page = one
            .iter()
            .find(|e| e.path == "usr/share/man/man1/preview-switch.1.gz")
            .unwrap();
        let Body::Bytes(gz) = &page.body else {
            panic!()
        };
        let mut roff = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut roff)
            .unwrap();
        assert_eq!(roff, ".TH preview-switch 1\n");
        let log = one
            .iter()
            .find(|e| e.path == "usr/share/doc/preview-switch/changelog.Debian.gz")
            .unwrap();
        let Body::Bytes(gz) = &log.body else { panic!() };
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut text)
            .unwrap();
        assert!(
            text.starts_with("preview-switch (1.2.3-1) unstable; urgency=medium\n"),
            "{text}"
        );
        assert!(
            text.ends_with("  Mon, 30 Nov 2026 11:00:00 +0000\n"),
            "{text}"
        );
    }

    #[test]
    fn the_tarballs_carry_install_sh_and_the_manifests_for_their_os() {
        let a = assets();
        let mut i = inputs(&a);
        let linux = layout(Kind::Tarball, &i);
        let root = "preview-switch-1.2.3-x86_64-linux";
        assert!(paths(&linux).contains(&"preview-switch-1.2.3-x86_64-linux/bin/preview-switch"));
        let script = text(&linux, &format!("{root}/install.sh"));
        assert!(script.contains("tarball x86_64-linux"), "{script}");
        assert!(script.contains("\"$bin\" install $register --browser all"));
        assert!(paths(&linux).contains(
            &"preview-switch-1.2.3-x86_64-linux/share/preview-switch/manifests/etc/chromium/native-messaging-hosts/io.previewswitch.companion.json"
        ));
        i.platform = "aarch64-macos";
        let macos = layout(Kind::Tarball, &i);
        let m: install::Manifest = serde_json::from_str(text(
            &macos,
            "preview-switch-1.2.3-aarch64-macos/share/preview-switch/manifests/Library/Google/Chrome/NativeMessagingHosts/io.previewswitch.companion.json",
        ))
        .unwrap();
        assert_eq!(m.path, "/usr/local/bin/preview-switch");
        assert!(
            paths(&macos)
                .contains(&"preview-switch-1.2.3-aarch64-macos/share/man/man1/preview-switch.1")
        );
        let win = layout(Kind::Windows, &i);
        assert_eq!(
            paths(&win),
            [
                "preview-switch-1.2.3-x86_64-windows/preview-switch.exe",
                "preview-switch-1.2.3-x86_64-windows/install.ps1",
                "preview-switch-1.2.3-x86_64-windows/completions/_preview-switch.ps1",
            ]
        );
    }
}
