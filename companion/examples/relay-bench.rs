//! The team relay's budgets (issue 17), on loopback and bounded in time: one real
//! `preview-switch serve` in front of the fake Argo CD holding 500 previews, 200 concurrent
//! `/v1/events` clients (tokio tasks here), and 100 `GET /v1/previews` per second from
//! `oha` (a maintained HTTP load generator from crates.io, `cargo install oha --locked`;
//! `OHA=/path/to/oha` to pick one) for the whole run. Meanwhile it makes Argo CD changes
//! and times each until all 200 clients have it. It prints what it measured and fails
//! when a budget is missed:
//!
//! - `GET /v1/previews` p95 < 50 ms (oha's own percentiles);
//! - the relay's peak RSS < 100 MB (`VmHWM`);
//! - every change at all 200 clients within 500 ms;
//! - Argo CD sees one watch per server and one list per change, none for the clients
//!   (counted at the fake).
//!
//!   relay-bench BIN [SECONDS]   (default 10)

#![allow(clippy::print_stdout, clippy::print_stderr)] // a benchmark reporting to its caller

use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_argocd::{self as fake, FakeArgo};
use futures_util::StreamExt;
use tokio::io::AsyncBufReadExt;

const PREVIEWS: usize = 500;
const APPS: usize = 2_000;
const CLIENTS: usize = 200;
const RATE: u32 = 100;
const CHANGES: usize = 5;
const TOKEN: &str = "bench-token";

/// Selector lists the fake served: the relay's preview lists (base-app lookups share the
/// path but carry no selector).
fn lists(state: &FakeArgo) -> usize {
    state
        .requests()
        .iter()
        .filter(|r| {
            r.path == "/api/v1/applications"
                && r.query.as_deref().is_some_and(|q| q.contains("selector="))
        })
        .count()
}

fn peak_rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// When each client saw each marker app (index = change number).
type Seen = Arc<Mutex<Vec<Vec<Option<Instant>>>>>;

/// One `/v1/events` client: reads the stream and notes when each change's marker arrives.
async fn client(url: String, index: usize, seen: Seen, opened: Arc<tokio::sync::Semaphore>) {
    let http = reqwest::Client::new();
    let response = http
        .get(format!("{url}/v1/events"))
        .send()
        .await
        .expect("the event stream opens");
    assert_eq!(response.status(), 200, "stream {index}");
    opened.add_permits(1);
    let mut body = response.bytes_stream();
    let mut text = String::new();
    while let Some(chunk) = body.next().await {
        let Ok(chunk) = chunk else { return };
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            for change in 0..CHANGES {
                if frame.contains(&format!("\"app\":\"bench-marker-pr-{change}\"")) {
                    let now = Instant::now();
                    let mut seen = seen.lock().unwrap();
                    seen[change][index].get_or_insert(now);
                }
            }
        }
    }
}

/// A JSON answer, or `null` when there is none yet.
async fn get_json(http: &reqwest::Client, url: &str) -> serde_json::Value {
    let Ok(response) = http.get(url).send().await else {
        return serde_json::Value::Null;
    };
    let body = response.bytes().await.unwrap_or_default();
    serde_json::from_slice(&body).unwrap_or_default()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(bin) = args.first().cloned() else {
        eprintln!("usage: relay-bench BIN [SECONDS]");
        return ExitCode::from(2);
    };
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(10);
    let oha = std::env::var("OHA").unwrap_or_else(|_| "oha".into());
    // reqwest is built without a default crypto provider (the companion picks ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run(bin, seconds, oha))
}

