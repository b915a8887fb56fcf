//! Test support: an isolated environment for the real `preview-switch` binary (its own HOME,
//! XDG dirs and no inherited Argo CD variables) and the fake Argo CD served on 127.0.0.1:0.
//!
//! Token hygiene is structural here, not left to each test: every run logs at `trace` (so
//! every log line at every level is produced), [`Run`] refuses stdout/stderr holding the
//! token, a panic message anywhere fails the run, and a [`Sandbox`], when dropped, reads
//! every file under its HOME (config, cache, `host.log`, manifests, whatever the binary
//! wrote) and fails if any holds the token, except the files the test itself wrote *as*
//! credentials (config.toml with `token =`, a token file, the argocd CLI config). Cache
//! files and the host's log must also be private (0600).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{LazyLock, Mutex};

use fake_argocd::{self as fake, FakeArgo, Running};

pub const TOKEN: &str = "demo-token";

/// Every secret a test handed to the binary (TOKEN and any other): none may leak.
pub static SECRETS: LazyLock<[&str; 6]> = LazyLock::new(|| {
    [
        TOKEN,
        "other-secret-token",
        "SECRET-rotated",
        &EXPIRED_TOKEN,
        &REVOKED_TOKEN,
        REFRESH_TOKEN,
    ]
});

/// An unsigned (`alg: none`) JWT carrying `claims`, as an OIDC provider shapes its tokens:
/// built here rather than committed, so no token-shaped literal sits in the repository.
fn unsigned_jwt(claims: &str) -> String {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    format!(
        "{}.{}.test-only-unsigned",
        b64(r#"{"alg":"none","typ":"JWT"}"#),
        b64(claims)
    )
}

/// An argocd CLI login whose access token has expired (`exp` in 2001), and the refresh
/// token beside it.
pub static EXPIRED_TOKEN: LazyLock<String> = LazyLock::new(|| {
    unsigned_jwt(r#"{"iss":"https://dex.test","sub":"octocat","exp":1000000000}"#)
});
/// A token whose claims are still valid (`exp` in 2100) that the server no longer accepts
/// (revoked, or its signing key changed): the CLI does not refresh it.
pub static REVOKED_TOKEN: LazyLock<String> = LazyLock::new(|| {
    unsigned_jwt(r#"{"iss":"https://dex.test","sub":"octocat","exp":4102444800}"#)
});
pub const REFRESH_TOKEN: &str = "refresh-token-from-dex";

/// A fake Argo CD with the demo scenario, served on a free loopback port.
pub async fn demo_server() -> (FakeArgo, Running) {
    let state = fake::demo_scenario();
    let running = fake::serve(state.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("fake Argo CD starts");
    (state, running)
}

/// Fails the test if `text` holds any known secret; `what` says where it was found.
pub fn assert_no_secret_in(what: &str, text: &str) {
    for secret in SECRETS.iter() {
        assert!(
            !text.contains(secret),
            "token leaked into {what}: {}",
            text.chars().take(4000).collect::<String>()
        );
    }
}

/// A throwaway HOME for one test; the binary sees nothing of the developer's machine.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
    /// Files the test wrote holding a credential on purpose (exempt from the leak scan).
    credential_files: Mutex<Vec<PathBuf>>,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            credential_files: Mutex::new(Vec::new()),
        }
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file; one holding a secret is recorded as a credential file.
    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let path = self.home().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        if SECRETS.iter().any(|s| contents.contains(s)) {
            self.credential_files.lock().unwrap().push(path.clone());
        }
        path
    }

    /// Every regular file under HOME, recursively.
    pub fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let path = e.path();
                match e.file_type() {
                    Ok(t) if t.is_dir() => walk(&path, out),
                    Ok(t) if t.is_file() => out.push(path),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        walk(self.home(), &mut out);
        out
    }

    /// The token scan and the permission check that run on drop, callable mid-test too.
    pub fn assert_hygiene(&self) {
        let exempt = self.credential_files.lock().unwrap().clone();
        for path in self.files() {
            if exempt.contains(&path) {
                continue;
            }
            let bytes = std::fs::read(&path).unwrap_or_default();
            assert_no_secret_in(
                &path.display().to_string(),
                &String::from_utf8_lossy(&bytes),
            );
            #[cfg(unix)]
            // The cache and the host's log (state dir) hold previews and server names.
            if ["cache", ".cache", ".local/state"]
                .iter()
                .any(|d| path.starts_with(self.home().join(d)))
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).unwrap().permissions().mode();
                assert_eq!(mode & 0o077, 0, "{path:?} is not private");
            }
        }
    }

    /// The real binary with a clean environment, logging at every level.
    pub fn cmd(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_preview-switch"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_CACHE_HOME", self.home().join(".cache"))
            .env("XDG_STATE_HOME", self.home().join(".local/state"))
            // The machine-wide config and record, kept in the sandbox like the user's.
            .env(
                "PREVIEW_SWITCH_SYSTEM_CONFIG",
                self.home().join("etc/preview-switch/config.toml"),
            )
            .env("NO_COLOR", "1")
            // Every log line at every level exists, so the scans above see all of them.
            .env("PREVIEW_SWITCH_LOG", "trace")
            .env("RUST_BACKTRACE", "1")
            .kill_on_drop(true);
        c
    }

    pub async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.cmd(args);
        for (k, v) in env {
            c.env(k, v);
        }
        Run::from(c.output().await.expect("preview-switch runs"))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // A test already failing must show its own failure, not abort on a second panic.
        if !std::thread::panicking() {
            self.assert_hygiene();
        }
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Self {
        let run = Run {
            code: o.status.code().expect("exited, not killed by a signal"),
            stdout: String::from_utf8(o.stdout).unwrap(),
            stderr: String::from_utf8(o.stderr).unwrap(),
        };
        assert!(
            !run.stderr.contains("panicked"),
            "the binary panicked: {}",
            run.stderr
        );
        // Every run, whatever the test asserts next: no secret on either stream.
        assert_no_secret_in("stdout", &run.stdout);
        assert_no_secret_in("stderr", &run.stderr);
        run
    }
}

