//! The release artifacts, installed as a user or an admin would: the Debian package into a
//! scratch root with Debian's own `dpkg --root` (install, remove, purge), and the tarball
//! through its `install.sh`. The package is built here from this build's binary by the same
//! `preview-switch stage deb` and `scripts/package-deb.sh` that `make dist` runs; with
//! `PREVIEW_SWITCH_DEB=dist/preview-switch_<v>-1_amd64.deb` (`make dist-check`) the test
//! installs that built release package instead.
//!
//! `dpkg --root` needs root (CI runs as root). Without it the package is unpacked with
//! `dpkg-deb -x` and its conffiles read with `dpkg-deb -e` (it has no maintainer scripts to
//! run), and remove/purge are not exercised: the test says so on stderr.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::Sandbox;

const HOST: &str = "io.previewswitch.companion";
const BIN: &str = env!("CARGO_BIN_EXE_preview-switch");

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u")).trim() == "0"
}

/// The package under test: `PREVIEW_SWITCH_DEB`, else one built from this build's binary.
fn package(dir: &Path) -> PathBuf {
    if let Some(deb) = std::env::var_os("PREVIEW_SWITCH_DEB") {
        return PathBuf::from(deb);
    }
    let stage = dir.join("stage");
    run(Command::new(BIN)
        .args(["stage", "deb", "--out"])
        .arg(&stage));
    let deb = dir.join("preview-switch.deb");
    // Uncompressed: the debug binary is large, and compression is not what is tested.
    run(Command::new(repo_root().join("scripts/package-deb.sh"))
        .arg(&stage)
        .arg(&deb)
        .arg("none"));
    deb
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// The system-wide host manifests a browser reads, as Chrome's, Edge's and MDN's
/// documentation, Debian's Chromium and brave-core name them (Brave reads Chrome's).
const SYSTEM_MANIFESTS: [(&str, bool); 5] = [
    ("etc/opt/chrome/native-messaging-hosts", false),
    ("etc/chromium/native-messaging-hosts", false),
    ("etc/opt/edge/native-messaging-hosts", false),
    ("etc/opt/vivaldi/native-messaging-hosts", false),
    ("usr/lib/mozilla/native-messaging-hosts", true),
];

fn check_manifests(root: &Path, exe: &str) {
    for (dir, firefox) in SYSTEM_MANIFESTS {
        let path = root.join(dir).join(format!("{HOST}.json"));
        assert_eq!(mode(&path), 0o644, "{}", path.display());
        let m: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(m["name"], HOST, "{}", path.display());
        assert_eq!(m["type"], "stdio");
        assert_eq!(m["path"], exe, "{}", path.display());
        assert!(Path::new(m["path"].as_str().unwrap()).is_absolute());
        if firefox {
            assert_eq!(
                m["allowed_extensions"],
                json!([protocol::ids::FIREFOX_EXTENSION_ID])
            );
            assert!(m.get("allowed_origins").is_none());
        } else {
            assert_eq!(
                m["allowed_origins"],
                json!([format!(
                    "chrome-extension://{}/",
                    protocol::ids::CHROME_EXTENSION_ID
                )])
            );
            assert!(m.get("allowed_extensions").is_none());
        }
    }
}

/// Starts `exe` as Chrome would and returns its `hello` answer.
fn hello(exe: &Path, home: &Path) -> Value {
    hello_as(
        exe,
        home,
        protocol::ids::CHROME_EXTENSION_ID,
        &home.join("etc/preview-switch/config.toml"),
    )
}

/// `hello` from the extension `id`, with the system configuration at `system_config`.
fn hello_as(exe: &Path, home: &Path, id: &str, system_config: &Path) -> Value {
    let mut child = Command::new(exe)
        .arg(format!("chrome-extension://{id}/"))
        .env_clear()
        .env("HOME", home)
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("PREVIEW_SWITCH_SYSTEM_CONFIG", system_config)
        .env("ARGOCD_SERVER", "http://127.0.0.1:9")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let body = br#"{"id":1,"type":"hello","protocol":1}"#;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(&(body.len() as u32).to_ne_bytes()).unwrap();
    stdin.write_all(body).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut len = [0u8; 4];
    stdout.read_exact(&mut len).unwrap();
    let mut reply = vec![0u8; u32::from_ne_bytes(len) as usize];
    stdout.read_exact(&mut reply).unwrap();
    drop(stdin);
    child.wait().unwrap();
    serde_json::from_slice(&reply).unwrap()
}

#[test]
#[allow(clippy::print_stderr)] // says which checks a run without root leaves out
fn the_deb_installs_the_binary_and_every_host_manifest_and_purge_removes_them() {
    let dir = tempfile::tempdir().unwrap();
    let deb = package(dir.path());
    let root = dir.path().join("root");
    let version = env!("CARGO_PKG_VERSION");
    let field = |name: &str| {
        run(Command::new("dpkg-deb")
            .args(["--field"])
            .arg(&deb)
            .arg(name))
        .trim()
        .to_owned()
    };
    assert_eq!(field("Package"), "preview-switch");
    assert_eq!(
        field("Version"),
        format!("{version}-1"),
        "the workspace version"
    );

    let as_root = is_root();
    if as_root {
        let admin = root.join("var/lib/dpkg");
        for d in ["info", "updates", "triggers"] {
            std::fs::create_dir_all(admin.join(d)).unwrap();
        }
        std::fs::write(admin.join("status"), "").unwrap();
        std::fs::write(admin.join("available"), "").unwrap();
        // The scratch root has no libc6 package registered; the dependency is the host's.
        run(Command::new("dpkg")
            .arg(format!("--root={}", root.display()))
            .args(["--log=/dev/null", "--force-depends", "-i"])
            .arg(&deb));
    } else {
        eprintln!(
            "not root: unpacking with dpkg-deb -x instead of dpkg --root; remove and purge are not checked"
        );
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root));
    }

    let exe = root.join("usr/bin/preview-switch");
    assert_eq!(mode(&exe), 0o755);
    assert_eq!(
        run(Command::new(&exe).arg("--version")).trim(),
        format!("preview-switch {version}")
    );
    check_manifests(&root, "/usr/bin/preview-switch");
    for f in [
        "usr/share/man/man1/preview-switch.1.gz",
        "usr/share/man/man1/preview-switch-install.1.gz",
        "usr/share/bash-completion/completions/preview-switch",
        "usr/share/zsh/vendor-completions/_preview-switch",
        "usr/share/fish/vendor_completions.d/preview-switch.fish",
        "usr/share/doc/preview-switch/copyright",
    ] {
        assert_eq!(mode(&root.join(f)), 0o644, "{f}");
    }
    // The installed binary knows it came from the package, for its upgrade command.
    let home = tempfile::tempdir().unwrap();
    let reply = hello(&exe, home.path());
    assert_eq!(reply["installed"], json!({"method": "deb"}), "{reply}");
    assert_eq!(reply["companion_version"], version);

    let etc_manifests: Vec<PathBuf> = SYSTEM_MANIFESTS
        .iter()
        .filter(|(d, _)| d.starts_with("etc/"))
        .map(|(d, _)| root.join(d).join(format!("{HOST}.json")))
        .collect();
    if as_root {
        let conffiles =
            std::fs::read_to_string(root.join("var/lib/dpkg/info/preview-switch.conffiles"))
                .unwrap();
        assert_eq!(conffiles.lines().count(), 4, "{conffiles}");
        let dpkg = |action: &str| {
            run(Command::new("dpkg")
                .arg(format!("--root={}", root.display()))
                .args(["--log=/dev/null", action, "preview-switch"]));
        };
        dpkg("-r");
        assert!(!exe.exists());
        assert!(
            !root
                .join("usr/lib/mozilla/native-messaging-hosts")
                .join(format!("{HOST}.json"))
                .exists()
        );
        // Conffiles stay until purge, as with every Debian package.
        assert!(etc_manifests.iter().all(|m| m.exists()));
        dpkg("-P");
        for m in &etc_manifests {
            assert!(!m.exists(), "{} after purge", m.display());
        }
        assert!(!root.join("etc/opt").exists(), "empty directories go too");
    } else {
        let control = dir.path().join("control");
        run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control));
        let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
        for m in &etc_manifests {
            let listed = format!("/{}", m.strip_prefix(&root).unwrap().display());
            assert!(
                conffiles.lines().any(|l| l == listed),
                "{listed}: {conffiles}"
            );
        }
    }
}