async fn run(bin: String, seconds: u64, oha: String) -> ExitCode {
    let state = FakeArgo::with_apps(TOKEN, fake::generated(APPS, PREVIEWS));
    let argo = fake::serve(state.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("the fake Argo CD starts");
    let template = state
        .apps()
        .into_iter()
        .find(|a| a.pointer("/metadata/labels/type").and_then(|t| t.as_str()) == Some("pr"))
        .expect("a preview app");

    // All clients come from 127.0.0.1 with no sign-in, so they share one limit key: the
    // per-client limits are raised out of the way; this measures the relay, not them.
    let mut relay = tokio::process::Command::new(&bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--allow-anonymous",
            "--max-streams-per-client",
            "100000",
            "--rate-limit",
            "1000000",
            "--burst",
            "1000000",
        ])
        .env("ARGOCD_SERVER", argo.url())
        .env("ARGOCD_AUTH_TOKEN", TOKEN)
        .env("PREVIEW_SWITCH_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the relay starts");
    let pid = relay.id().expect("a pid");
    let line = tokio::io::BufReader::new(relay.stdout.take().unwrap())
        .lines()
        .next_line()
        .await
        .unwrap()
        .expect("the relay says where it listens");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let http = reqwest::Client::new();
    // Ready, watching, and the watch's start-up replay settled.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = get_json(&http, &format!("{url}/healthz")).await;
        if health["servers"][0]["watch"] == "open" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the relay never got ready: {health}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let previews = get_json(&http, &format!("{url}/v1/previews")).await;
    let listed = previews["previews"].as_array().map_or(0, Vec::len);
    let lists_before = lists(&state);
    let watches_before = state.request_count("/api/v1/stream/applications");

    let seen: Seen = Arc::new(Mutex::new(vec![vec![None; CLIENTS]; CHANGES]));
    let opened = Arc::new(tokio::sync::Semaphore::new(0));
    let mut clients = tokio::task::JoinSet::new();
    for index in 0..CLIENTS {
        clients.spawn(client(url.clone(), index, seen.clone(), opened.clone()));
    }
    let connected =
        tokio::time::timeout(Duration::from_secs(30), opened.acquire_many(CLIENTS as u32)).await;
    assert!(connected.is_ok(), "200 event streams did not open in 30 s");
    let rss_idle = peak_rss_kb(pid);

    // 100 GET /v1/previews per second for the whole run.
    let load = tokio::process::Command::new(&oha)
        .args([
            "-z",
            &format!("{seconds}s"),
            "-q",
            &RATE.to_string(),
            "-c",
            "10",
            "--latency-correction",
            "--no-tui",
            "--output-format",
            "json",
            &format!("{url}/v1/previews"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn();
    let load = match load {
        Ok(child) => child,
        Err(e) => {
            eprintln!(
                "relay-bench: cannot run {oha} ({e}): install it with `cargo install oha --version 1.16.0 --locked` or set OHA"
            );
            return ExitCode::from(2);
        }
    };

    // The changes, spread over the run, each timed until all clients have it.
    let mut made = Vec::new();
    let gap = Duration::from_millis(seconds * 1000 / (CHANGES as u64 + 1));
    for change in 0..CHANGES {
        tokio::time::sleep(gap).await;
        let mut app = template.clone();
        app["metadata"]["name"] = serde_json::json!(format!("bench-marker-pr-{change}"));
        app["metadata"]["labels"]["preview-switch.io/pr"] =
            serde_json::json!(format!("{}", 9000 + change));
        let at = Instant::now();
        state.upsert_app(app);
        made.push(at);
    }
    let output = load.wait_with_output().await.expect("oha ran");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let rss_peak = peak_rss_kb(pid);
    let lists_during = lists(&state) - lists_before;
    let watches = state.request_count("/api/v1/stream/applications");

    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let p = |k: &str| report["latencyPercentiles"][k].as_f64().unwrap_or(f64::NAN) * 1000.0;
    let (p50, p95, p99) = (p("p50"), p("p95"), p("p99"));
    let rps = report["summary"]["requestsPerSec"]
        .as_f64()
        .unwrap_or(f64::NAN);
    let success = report["summary"]["successRate"].as_f64().unwrap_or(0.0);
    let codes = report["statusCodeDistribution"].to_string();

    let seen = seen.lock().unwrap().clone();
    let mut reach_ms = Vec::new();
    let mut missing = 0;
    for (change, at) in made.iter().enumerate() {
        let times: Vec<Instant> = seen[change].iter().flatten().copied().collect();
        missing += CLIENTS - times.len();
        if let Some(last) = times.iter().max() {
            reach_ms.push(last.duration_since(*at).as_secs_f64() * 1000.0);
        }
    }
    reach_ms.sort_by(f64::total_cmp);
    let slowest = reach_ms.last().copied().unwrap_or(f64::NAN);
    clients.abort_all();
    let _ = relay.kill().await;

    println!(
        "relay-bench: {listed} previews (of {APPS} apps), {CLIENTS} event streams, {RATE} GET /v1/previews per s for {seconds} s (oha), {CHANGES} Argo CD changes"
    );
    println!(
        "GET /v1/previews: {rps:.1} req/s, success {:.1}%, statuses {codes}, p50 {p50:.2} ms, p95 {p95:.2} ms, p99 {p99:.2} ms",
        success * 100.0
    );
    println!(
        "change to all {CLIENTS} clients: median {:.1} ms, slowest {slowest:.1} ms ({missing} client-changes missing)",
        percentile(&reach_ms, 0.5)
    );
    println!(
        "relay RSS: peak {:.1} MB after the streams opened, {:.1} MB at the end",
        rss_idle as f64 / 1024.0,
        rss_peak as f64 / 1024.0
    );
    println!(
        "at the fake: {watches} watch(es) in all ({watches_before} before the clients), {lists_during} list(s) during the run for {CHANGES} changes"
    );
    let budgets = [
        (p95 < 50.0, "GET p95 < 50 ms"),
        (rss_peak < 100 * 1024, "RSS < 100 MB"),
        (
            missing == 0 && slowest < 500.0,
            "every change at every client < 500 ms",
        ),
        (watches == 1, "one watch"),
        (
            lists_during == CHANGES,
            "one list per change, none for the clients",
        ),
        (
            success > 0.999 && listed == PREVIEWS,
            "all answers 200 with every preview",
        ),
    ];
    let failed: Vec<&str> = budgets
        .iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, what)| *what)
        .collect();
    drop(argo);
    if failed.is_empty() {
        println!("relay-bench: PASS");
        ExitCode::SUCCESS
    } else {
        println!("relay-bench: FAIL ({})", failed.join(", "));
        ExitCode::from(1)
    }
}
