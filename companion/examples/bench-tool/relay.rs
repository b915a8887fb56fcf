//! `bench-tool relay BIN [SECONDS]`: the team relay's budgets (issue 17), on loopback and bounded in time: one real
//! `preview-switch serve` in front of the fake Argo CD holding 500 previews, 200 concurrent
//! `/v1/events` clients (tokio tasks here), and at least 100 `GET /v1/previews` per second
//! from `wrk` (a maintained HTTP load generator, Debian's package: `scripts/setup.sh bench`
//! installs it; `WRK=/path/to/wrk` picks another) for the whole run. Meanwhile it makes
//! Argo CD changes and times each until all 200 clients have it. It prints one line per
//! budget with PASS or FAIL (also saved to `target/bench/relay.md`) and exits 1 when one is
//! missed:
//!
//! - `GET /v1/previews` at 100 per second or more, p95 < 50 ms (wrk's own percentiles);
//! - the relay's peak RSS < 100 MB (`VmHWM`);
//! - every change at all 200 clients within 500 ms;
//! - Argo CD sees one watch per server and one list per change, none for the clients
//!   (counted at the fake).
//!
//! The fake serves generated apps whose routes are annotations: this measures the relay's
//! fan-out, which discovery would not change (each list re-reads only changed apps).

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
/// wrk's connections; each waits [`PACE_MS`] after every answer (wrk times each request
/// from its send, the wait excluded). 40 connections pacing 350 ms offer at least [`RATE`]
/// per second while answers take 50 ms or less on average (the p95 budget), and at most
/// about 114 per second when they are instant: the rate holds on a loaded machine, where a
/// tighter pace would fall under it without the relay being slow.
const CONNECTIONS: u32 = 40;
const PACE_MS: u32 = 350;

/// wrk's script: the pace, then one line of JSON with what wrk measured (times in µs).
const WRK_SCRIPT: &str = r#"
local pace = 0
function init(args) pace = tonumber(args[1]) end
function delay() return pace end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'relay-load {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"non_2xx":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout,
    e.status, latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"#;

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

/// Runs the relay's budgets for `seconds` of load against the release binary `bin`.
pub fn run(bin: &str, seconds: u64) -> ExitCode {
    let wrk = std::env::var("WRK").unwrap_or_else(|_| "wrk".into());
    // reqwest is built without a default crypto provider (the companion picks ring).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    rt.block_on(measure(bin.to_owned(), seconds, wrk))
}

/// What wrk measured, from its script's last line.
#[derive(Debug, Default, serde::Deserialize)]
struct Load {
    requests: u64,
    duration_us: u64,
    bytes: u64,
    errors: u64,
    non_2xx: u64,
    p50_us: u64,
    p95_us: u64,
    p99_us: u64,
    max_us: u64,
}

impl Load {
    fn from_output(stdout: &[u8]) -> Option<Load> {
        String::from_utf8_lossy(stdout)
            .lines()
            .find_map(|l| l.strip_prefix("relay-load "))
            .and_then(|json| serde_json::from_str(json).ok())
    }
    fn per_second(&self) -> f64 {
        self.requests as f64 * 1e6 / self.duration_us.max(1) as f64
    }
}

/// One budget: what it asks, what was measured, whether it held.
struct Check {
    budget: String,
    measured: String,
    pass: bool,
}
async fn measure(bin: String, seconds: u64, wrk: String) -> ExitCode {
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
    let lists_before = state.selector_lists();
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

    // At least 100 GET /v1/previews per second for the whole run.
    let script = tempfile::Builder::new()
        .suffix(".lua")
        .tempfile()
        .expect("a temporary file for wrk's script");
    std::fs::write(script.path(), WRK_SCRIPT).expect("wrk's script is written");
    let load = tokio::process::Command::new(&wrk)
        .args([
            "-t1",
            &format!("-c{CONNECTIONS}"),
            &format!("-d{seconds}s"),
            "--timeout",
            "5s",
            "-s",
            script.path().to_str().unwrap(),
            &format!("{url}/v1/previews"),
            "--",
            &PACE_MS.to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn();
    let load = match load {
        Ok(child) => child,
        Err(e) => {
            eprintln!(
                "bench-tool relay: cannot run {wrk}: {e}: install it with scripts/setup.sh bench (Debian's wrk), or set WRK"
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
    let output = load.wait_with_output().await.expect("wrk ran");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let rss_peak = peak_rss_kb(pid);
    let lists_during = state.selector_lists() - lists_before;
    let watches = state.request_count("/api/v1/stream/applications");
    let load = Load::from_output(&output.stdout).unwrap_or_else(|| {
        eprintln!(
            "bench-tool relay: wrk gave no result ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout)
        );
        Load::default()
    });
    let ms = |us: u64| us as f64 / 1000.0;

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
    drop(argo);

    let checks = [
        Check {
            budget: format!(
                "{RATE} `GET /v1/previews` per second (wrk, {CONNECTIONS} connections) beside {CLIENTS} open `/v1/events` streams: p95 < 50 ms"
            ),
            measured: format!(
                "{:.1} req/s; p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                load.per_second(),
                ms(load.p50_us),
                ms(load.p95_us),
                ms(load.p99_us),
                ms(load.max_us)
            ),
            pass: load.per_second() >= f64::from(RATE) && ms(load.p95_us) < 50.0,
        },
        Check {
            budget: "every answer 200 with all the previews".into(),
            measured: format!(
                "{} answers, {} not 2xx, {} socket errors, {:.0} KB each; {listed} of {PREVIEWS} previews listed",
                load.requests,
                load.non_2xx,
                load.errors,
                load.bytes as f64 / load.requests.max(1) as f64 / 1000.0
            ),
            pass: load.requests > 0
                && load.non_2xx == 0
                && load.errors == 0
                && listed == PREVIEWS,
        },
        Check {
            budget: format!("an Argo CD change at all {CLIENTS} stream clients within 500 ms"),
            measured: format!(
                "{CHANGES} changes: median {:.1} ms, slowest {slowest:.1} ms, {missing} deliveries missing",
                percentile(&reach_ms, 0.5)
            ),
            pass: missing == 0 && slowest < 500.0,
        },
        Check {
            budget: "the relay's peak RSS < 100 MB".into(),
            measured: format!(
                "{:.1} MB with the streams open, {:.1} MB at the end",
                rss_idle as f64 / 1024.0,
                rss_peak as f64 / 1024.0
            ),
            pass: rss_peak > 0 && rss_peak < 100 * 1024,
        },
        Check {
            budget: "Argo CD sees one watch per server and one list per change, whatever the clients (counted at the fake)".into(),
            measured: format!(
                "{watches} watch ({watches_before} before the clients came); {lists_during} lists for {CHANGES} changes"
            ),
            pass: watches == 1 && lists_during == CHANGES,
        },
    ];
    let mut table = format!(
        "relay: the fake with {APPS} apps / {PREVIEWS} previews, {seconds} s of load\n\n| budget (issue 17) | measured | result |\n| --- | --- | --- |\n"
    );
    for c in &checks {
        let result = if c.pass { "PASS" } else { "FAIL" };
        table.push_str(&format!("| {} | {} | {result} |\n", c.budget, c.measured));
    }
    print!("{table}");
    let _ = std::fs::create_dir_all("target/bench");
    let _ = std::fs::write("target/bench/relay.md", &table);
    let failed = checks.iter().filter(|c| !c.pass).count();
    if failed == 0 {
        println!("relay: PASS");
        ExitCode::SUCCESS
    } else {
        println!("relay: FAIL ({failed} budget(s) missed)");
        ExitCode::from(1)
    }
}