/// The tarball's `install.sh --user` puts the binary, man pages and completions under
/// A team's own CRX id (`make dist` with `CRX_KEY` passes it to `stage`).
const TEAM_ID: &str = "abcdefghijklmnopabcdefghijklmnop";

/// A package built for a team's own CRX (`make dist` with `CRX_KEY`): the installed host
/// serves that extension with nothing run on the machine, and still refuses any other.
#[test]
fn a_teams_package_serves_its_crx_and_no_other_extension() {
    let dir = tempfile::tempdir().unwrap();
    // The staged tree is what dpkg unpacks into /.
    let root = dir.path().join("root");
    run(Command::new(BIN)
        .args(["stage", "deb", "--extension-id", TEAM_ID, "--out"])
        .arg(&root));
    let exe = root.join("usr/bin/preview-switch");
    let system_config = root.join("etc/preview-switch/config.toml");
    let home = tempfile::tempdir().unwrap();
    let reply = hello_as(&exe, home.path(), TEAM_ID, &system_config);
    assert_eq!(reply["type"], "hello", "{reply}");
    let other = hello_as(
        &exe,
        home.path(),
        "pppppppppppppppppppppppppppppppp",
        &system_config,
    );
    assert_eq!(other["type"], "error", "{other}");
    assert_eq!(other["code"], "origin_not_allowed", "{other}");
}

