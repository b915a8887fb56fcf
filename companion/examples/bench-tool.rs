//! Benchmark helper for `scripts/bench.sh` (DESIGN §7): writes a realistic ApplicationList,
//! serves it from the fake Argo CD, and decodes a file with the companion's streaming
//! decoder, so each budget is measured on the same data as its `jq` baseline.
//!
//!   bench-tool gen FILE APPS PREVIEWS     write an unprojected ApplicationList
//!   bench-tool decode FILE                decode FILE, keep the `type=pr` items, print the count
//!   bench-tool serve PORTFILE APPS PREVIEWS  serve a fake Argo CD until killed; writes its URL to PORTFILE
//!   bench-tool host-rtt BIN URL N [HOST]  N `list` (or `list {host}`) round trips over one host process, warm cache
//!   bench-tool host-cold BIN URL N        N fresh host processes each answering one `list` from the disk cache
//!   bench-tool soak BIN [REQUESTS] [EVENTS]  one subscribed host serving REQUESTS (10,000) `list`s
//!                                         while the fake's watch sends EVENTS (1,000) changes;
//!                                         prints RSS and open fds after warm-up and at the end,
//!                                         exits 1 on >10% RSS growth or any fd growth
//!
//! The live-update budgets of issue 10 each print one `PASS`/`FAIL` line (a Markdown table
//! row) and exit 1 on a miss:
//!
//!   bench-tool watch-latency BIN [N]      N (100) app changes in the fake (gzip on, as Argo CD
//!                                         2.8+) until a subscribed host port sends
//!                                         `previews_changed`: median < 300 ms, p95 < 1 s
//!   bench-tool reconcile-relists BIN [N]  N (100) reconcile-only changes to previews: list
//!                                         requests the fake counted meanwhile (budget: 0)
//!   bench-tool quiet-watch BIN [SECONDS]  a subscribed host with `--timeout 1s` on a server with
//!                                         no preview for SECONDS (10: 5 min at the default 30 s
//!                                         timeout, compressed 30x): watch requests (budget: 1)

#![allow(clippy::print_stderr, clippy::print_stdout)] // a benchmark tool talking to the person running it

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use companion::argocd::decode::{ListDecoder, decode_reader};
use companion::core::selector::Selector;
use fake_argocd::{self as fake, FakeArgo};

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
        "soak" => {
            let requests = args.get(2).map_or(10_000, |_| num(2));
            let events = args.get(3).map_or(1_000, |_| num(3));
            return soak(&arg(1), requests, events);
        }
        "watch-latency" => {
            let n = args.get(2).map_or(100, |_| num(2));
            return watch_latency(&arg(1), n);
        }
        "reconcile-relists" => {
            let n = args.get(2).map_or(100, |_| num(2));
            return reconcile_relists(&arg(1), n);
        }
        "quiet-watch" => {
            let secs = args.get(2).map_or(10, |_| num(2));
            return quiet_watch(&arg(1), secs as u64);
        }
        _ => {
            eprintln!(
                "usage: bench-tool gen|decode|serve|host-rtt|host-cold|soak|watch-latency|reconcile-relists|quiet-watch ..."
            );
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// Resident memory (kB) and open file descriptors of a process, from `/proc`.
fn rss_and_fds(pid: u32) -> (u64, usize) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    (rss, fds)
}

