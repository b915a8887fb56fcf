//! Benchmark helper for `scripts/bench.sh` (DESIGN §7): writes a realistic ApplicationList,
//! serves it from the fake Argo CD, and decodes a file with the companion's streaming
//! decoder, so each budget is measured on the same data as its `jq` baseline.
//!
//!   bench-tool gen FILE APPS PREVIEWS     write an unprojected ApplicationList
//!   bench-tool decode FILE                decode FILE, keep the `type=pr` items, print the count
//!   bench-tool serve PORTFILE APPS PREVIEWS  serve a fake Argo CD until killed; writes its URL to PORTFILE
//!   bench-tool host-rtt BIN URL N [HOST]  N `list` (or `list {host}`) round trips over one host process, warm cache
//!   bench-tool host-cold BIN URL N        N fresh host processes each answering one `list` from the disk cache

#![allow(clippy::print_stderr, clippy::print_stdout)] // a benchmark tool talking to the person running it

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use companion::argocd::decode::{ListDecoder, decode_reader};
use companion::core::selector::Selector;
use companion::fake::{self, FakeArgo};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize| arg(i).parse::<usize>().expect("a number");
    match arg(0).as_str() {
        "gen" => {
            let apps = fake::generated(num(2), num(3));
            fake::write_list(std::path::Path::new(&arg(1)), &apps).expect("write the list");
        }
        "decode" => {
            let selector = Selector::parse("type=pr").unwrap();
            let file = std::fs::File::open(arg(1)).expect("open the list");
            let keep =
                ListDecoder::new().with_filter(move |app: &companion::argocd::Application| {
                    selector.matches(&app.metadata.labels)
                });
            let reader = std::io::BufReader::with_capacity(1 << 16, file);
            let list = decode_reader(reader, keep).expect("decode");
            eprintln!("{} previews", list.items.len());
        }
        "serve" => {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let state = FakeArgo::with_apps("bench-token", fake::generated(num(2), num(3)));
                let running = fake::serve(state, "127.0.0.1:0".parse().unwrap())
                    .await
                    .unwrap();
                std::fs::write(arg(1), running.url()).unwrap();
                std::future::pending::<()>().await;
            });
        }
        "host-rtt" | "host-cold" => {
            let cache = tempfile::tempdir().unwrap();
            let spawn = || spawn_host(&arg(1), &arg(2), cache.path());
            let n = num(3);
            let mut samples = Vec::with_capacity(n);
            if arg(0) == "host-rtt" {
                let mut host = spawn();
                host.host = args.get(4).cloned();
                host.list(); // fills the cache
                for _ in 0..n {
                    let t = Instant::now();
                    host.list();
                    samples.push(t.elapsed());
                }
            } else {
                spawn().list();
                for _ in 0..n {
                    let t = Instant::now();
                    spawn().list();
                    samples.push(t.elapsed());
                }
            }
            samples.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{:.2} {:.2}",
                ms(samples[samples.len() / 2]),
                ms(samples[samples.len() * 95 / 100])
            );
        }
        _ => {
            eprintln!("usage: bench-tool gen|decode|serve ...");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// The real binary as Chromium launches it, with a private cache dir.
struct HostProc {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    next_id: u64,
    /// `list {host}`, as the popup asks for the active tab's host.
    host: Option<String>,
}

fn spawn_host(bin: &str, url: &str, cache: &Path) -> HostProc {
    let origin = format!("chrome-extension://{}/", companion::host::EXTENSION_ID);
    let mut child = Command::new(bin)
        .arg(origin)
        .env("ARGOCD_SERVER", url)
        .env("ARGOCD_AUTH_TOKEN", "bench-token")
        .env("PREVIEW_SWITCH_CACHE_DIR", cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the host");
    let stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    HostProc {
        child,
        stdin,
        stdout,
        next_id: 1,
        host: None,
    }
}

impl HostProc {
    /// Sends `list` and reads frames until its answer.
    fn list(&mut self) {
        let id = self.next_id;
        self.next_id += 1;
        let body = match &self.host {
            Some(h) => format!(r#"{{"id":{id},"type":"list","host":"{h}"}}"#),
            None => format!(r#"{{"id":{id},"type":"list"}}"#),
        };
        let mut frame = (body.len() as u32).to_ne_bytes().to_vec();
        frame.extend(body.as_bytes());
        self.stdin.write_all(&frame).unwrap();
        self.stdin.flush().unwrap();
        loop {
            let mut len = [0u8; 4];
            self.stdout.read_exact(&mut len).unwrap();
            let mut buf = vec![0; u32::from_ne_bytes(len) as usize];
            self.stdout.read_exact(&mut buf).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
            if v["id"] == id {
                assert_eq!(v["type"], "list", "{v}");
                return;
            }
        }
    }
}

impl Drop for HostProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