/// `stage` refuses an extension id that is not one, naming where to find it, and writes
/// nothing.
#[test]
fn stage_refuses_a_malformed_extension_id() {
    let dir = tempfile::tempdir().unwrap();
    let stage = dir.path().join("stage");
    let out = Command::new(BIN)
        .args(["stage", "deb", "--extension-id", "not-an-id", "--out"])
        .arg(&stage)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\"not-an-id\" is not a Chrome extension id")
            && err.contains("chrome://extensions"),
        "{err}"
    );
    assert!(!stage.exists(), "nothing written");
}

/// PREFIX and registers the user's host manifests through `preview-switch install`, as a
/// developer without root would; `--uninstall` takes it all back.
#[test]
fn the_tarballs_install_sh_installs_and_uninstalls() {
    let sb = Sandbox::new();
    let dir = tempfile::tempdir().unwrap();
    let stage = dir.path().join("stage");
    // Built for a team that hosts its own CRX: its id is registered beside the store's.
    run(Command::new(BIN)
        .args(["stage", "tarball", "--platform", "x86_64-linux"])
        .args(["--extension-id", TEAM_ID, "--out"])
        .arg(&stage));
    let unpacked = stage.join(format!(
        "preview-switch-{}-x86_64-linux",
        env!("CARGO_PKG_VERSION")
    ));
    let prefix = dir.path().join("prefix");
    let script = |args: &[&str]| {
        run(Command::new(unpacked.join("install.sh"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", sb.home())
            .env("XDG_CONFIG_HOME", sb.home().join(".config"))
            .env(
                "PREVIEW_SWITCH_SYSTEM_CONFIG",
                sb.home().join("etc/preview-switch/config.toml"),
            )
            .env("PREFIX", &prefix))
    };
    let out = script(&["--user"]);
    let exe = prefix.join("bin/preview-switch");
    assert!(
        out.contains(&format!("installed {}", exe.display())),
        "{out}"
    );
    assert!(out.contains("is not on your PATH"), "{out}");
    assert_eq!(mode(&exe), 0o755);
    for f in [
        "share/man/man1/preview-switch.1",
        "share/bash-completion/completions/preview-switch",
        "share/zsh/site-functions/_preview-switch",
        "share/fish/vendor_completions.d/preview-switch.fish",
    ] {
        assert_eq!(mode(&prefix.join(f)), 0o644, "{f}");
    }
    let exe_path = exe.canonicalize().unwrap();
    let manifest = sb
        .home()
        .join(".config/chromium/NativeMessagingHosts")
        .join(format!("{HOST}.json"));
    let m: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    assert_eq!(m["path"], exe_path.to_str().unwrap());
    assert_eq!(
        m["allowed_origins"],
        json!([
            format!("chrome-extension://{}/", protocol::ids::CHROME_EXTENSION_ID),
            format!("chrome-extension://{TEAM_ID}/"),
        ])
    );
    let firefox = sb
        .home()
        .join(".mozilla/native-messaging-hosts")
        .join(format!("{HOST}.json"));
    assert!(firefox.is_file());
    let reply = hello(&exe, sb.home());
    assert_eq!(
        reply["installed"],
        json!({"method": "tarball", "platform": "x86_64-linux"}),
        "{reply}"
    );

    script(&["--uninstall", "--user"]);
    assert!(!exe.exists());
    assert!(!manifest.exists() && !firefox.exists());
    assert!(!prefix.join("share/man/man1/preview-switch.1").exists());
}
