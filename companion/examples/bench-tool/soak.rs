//! `bench-tool soak`: one subscribed host serving many `list`s while the fake Argo CD's
//! watch delivers changes; fails on memory or file-descriptor growth (README "Soak").

use std::process::ExitCode;
use std::time::{Duration, Instant};

use fake_argocd::{self as fake, FakeArgo};

use crate::host::HostProc;

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
pub fn soak(bin: &str, requests: usize, events: usize) -> ExitCode {
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
    let mut host = HostProc::spawn(bin, &running.url(), "bench-token", cache.path());
    let pid = host.pid();
    host.list(None);
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
        host.list(None);
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
        host.list(None);
    }
    host.drain(Duration::from_millis(500));
    host.list(None);
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