/// One host process, subscribed, answering `requests` `list`s over its one port while the
/// fake Argo CD's watch delivers `events` changes (one every `requests / events` lists).
/// Warm-up is the first tenth; growth is measured from there to the end.
fn soak(bin: &str, requests: usize, events: usize) -> ExitCode {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = FakeArgo::with_apps("bench-token", fake::generated(200, 50));
    let running = rt
        .block_on(fake::serve(state.clone(), "127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let preview = state
        .apps()
        .into_iter()
        .find(|a| a.pointer("/metadata/labels/type").and_then(|t| t.as_str()) == Some("pr"))
        .and_then(|a| a.pointer("/metadata/name")?.as_str().map(str::to_owned))
        .expect("a preview app");
    let cache = tempfile::tempdir().unwrap();
    let mut host = spawn_host(bin, &running.url(), cache.path());
    let pid = host.child.id();
    host.list();
    host.subscribe();
    let every = (requests / events.max(1)).max(1);
    let warm_at = requests / 10;
    let (mut warm, mut sent_events) = ((0, 0), 0usize);
    let mut fd_peak_warm = 0;
    let started = Instant::now();
    for i in 1..=requests {
        if i % every == 0 && sent_events < events {
            sent_events += 1;
            let health = if sent_events % 2 == 0 {
                "Healthy"
            } else {
                "Degraded"
            };
            state.update_app(&preview, |app| {
                app["status"]["health"]["status"] = serde_json::json!(health);
            });
        }
        host.list();
        if i <= warm_at {
            fd_peak_warm = fd_peak_warm.max(rss_and_fds(pid).1);
        }
        if i == warm_at {
            warm = rss_and_fds(pid);
        }
    }
    // Let the last changes arrive, so every event was handled before the final sample.
    let deadline = Instant::now() + Duration::from_secs(10);
    while host.events_seen == 0 && Instant::now() < deadline {
        host.list();
    }
    std::thread::sleep(Duration::from_millis(500));
    host.list();
    let end = rss_and_fds(pid);
    let elapsed = started.elapsed();
    let growth = (end.0 as f64 - warm.0 as f64) / warm.0.max(1) as f64 * 100.0;
    println!(
        "soak: {requests} list requests and {sent_events} watch changes ({} previews_changed events pushed) over one host in {:.1} s",
        host.events_seen,
        elapsed.as_secs_f64()
    );
    println!(
        "RSS after warm-up {} kB, at the end {} kB ({growth:+.1}%); open fds after warm-up {} (peak {fd_peak_warm}), at the end {}",
        warm.0, end.0, warm.1, end.1
    );
    let ok = growth < 10.0 && end.1 <= fd_peak_warm && host.events_seen > 0;
    drop(host);
    drop(running);
    if ok {
        println!("soak: PASS");
        ExitCode::SUCCESS
    } else {
        println!("soak: FAIL (RSS growth must stay under 10% and fds must not grow)");
        ExitCode::from(1)
    }
}

/// The real binary as Chromium launches it, with a private cache dir.
struct HostProc {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
    next_id: u64,
    /// `list {host}`, as the popup asks for the active tab's host.
    host: Option<String>,
    /// `previews_changed` frames read so far.
    events_seen: usize,
}

fn spawn_host(bin: &str, url: &str, cache: &Path) -> HostProc {
    let origin = format!("chrome-extension://{}/", companion::host::EXTENSION_ID);
    spawn_host_with(bin, url, cache, &[&origin])
}

/// [`spawn_host`] with other arguments (e.g. `host --timeout 1s`).
fn spawn_host_with(bin: &str, url: &str, cache: &Path, args: &[&str]) -> HostProc {
    let mut child = Command::new(bin)
        .args(args)
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
        events_seen: 0,
    }
}

impl HostProc {
    /// Sends `list` and reads frames until its answer.
    fn list(&mut self) {
        let id = self.next_id;
        let body = match &self.host {
            Some(h) => format!(r#"{{"id":{id},"type":"list","host":"{h}"}}"#),
            None => format!(r#"{{"id":{id},"type":"list"}}"#),
        };
        self.request(&body, "list");
    }

    /// Live updates on this port, as the extension's worker asks.
    fn subscribe(&mut self) {
        let id = self.next_id;
        self.request(
            &format!(r#"{{"id":{id},"type":"subscribe"}}"#),
            "subscribed",
        );
    }

    /// Sends one request and reads frames until its answer (of type `want`).
    fn request(&mut self, body: &str, want: &str) {
        let id = self.next_id;
        self.next_id += 1;
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
            if v["type"] == "previews_changed" {
                self.events_seen += 1;
            }
            if v["id"] == id {
                assert_eq!(v["type"], want, "{v}");
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

// --- issue 10: live updates against a watch that behaves like Argo CD's ------------------

impl HostProc {
    /// Reads frames until a `previews_changed` naming `app`; counts every event seen.
    fn wait_changed(&mut self, app: &str) {
        loop {
            let mut len = [0u8; 4];
            self.stdout.read_exact(&mut len).unwrap();
            let mut buf = vec![0; u32::from_ne_bytes(len) as usize];
            self.stdout.read_exact(&mut buf).unwrap();
            let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
            if v["type"] == "previews_changed" {
                self.events_seen += 1;
                let names = v["changes"].as_array().into_iter().flatten();
                if names.into_iter().any(|c| c["preview"]["app"] == app) {
                    return;
                }
            }
        }
    }
}

/// A fake (gzip on, the default since Argo CD 2.8) with `apps` and one subscribed host.
fn live_host(
    rt: &tokio::runtime::Runtime,
    bin: &str,
    state: &FakeArgo,
    args: &[&str],
    cache: &Path,
) -> (fake::Running, HostProc) {
    let running = rt
        .block_on(fake::serve(state.clone(), "127.0.0.1:0".parse().unwrap()))
        .unwrap();
    let mut host = spawn_host_with(bin, &running.url(), cache, args);
    host.list();
    host.subscribe();
    // The watch opens, and the one re-list that follows a new watch settles.
    std::thread::sleep(Duration::from_millis(1500));
    (running, host)
}

fn a_preview(state: &FakeArgo) -> String {
    state
        .apps()
        .into_iter()
        .find(|a| a.pointer("/metadata/labels/type").and_then(|t| t.as_str()) == Some("pr"))
        .and_then(|a| a.pointer("/metadata/name")?.as_str().map(str::to_owned))
        .expect("a preview app")
}

/// Prints one budget as a Markdown table row ending in PASS or FAIL; exit 1 on FAIL.
fn verdict(budget: &str, measured: &str, pass: bool) -> ExitCode {
    let result = if pass { "PASS" } else { "FAIL" };
    println!("| {budget} | {measured} | {result} |");
    if pass {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Budget: an application change reaches a subscribed host port as `previews_changed`,
/// median < 300 ms, p95 < 1 s, through gzip.
fn watch_latency(bin: &str, n: usize) -> ExitCode {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let state = FakeArgo::with_apps("bench-token", fake::generated(200, 50));
    let cache = tempfile::tempdir().unwrap();
    let origin = format!("chrome-extension://{}/", companion::host::EXTENSION_ID);
    let (running, mut host) = live_host(&rt, bin, &state, &[&origin], cache.path());
    let preview = a_preview(&state);
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let health = if i % 2 == 0 { "Degraded" } else { "Healthy" };
        let t = Instant::now();
        state.update_app(&preview, |app| {
            app["status"]["health"]["status"] = serde_json::json!(health);
        });
        host.wait_changed(&preview);
        samples.push(t.elapsed());
    }
    drop(host);
    drop(running);
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let (med, p95) = (
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 95 / 100]),
    );
    verdict(
        &format!(
            "an application change in the fake to `previews_changed` on a subscribed host port, through gzip ({n} changes): median under 300 ms, p95 under 1 s"
        ),
        &format!("median {med:.1} ms, p95 {p95:.1} ms"),
        med < 300.0 && p95 < 1000.0,
    )
}

/// Budget: reconcile-only changes (`status.reconciledAt`) cause no re-list.
fn reconcile_relists(bin: &str, n: usize) -> ExitCode {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let previews = 50;
    let state = FakeArgo::with_apps("bench-token", fake::generated(200, previews));
    let cache = tempfile::tempdir().unwrap();
    let origin = format!("chrome-extension://{}/", companion::host::EXTENSION_ID);
    let (running, host) = live_host(&rt, bin, &state, &[&origin], cache.path());
    let before = state.request_count("/api/v1/applications");
    // Each round reconciles every app: `previews` reconcile-only changes to previews.
    for _ in 0..n.div_ceil(previews) {
        state.reconcile_all();
        std::thread::sleep(Duration::from_millis(200));
    }
    // A re-list would start within the host's debounce; give it ample time to show.
    std::thread::sleep(Duration::from_secs(2));
    let relists = state.request_count("/api/v1/applications") - before;
    // The changes reached an open watch (not a host that had stopped watching).
    let watches = state.request_count("/api/v1/stream/applications");
    let changes = n.div_ceil(previews) * previews;
    drop(host);
    drop(running);
    verdict(
        &format!(
            "{changes} reconcile-only changes to previews (only `status.reconciledAt` moves): no re-list"
        ),
        &format!("{relists} list requests at the fake, {watches} watch request(s)"),
        relists == 0 && watches == 1,
    )
}

/// Budget: a watch that stays quiet costs no reconnect. Time is compressed 30x: the host
/// runs with `--timeout 1s` (the default is 30 s), so `secs` seconds stand for 30 times
/// as many at the default.
fn quiet_watch(bin: &str, secs: u64) -> ExitCode {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // Base apps only: no preview matches, so the watch has no event to send.
    let bases: Vec<serde_json::Value> = fake::generated(200, 50)
        .into_iter()
        .filter(|a| a.pointer("/metadata/labels/type").and_then(|t| t.as_str()) != Some("pr"))
        .collect();
    let state = FakeArgo::with_apps("bench-token", bases);
    let cache = tempfile::tempdir().unwrap();
    let (running, host) = live_host(&rt, bin, &state, &["host", "--timeout", "1s"], cache.path());
    std::thread::sleep(Duration::from_secs(secs));
    let watches = state.request_count("/api/v1/stream/applications");
    drop(host);
    drop(running);
    verdict(
        &format!(
            "a watch quiet for {secs} s with `--timeout 1s` ({:.0} min at the default 30 s): no reconnect",
            secs as f64 * 30.0 / 60.0
        ),
        &format!("{watches} watch request(s)"),
        watches == 1,
    )
}