impl Run {
    /// Kept for the tests that name it; [`Run::from`] already checks every known secret.
    pub fn assert_no_secret(&self, secret: &str) -> &Self {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "token leaked: {self:#?}"
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// The real binary in native-messaging host mode. Its stderr (trace-level logs) goes to a
/// file in the sandbox, so the drop-time scan reads every log line it wrote; every frame it
/// sends is checked for secrets and for the 1 MiB cap as it is read.
pub struct HostProc {
    child: tokio::process::Child,
    stdin: Option<tokio::process::ChildStdin>,
    stdout: tokio::process::ChildStdout,
    stderr_path: PathBuf,
}

impl HostProc {
    /// `preview-switch <args>` (e.g. `host --timeout 2s`, or the browser's origin argument).
    pub fn spawn(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> HostProc {
        use std::process::Stdio;
        let stderr_path = sb.home().join(format!(
            "host-stderr-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = sb.cmd(args);
        cmd.env("PREVIEW_SWITCH_CACHE_DIR", sb.home().join("cache"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("host starts");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        HostProc {
            child,
            stdin,
            stdout,
            stderr_path,
        }
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).await.unwrap();
        stdin.flush().await.unwrap();
    }

    pub async fn send(&mut self, msg: serde_json::Value) {
        self.send_raw(&frame(&serde_json::to_vec(&msg).unwrap()))
            .await;
    }

    /// The next frame; it must come within `wait`.
    pub async fn recv_within(&mut self, wait: std::time::Duration) -> serde_json::Value {
        use tokio::io::AsyncReadExt;
        tokio::time::timeout(wait, async {
            let mut len = [0u8; 4];
            self.stdout
                .read_exact(&mut len)
                .await
                .expect("a frame header");
            let len = u32::from_ne_bytes(len) as usize;
            assert!(
                len <= 1024 * 1024,
                "frame of {len} bytes over the 1 MiB cap"
            );
            let mut body = vec![0; len];
            self.stdout
                .read_exact(&mut body)
                .await
                .expect("a frame body");
            let text = String::from_utf8(body).expect("UTF-8 frame");
            assert_no_secret_in("a frame to the extension", &text);
            serde_json::from_str(&text).expect("JSON frame")
        })
        .await
        .expect("the host answered in time")
    }

    pub async fn recv(&mut self) -> serde_json::Value {
        self.recv_within(std::time::Duration::from_secs(20)).await
    }

    /// The next frame answering request `id` (events in between are skipped).
    pub async fn reply(&mut self, id: u64) -> serde_json::Value {
        loop {
            let v = self.recv().await;
            if v["id"] == id {
                return v;
            }
        }
    }

    /// Asks `hello` and expects it answered: the host is alive and in sync.
    pub async fn assert_serving(&mut self, id: u64) {
        self.send(serde_json::json!({"id": id, "type": "hello", "protocol": 1}))
            .await;
        assert_eq!(
            self.reply(id).await["type"],
            "hello",
            "host stopped serving"
        );
    }

    /// What the host logged so far (stderr, every level).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Closes stdin as the browser does; the exit code. Fails on a panic in the log.
    pub async fn close(mut self) -> i32 {
        drop(self.stdin.take());
        let status = tokio::time::timeout(std::time::Duration::from_secs(10), self.child.wait())
            .await
            .expect("host exits promptly on EOF")
            .unwrap();
        let log = self.log();
        assert!(!log.contains("panicked"), "the host panicked: {log}");
        assert_no_secret_in("the host's stderr", &log);
        status.code().expect("exited normally")
    }
}

/// A native-messaging frame: u32 length in native byte order, then the body.
pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut f = (body.len() as u32).to_ne_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

/// A throwaway CA, made for one test: its PEM, and a server identity it signed for
/// `127.0.0.1` and `localhost`.
pub struct TestCa {
    pub ca_pem: String,
    pub server: fake::TlsIdentity,
}

impl TestCa {
    pub fn new() -> TestCa {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "preview-switch test CA");
        let ca_pem = ca.self_signed(&ca_key).unwrap().pem();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        TestCa {
            ca_pem,
            server: fake::TlsIdentity {
                cert_chain_pem: leaf.pem(),
                key_pem: key.serialize_pem(),
            },
        }
    }
}

/// The demo scenario served over HTTPS with a certificate from a fresh [`TestCa`].
pub async fn demo_server_tls() -> (FakeArgo, Running, TestCa) {
    let ca = TestCa::new();
    let state = fake::demo_scenario();
    let running = fake::serve_tls(state.clone(), "127.0.0.1:0".parse().unwrap(), &ca.server)
        .await
        .expect("fake Argo CD starts with TLS");
    (state, running, ca)
}
