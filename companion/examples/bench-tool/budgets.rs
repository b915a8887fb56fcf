//! `bench-tool bench BIN`: each budget of docs/DESIGN.md §7 and §10 that the companion owns,
//! measured on the realistic scenario ([`fake_argocd::Scenario::at_scale`]: 10,000 apps,
//! previews routed only by discovery, a Pull Request ApplicationSet per service) and
//! against its baseline on the same data (jq, curl + jq; timed by hyperfine, peak memory by
//! GNU time). Prints one line per budget with PASS or FAIL, then how `list` grows with the
//! number of previews (10, 100, 500) with the requests each costs, counted at the fake;
//! writes both tables to `target/bench/results.md`; exits 1 when a budget is missed.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use companion::argocd::client::Client;
use fake_argocd::{self as fake, FakeArgo, RecordedRequest, Scenario};
use serde_json::Value;

use crate::host::HostProc;

/// Apps on the server; only the number of previews among them changes between runs.
const APPS: usize = 10_000;
/// The preview counts `list` is measured at; the last is the scale of docs/DESIGN.md §7.
const SIZES: [usize; 3] = [10, 100, 500];
const OUT: &str = "target/bench";
/// The application watch's path.
const WATCH: &str = "/api/v1/stream/applications";

/// The fake's version: a 3.x server, so the list is projected as in the field.
const SERVER_VERSION: &str = fake::DEFAULT_VERSION;

/// What `preview-switch list` does, done with curl and jq against the same server: the
/// projected list of previews, each one's managed resources (8 transfers in parallel on one
/// curl) for its HTTPRoute's cookie and hostnames, the ApplicationSets for pull-request
/// links, the base apps' externalURLs for hosts. Prints how many previews got a route.
const CURL_JQ: &str = r#"#!/usr/bin/env bash
set -euo pipefail
url=$1 token=$2 fields=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
auth="Authorization: Bearer $token"
curl -sf -H "$auth" "$url/api/v1/applications?selector=type%3Dpr&fields=$fields" >"$tmp/list.json"
curl -sf -H "$auth" "$url/api/v1/applicationsets" >"$tmp/sets.json"
jq -r --arg u "$url" --arg d "$tmp" '.items[].metadata.name
  | "url = \"\($u)/api/v1/applications/\(.)/managed-resources\"\noutput = \"\($d)/mr-\(.).json\""' \
  "$tmp/list.json" >"$tmp/mr.conf"
curl -sf --no-progress-meter -H "$auth" -Z --parallel-max 8 -K "$tmp/mr.conf"
jq -r --arg u "$url" --arg d "$tmp" --arg f "$fields" '[.items[].metadata.labels["preview-switch.io/service"]] | unique[]
  | "url = \"\($u)/api/v1/applications?name=\(.)&fields=\($f)\"\noutput = \"\($d)/base-\(.).json\""' \
  "$tmp/list.json" >"$tmp/base.conf"
curl -sf --no-progress-meter -H "$auth" -Z --parallel-max 8 -K "$tmp/base.conf"
jq -s '[.[].items[]? | select(.kind == "HTTPRoute") | .liveState | fromjson
  | {key: .metadata.name, value: {hosts: (.spec.hostnames // []),
     cookie: (.spec.rules[0].matches[0].headers[0].value | capture("; \\)(?<name>.*)=(?<value>[^(=]*)\\(")
              | {name: (.name | gsub("\\\\"; "")), value: (.value | gsub("\\\\"; ""))})}}] | from_entries' \
  "$tmp"/mr-*.json >"$tmp/routes.json"
jq -s '[.[].items[]? | {key: .metadata.name, value: [.status.summary.externalURLs[]? | split("|") | last
  | capture("//(?<h>[^/:]+)").h] | unique}] | from_entries' "$tmp"/base-*.json >"$tmp/bases.json"
