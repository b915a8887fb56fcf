//! Test support: an isolated environment for the real `preview-switch` binary (its own HOME,
//! XDG dirs and no inherited Argo CD variables) and the fake Argo CD served on 127.0.0.1:0.

use std::path::{Path, PathBuf};
use std::process::Output;

use companion::fake::{self, FakeArgo, Running};

pub const TOKEN: &str = "demo-token";

/// A fake Argo CD with the demo scenario, served on a free loopback port.
pub async fn demo_server() -> (FakeArgo, Running) {
    let state = fake::demo_scenario();
    let running = fake::serve(state.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("fake Argo CD starts");
    (state, running)
}

/// A throwaway HOME for one test; the binary sees nothing of the developer's machine.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Self {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn home(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, contents: &str) -> PathBuf {
        let path = self.home().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// The real binary with a clean environment.
    pub fn cmd(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_preview-switch"));
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.home().join(".config"))
            .env("XDG_CACHE_HOME", self.home().join(".cache"))
            .env("XDG_STATE_HOME", self.home().join(".local/state"))
            .env("NO_COLOR", "1")
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
        run
    }
}

impl Run {
    /// Every test checks this: the secret never reaches a person's screen or a script.
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
