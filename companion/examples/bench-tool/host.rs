//! The real binary as a browser launches it (native-messaging host, private cache dir), for
//! the benchmarks and the soak: requests go out as frames on its stdin, and a reader thread
//! hands every frame from its stdout over a channel, so no wait can hang the run.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Longest wait for any one answer or event before the run is declared broken.
const WAIT: Duration = Duration::from_secs(60);

pub struct HostProc {
    child: Child,
    stdin: ChildStdin,
    frames: Receiver<Value>,
    next_id: u64,
    /// `previews_changed` frames read so far.
    pub events_seen: usize,
}

impl HostProc {
    /// Starts `bin` against Argo CD at `url` (token `token`), caching in `cache`.
    pub fn spawn(bin: &str, url: &str, token: &str, cache: &Path) -> HostProc {
        let origin = format!("chrome-extension://{}/", companion::host::EXTENSION_ID);
        HostProc::spawn_with(bin, url, token, cache, &[&origin])
    }

    /// [`HostProc::spawn`] with other arguments than the browser's origin (e.g. `host
    /// --timeout 1s`).
    pub fn spawn_with(bin: &str, url: &str, token: &str, cache: &Path, args: &[&str]) -> HostProc {
        let mut child = Command::new(bin)
            .args(args)
            .env("ARGOCD_SERVER", url)
            .env("ARGOCD_AUTH_TOKEN", token)
            .env("PREVIEW_SWITCH_CACHE_DIR", cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the host");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let (tx, frames) = channel();
        std::thread::spawn(move || {
            loop {
                let mut len = [0u8; 4];
                if stdout.read_exact(&mut len).is_err() {
                    return;
                }
                let mut buf = vec![0; u32::from_ne_bytes(len) as usize];
                if stdout.read_exact(&mut buf).is_err() {
                    return;
                }
                let frame = serde_json::from_slice(&buf).expect("the host writes JSON frames");
                if tx.send(frame).is_err() {
                    return;
                }
            }
        });
        HostProc {
            child,
            stdin,
            frames,
            next_id: 1,
            events_seen: 0,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `list`, or `list {host}` as the popup asks for the active tab's host.
    pub fn list(&mut self, host: Option<&str>) -> Value {
        match host {
            Some(h) => self.request(serde_json::json!({"type": "list", "host": h}), "list"),
            None => self.request(serde_json::json!({"type": "list"}), "list"),
        }
    }

    /// `refresh`: fetch from Argo CD now, answered once that fetch is done.
    pub fn refresh(&mut self) -> Value {
        self.request(serde_json::json!({"type": "refresh"}), "list")
    }

    /// Live updates on this port, as the extension's worker asks.
    pub fn subscribe(&mut self) {
        self.request(serde_json::json!({"type": "subscribe"}), "subscribed");
    }

    /// Sends one request and reads frames until its answer, which must be of type `want`.
    fn request(&mut self, mut body: Value, want: &str) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        body["id"] = id.into();
        let body = serde_json::to_vec(&body).expect("serialise");
        let mut frame = (body.len() as u32).to_ne_bytes().to_vec();
        frame.extend(body);
        self.stdin.write_all(&frame).expect("write to the host");
        self.stdin.flush().expect("write to the host");
        loop {
            let v = self.next_frame(WAIT).expect("the host answers");
            if v["id"] == id {
                assert_eq!(v["type"], want, "{v}");
                return v;
            }
        }
    }

    /// The next frame within `wait`, counting `previews_changed` events.
    fn next_frame(&mut self, wait: Duration) -> Option<Value> {
        match self.frames.recv_timeout(wait) {
            Ok(v) => {
                if v["type"] == "previews_changed" {
                    self.events_seen += 1;
                }
                Some(v)
            }
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => panic!("the host exited"),
        }
    }

    /// Reads frames until a `previews_changed` event names `app`.
    pub fn wait_change(&mut self, app: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        while let Some(v) = self.next_frame(deadline.saturating_duration_since(Instant::now())) {
            let names_app = v["changes"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["preview"]["app"] == app));
            if v["type"] == "previews_changed" && names_app {
                return v;
            }
        }
        panic!("no previews_changed event for {app} within {WAIT:?}");
    }

    /// Reads (and drops) whatever frames arrive within `wait`.
    pub fn drain(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while self
            .next_frame(deadline.saturating_duration_since(Instant::now()))
            .is_some()
        {}
    }
}

impl Drop for HostProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