jq -n --slurpfile l "$tmp/list.json" --slurpfile s "$tmp/sets.json" --slurpfile r "$tmp/routes.json" \
  --slurpfile b "$tmp/bases.json" '
  ([$s[0].items[] | .spec.generators[0].pullRequest.github as $g | .status.resources[]?
    | {key: .name, value: "https://github.com/\($g.owner)/\($g.repo)/pull/"}] | from_entries) as $pulls
  | [$l[0].items[] | .metadata as $m | ($m.name | capture("-pr-(?<n>[0-9]+)$").n) as $pr
     | $r[0][$m.name] as $route
     | {app: $m.name, pr: $pr, health: .status.health.status, cookie: $route.cookie,
        hosts: (if ($route.hosts | length) > 0 then $route.hosts else $b[0][$m.labels["preview-switch.io/service"]] end),
        pull_request: (($pulls[$m.name] // empty) + $pr)}
     | select(.cookie != null and (.hosts | length) > 0 and .pull_request != null)] | length'
"#;

/// One budget's outcome.
pub struct Check {
    pub budget: String,
    pub measured: String,
    pub baseline: String,
    pub pass: bool,
}

/// Requests the fake answered, by what they were for.
#[derive(Default, Clone, Copy)]
struct Requests {
    version: u64,
    list: u64,
    base_lookups: u64,
    appsets: u64,
    managed: u64,
    /// `managed-resources?kind=Rollout`: a Degraded preview's Rollout, read for its
    /// notification (not a routing resource).
    rollouts: u64,
    app_gets: u64,
    other: u64,
}

impl Requests {
    fn of(log: &[RecordedRequest]) -> Requests {
        let mut r = Requests::default();
        for req in log {
            let query = req.query.as_deref().unwrap_or("");
            let counter = match req.path.as_str() {
                "/api/version" => &mut r.version,
                "/api/v1/applications" if query.contains("name=") => &mut r.base_lookups,
                "/api/v1/applications" => &mut r.list,
                "/api/v1/applicationsets" => &mut r.appsets,
                p if p.ends_with("/managed-resources") && query.contains("kind=Rollout") => {
                    &mut r.rollouts
                }
                p if p.ends_with("/managed-resources") => &mut r.managed,
                p if p.starts_with("/api/v1/applications/") => &mut r.app_gets,
                _ => &mut r.other,
            };
            *counter += 1;
        }
        r
    }

    fn total(&self) -> u64 {
        self.version
            + self.list
            + self.base_lookups
            + self.appsets
            + self.managed
            + self.rollouts
            + self.app_gets
            + self.other
    }

    /// `23 (1 list, 1 ApplicationSets, 10 base apps, 0 managed-resources, …)`.
    fn describe(&self) -> String {
        let mut parts = vec![
            format!("{} list", self.list),
            format!("{} managed-resources", self.managed),
            format!("{} base-app", self.base_lookups),
            format!("{} ApplicationSets", self.appsets),
            format!("{} version", self.version),
        ];
        if self.rollouts > 0 {
            parts.push(format!("{} Rollout", self.rollouts));
        }
        if self.app_gets > 0 {
            parts.push(format!("{} app GET", self.app_gets));
        }
        if self.other > 0 {
            parts.push(format!("{} other", self.other));
        }
        format!("{} ({})", self.total(), parts.join(", "))
    }
}

/// One row of the growth table.
struct Growth {
    previews: usize,
    list_ms: f64,
    curl_ms: f64,
    cold_list: Requests,
    warm_relist: Requests,
    one_changed: Requests,
}

pub fn run(bin: &str) -> ExitCode {
    if bin.is_empty() {
        eprintln!("usage: bench-tool bench target/release/preview-switch");
        return ExitCode::from(2);
    }
    let out = Path::new(OUT);
    std::fs::create_dir_all(out).expect("create target/bench");
    let baseline = out.join("curl-jq-list.sh");
    std::fs::write(&baseline, CURL_JQ).expect("write the curl + jq baseline");
    let mut checks = Vec::new();

    decode_budgets(out, &mut checks);

    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let mut growth = Vec::new();
    for previews in SIZES {
        eprintln!("bench: {APPS} apps, {previews} previews routed by discovery");
        let scenario = Scenario::at_scale(APPS, previews);
        let state = scenario.fake();
        state.set_version(SERVER_VERSION);
        let running = rt
            .block_on(fake::serve(state.clone(), "127.0.0.1:0".parse().unwrap()))
            .expect("serve the fake Argo CD");
        let url = running.url();
        let token = scenario.token.as_str();

        // One `list` as a person runs it, its requests counted at the fake.
        state.reset_requests();
        let listed = run_list(bin, &url, token);
        let cold_list = Requests::of(&state.requests());
        let routed = listed
            .iter()
            .filter(|p| p["routes"].as_array().is_some_and(|r| !r.is_empty()))
            .filter(|p| p["links"]["pull_request"].is_string())
            .count();
        assert_eq!(
            (listed.len(), routed),
            (previews, previews),
            "every preview is listed with a route and a pull-request link"
        );

        let fields = Client::fields_for_version(SERVER_VERSION).expect("a projected list");
        let timed = hyperfine(
            &out.join(format!("list-{previews}.json")),
            10,
            &[
                format!("{bin} list -o json --server {url} --auth-token {token}"),
                format!("bash {} {url} {token} {fields}", baseline.display()),
            ],
        );
        let curl_count = Command::new("bash")
            .args([baseline.to_str().unwrap(), &url, token, &fields])
            .output()
            .expect("run the curl + jq baseline");
        assert_eq!(
            String::from_utf8_lossy(&curl_count.stdout).trim(),
            previews.to_string(),
            "the baseline resolves the same previews: {}",
            String::from_utf8_lossy(&curl_count.stderr)
        );

        // The long-lived host: warm re-lists and one changed preview.
        let cache = tempfile::tempdir().expect("a cache dir");
        let mut host = HostProc::spawn(bin, &url, token, cache.path());
        host.list(None);
        host.subscribe();
        settle(&mut host, &state);
        state.reset_requests();
        host.refresh();
        let warm_relist = Requests::of(&state.requests());
        let changed = scenario.routes[previews / 2].app.clone();
        state.reset_requests();
        flip_health(&state, &changed);
        host.wait_change(&changed);
        let one_changed = Requests::of(&state.requests());

        if previews == *SIZES.last().unwrap() {
            checks.push(Check {
                budget: format!(
                    "§7 `list -o json` against {APPS} apps / {previews} previews (routes by discovery, PR links from ApplicationSets): faster than curl + jq doing the same selection"
                ),
                measured: format!("{:.0} ms", timed[0]),
                baseline: format!("curl + jq: {:.0} ms", timed[1]),
                pass: timed[0] < timed[1],
            });
            host_budgets(&mut host, &state, &scenario, &mut checks);
            drop(host);
            cold_start_budget(bin, &url, token, cache.path(), &mut checks);
            quiet_watch_budget(&rt, bin, &mut checks);
        }
        growth.push(Growth {
            previews,
            list_ms: timed[0],
            curl_ms: timed[1],
            cold_list,
            warm_relist,
            one_changed,
        });
        rt.block_on(running.shutdown());
    }
    relist_budgets(&growth, &mut checks);
    crate::envs::envs_budgets(bin, &mut checks);

    let report = render(&checks, &growth);
    println!("{report}");
    std::fs::write(out.join("results.md"), &report).expect("write results.md");
    let missed = checks.iter().filter(|c| !c.pass).count();
    if missed == 0 {
        println!("bench: every budget holds");
        ExitCode::SUCCESS
    } else {
        println!("bench: {missed} budget(s) missed");
        ExitCode::from(1)
    }
}

/// §7: the streaming decoder against jq on an unprojected 10,000-app list.
fn decode_budgets(out: &Path, checks: &mut Vec<Check>) {
    let data = out.join(format!("apps-{APPS}.json"));
    if !data.exists() {
        eprintln!("bench: writing {}", data.display());
        fake::write_list(&data, &fake::generated(APPS, 500)).expect("write the list");
    }
    let mb = std::fs::metadata(&data).map_or(0, |m| m.len()) / 1_000_000;
    let tool = std::env::current_exe().expect("this tool's path");
    let jq_filter = r#"[.items[] | select(.metadata.labels.type == "pr")] | length"#;
    let timed = hyperfine(
        &out.join("decode.json"),
        5,
        &[
            format!("{} decode {}", tool.display(), data.display()),
            format!("jq '{jq_filter}' {}", data.display()),
        ],
    );
    let ours = peak_rss_mb(&[tool.to_str().unwrap(), "decode", data.to_str().unwrap()]);
    let jq = peak_rss_mb(&["jq", jq_filter, data.to_str().unwrap()]);
    let ratio = timed[1] / timed[0];
    checks.push(Check {
        budget: format!(
            "§7 decode an unprojected {APPS}-app ApplicationList ({mb} MB), keep the 500 previews: at least 10x faster than jq"
        ),
        measured: format!("{:.0} ms ({ratio:.1}x faster)", timed[0]),
        baseline: format!("jq: {:.0} ms", timed[1]),
        pass: ratio >= 10.0,
    });
    checks.push(Check {
        budget: "§7 the same decode: peak RSS under 100 MB".into(),
        measured: format!("{ours:.0} MB"),
        baseline: format!("jq: {jq:.0} MB"),
        pass: ours < 100.0,
    });
}

/// §7 and §10 on one warm, subscribed host at the largest size.
fn host_budgets(
    host: &mut HostProc,
    state: &FakeArgo,
    scenario: &Scenario,
    checks: &mut Vec<Check>,
) {
    // Argo CD event → a `previews_changed` frame on the port, through gzip (on by default
    // since Argo CD 2.8, flushed per event).
    let changes = 100;
    let mut samples = Vec::new();
    for route in scenario
        .routes
        .iter()
        .cycle()
        .step_by((scenario.routes.len() / changes).max(1))
        .take(changes)
    {
        let t = Instant::now();
        flip_health(state, &route.app);
        host.wait_change(&route.app);
        samples.push(t.elapsed());
    }
    let (med, p95) = median_p95(&mut samples);
    let gzipped = state.compressed_count(WATCH) > 0;
    checks.push(Check {
        budget: format!(
            "§10 Argo CD event → host port, through a gzipped watch ({} previews, {changes} changes): median under 300 ms, p95 under 1 s",
            scenario.routes.len()
        ),
        measured: format!(
            "median {med:.1} ms, p95 {p95:.1} ms{}",
            if gzipped { "" } else { " (the watch was not gzipped)" }
        ),
        baseline: String::new(),
        pass: med < 300.0 && p95 < 1000.0 && gzipped,
    });

    // A reconcile writes `status.reconciledAt` (a new resourceVersion) and nothing the
    // listing reads: no re-list may follow, and the watch stays the one it was.
    host.drain(Duration::from_millis(300));
    state.reset_requests();
    let reconciled = 100;
    for route in scenario.routes.iter().cycle().take(reconciled) {
        state.update_app(&route.app, |app| {
            app["status"]["reconciledAt"] = "2026-11-22T10:03:00Z".into();
        });
    }
    host.drain(Duration::from_secs(1));
    let after = Requests::of(&state.requests());
    let rewatched = state.request_count(WATCH);
    checks.push(Check {
        budget: format!("§10 {reconciled} reconcile-only changes cause no re-list"),
        measured: format!(
            "{} list requests at the fake, {rewatched} new watches",
            after.list + after.base_lookups
        ),
        baseline: String::new(),
        pass: after.list + after.base_lookups == 0 && rewatched == 0,
    });

    // The popup's `list {host}`, answered from memory.
    let site = &scenario.routes[0].host;
    let on_host = host.list(Some(site))["previews"]
        .as_array()
        .map_or(0, Vec::len);
    let mut samples = (0..2000)
        .map(|_| {
            let t = Instant::now();
            host.list(Some(site));
            t.elapsed()
        })
        .collect::<Vec<_>>();
    let (med, p95) = median_p95(&mut samples);
    checks.push(Check {
        budget: format!(
            "§7 native host round trip over one port, warm cache: `list {{host}}` ({on_host} previews on the host, as the popup asks), median under 2 ms"
        ),
        measured: format!("median {med:.2} ms, p95 {p95:.2} ms"),
        baseline: String::new(),
        pass: med < 2.0,
    });
}

/// §7: a fresh host process (one per `sendNativeMessage`) answering from the disk cache.
fn cold_start_budget(bin: &str, url: &str, token: &str, cache: &Path, checks: &mut Vec<Check>) {
    let mut samples = (0..100)
        .map(|_| {
            let t = Instant::now();
            HostProc::spawn(bin, url, token, cache).list(None);
            t.elapsed()
        })
        .collect::<Vec<_>>();
    let (med, p95) = median_p95(&mut samples);
    checks.push(Check {
        budget: "§7 host process start to its first `list` answer from the disk cache: median under 20 ms".into(),
        measured: format!("median {med:.2} ms, p95 {p95:.2} ms"),
        baseline: String::new(),
        pass: med < 20.0,
    });
}

/// A watch that stays quiet costs no reconnect. Argo CD sends no response head before the
/// first event, so on a server with no preview the watch is a request left unanswered; no
/// timeout may end it. Time is compressed 30x: the host runs with `--timeout 1s` (the
/// default is 30 s), so 10 s stand for 5 minutes at the default.
fn quiet_watch_budget(rt: &tokio::runtime::Runtime, bin: &str, checks: &mut Vec<Check>) {
    const QUIET: Duration = Duration::from_secs(10);
    let scenario = Scenario::at_scale(200, 0);
    let state = scenario.fake();
    let running = rt
        .block_on(fake::serve(state.clone(), "127.0.0.1:0".parse().unwrap()))
        .expect("serve the fake Argo CD");
    let cache = tempfile::tempdir().expect("a cache dir");
    let mut host = HostProc::spawn_with(
        bin,
        &running.url(),
        &scenario.token,
        cache.path(),
        &["host", "--timeout", "1s"],
    );
    host.list(None);
    host.subscribe();
    host.drain(QUIET);
    let watches = state.request_count(WATCH);
    drop(host);
    rt.block_on(running.shutdown());
    checks.push(Check {
        budget: format!(
            "§10 a watch quiet for {} s with `--timeout 1s` ({} min at the default 30 s): no reconnect",
            QUIET.as_secs(),
            QUIET.as_secs() * 30 / 60
        ),
        measured: format!("{watches} watch request(s)"),
        baseline: String::new(),
        pass: watches == 1,
    });
}

/// §10: a warm re-list costs the same few requests whatever the number of previews.
fn relist_budgets(growth: &[Growth], checks: &mut Vec<Check>) {
    let sizes = growth
        .iter()
        .map(|g| g.previews.to_string())
        .collect::<Vec<_>>()
        .join(" / ");
    let per = |f: &dyn Fn(&Growth) -> u64| {
        growth
            .iter()
            .map(|g| f(g).to_string())
            .collect::<Vec<_>>()
            .join(" / ")
    };
    // Base-app lookups are one per service, and there are at most 20 services.
    let bounded = growth.iter().all(|g| {
        g.warm_relist.managed == 0
            && g.warm_relist.total() <= 4 + fake::generate::SERVICES.len() as u64
    });
    checks.push(Check {
        budget: format!(
            "§10 a warm re-list in the host costs O(1) requests whatever the number of previews ({sizes}): no managed-resources read, at most 4 + one per service"
        ),
        measured: format!(
            "{} requests, {} of them managed-resources",
            per(&|g| g.warm_relist.total()),
            per(&|g| g.warm_relist.managed)
        ),
        baseline: format!("a `list` run: {} requests", per(&|g| g.cold_list.total())),
        pass: bounded,
    });
    checks.push(Check {
        budget: format!(
            "§10 one preview changed: its routing resources alone are read again ({sizes} previews)"
        ),
        measured: format!(
            "{} managed-resources reads",
            per(&|g| g.one_changed.managed)
        ),
        baseline: String::new(),
        pass: growth.iter().all(|g| g.one_changed.managed == 1),
    });
}

/// Waits until the host's watch is open and the one re-list that follows a new watch is
/// over (no list request for a second), so that nothing the host started on its own is
/// counted later; then refreshes until a refresh reads no managed resources (the host
/// remembers every preview's routes). Panics if either never happens.
fn settle(host: &mut HostProc, state: &FakeArgo) {
    let lists = || Requests::of(&state.requests()).list;
    for _ in 0..600 {
        if state.request_count(WATCH) > 0 {
            break;
        }
        host.drain(Duration::from_millis(50));
    }
    assert!(state.request_count(WATCH) > 0, "the host opened no watch");
    let mut seen = lists();
    for _ in 0..30 {
        host.drain(Duration::from_secs(1));
        let now = lists();
        if now == seen {
            break;
        }
        seen = now;
    }
    for _ in 0..50 {
        state.reset_requests();
        host.refresh();
        if Requests::of(&state.requests()).managed == 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("every refresh of the host read managed resources again");
}

fn flip_health(state: &FakeArgo, app: &str) {
    state.update_app(app, |v| {
        let next = if v["status"]["health"]["status"] == "Healthy" {
            "Degraded"
        } else {
            "Healthy"
        };
        v["status"]["health"]["status"] = next.into();
    });
}

/// Runs `preview-switch list -o json` and returns the previews.
fn run_list(bin: &str, url: &str, token: &str) -> Vec<Value> {
    let out = Command::new(bin)
        .args(["list", "-o", "json", "--server", url, "--auth-token", token])
        .output()
        .expect("run preview-switch list");
    assert!(
        out.status.success(),
        "preview-switch list failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("list -o json is a JSON array")
}

/// hyperfine medians (ms) of `commands`, in order; its progress goes to the terminal.
fn hyperfine(json: &Path, runs: u32, commands: &[String]) -> Vec<f64> {
    let status = Command::new("hyperfine")
        .args([
            "-N",
            "--warmup",
            "1",
            "--runs",
            &runs.to_string(),
            "--export-json",
        ])
        .arg(json)
        .args(commands)
        .stdout(Stdio::inherit())
        .status()
        .expect("run hyperfine (scripts/setup.sh bench installs it)");
    assert!(status.success(), "hyperfine failed");
    let v: Value = serde_json::from_slice(&std::fs::read(json).expect("hyperfine's JSON"))
        .expect("hyperfine writes JSON");
    v["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["median"].as_f64().expect("a median") * 1000.0)
        .collect()
}

/// Peak resident memory (MB) of one run, from GNU time.
fn peak_rss_mb(command: &[&str]) -> f64 {
    let out = Command::new("/usr/bin/time")
        .args(["-f", "%M"])
        .args(command)
        .stdout(Stdio::null())
        .output()
        .expect("run /usr/bin/time (scripts/setup.sh bench installs it)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let kb: f64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("GNU time prints the peak RSS in kB");
    kb / 1024.0
}

fn median_p95(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() * 95 / 100]),
    )
}

/// The budgets and the growth table, as Markdown.
fn render(checks: &[Check], growth: &[Growth]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| budget (DESIGN) | preview-switch | baseline | result |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- |");
    for c in checks {
        let result = if c.pass { "PASS" } else { "FAIL" };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {result} |",
            c.budget, c.measured, c.baseline
        );
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| previews (of {APPS} apps) | `list -o json` median | curl + jq median | requests per `list` run | host: warm re-list | host: one preview changed |"
    );
    let _ = writeln!(s, "| --- | --- | --- | --- | --- | --- |");
    for g in growth {
        let _ = writeln!(
            s,
            "| {} | {:.0} ms | {:.0} ms | {} | {} | {} |",
            g.previews,
            g.list_ms,
            g.curl_ms,
            g.cold_list.describe(),
            g.warm_relist.describe(),
            g.one_changed.describe()
        );
    }
    s
}

/// Prints each budget with PASS or FAIL; fails when one is missed.
pub fn print(checks: &[Check]) -> ExitCode {
    for c in checks {
        let verdict = if c.pass { "PASS" } else { "FAIL" };
        println!("{verdict}  {}: {} {}", c.budget, c.measured, c.baseline);
    }
    if checks.iter().all(|c| c.pass) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
