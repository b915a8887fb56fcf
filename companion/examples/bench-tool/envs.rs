//! The `envs` budgets (issue 13): `envs -o json` over three fake servers (dev, stag, prod)
//! with 200 services each, from an empty revision cache (every deployed and previous
//! commit asked of Argo CD) and from a filled one.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_argocd as fake;

use crate::budgets::Check;

/// Services per server: a large team's catalogue.
const SERVICES: usize = 200;
const RUNS: usize = 5;

pub fn envs_budgets(bin: &str, checks: &mut Vec<Check>) {
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let dir = tempfile::tempdir().expect("a temp dir");
    let token = dir.path().join("token");
    std::fs::write(&token, fake::scenario::DEMO_TOKEN).expect("write the token file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600))
            .expect("token file mode 0600");
    }
    let mut config = String::new();
    let mut servers = Vec::new();
    for server in fake::environments::at_scale(SERVICES) {
        let running = rt
            .block_on(fake::serve(server.fake(), "127.0.0.1:0".parse().unwrap()))
            .expect("serve a fake Argo CD");
        config.push_str(&format!(
            "[[servers]]\nname = \"{}\"\nurl = \"{}\"\ntoken_file = \"{}\"\n\n",
            server.name,
            running.url(),
            token.display()
        ));
        servers.push(running);
    }
    let config_path = dir.path().join("config.toml");
    std::fs::write(&config_path, config).expect("write config.toml");
    let run = |cache: &Path| {
        let t = Instant::now();
        let out = Command::new(bin)
            .args(["envs", "-o", "json"])
            .env("PREVIEW_SWITCH_CONFIG", &config_path)
            .env("PREVIEW_SWITCH_CACHE_DIR", cache)
            .stderr(Stdio::inherit())
            .output()
            .expect("run envs");
        let took = t.elapsed();
        assert!(out.status.success(), "envs failed");
        let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("envs JSON");
        assert_eq!(
            listed.as_array().map(Vec::len),
            Some(SERVICES),
            "every service listed"
        );
        took
    };
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1000.0
    };
    let cold: Vec<Duration> = (0..RUNS)
        .map(|_| run(tempfile::tempdir().expect("a cache dir").path()))
        .collect();
    let warm_cache = tempfile::tempdir().expect("a cache dir");
    run(warm_cache.path());
    let warm: Vec<Duration> = (0..RUNS).map(|_| run(warm_cache.path())).collect();
    let (cold, warm) = (median(cold), median(warm));
    checks.push(Check {
        budget: format!(
            "`envs -o json`, 3 servers x {SERVICES} services, empty revision cache: under 5 s"
        ),
        measured: format!("median {cold:.0} ms"),
        baseline: String::new(),
        pass: cold < 5000.0,
    });
    checks.push(Check {
        budget: "the same `envs`, revision cache filled: under 1 s".into(),
        measured: format!("median {warm:.0} ms"),
        baseline: String::new(),
        pass: warm < 1000.0,
    });
    for server in servers {
        rt.block_on(server.shutdown());
    }
}
