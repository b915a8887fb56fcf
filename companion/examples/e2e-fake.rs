//! The fake Argo CDs for the browser end-to-end suite (`e2e/`): the demo's dev (its
//! scenario, with the externalURLs pointing at the suite's nginx port), stag and prod
//! servers, a `config.toml` and token file for the companion naming all three, and a small
//! control API so a test can change the world under the extension (delete or redeploy a
//! preview, reject the token, read the syncs that reached dev, add hostile previews to
//! dev, mark a preview's responses). It prints one JSON line
//! (URLs, config path, the cookie routes nginx must apply) and serves until stdin closes,
//! so it never outlives the suite.
//!
//!   e2e-fake DIR SITE_PORT

#![allow(clippy::print_stderr, clippy::print_stdout)] // a test fixture talking to the suite that started it

use std::io::Read;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use fake_argocd::{self as fake, FakeArgo, Scenario};
use serde_json::json;

async fn delete(State(fakes): State<Fakes>, Path(app): Path<String>) -> StatusCode {
    if fakes.dev.remove_app(&app) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

/// Every server: the token works on all or none of them.
#[derive(Clone)]
struct Fakes {
    dev: FakeArgo,
    all: Vec<FakeArgo>,
}

async fn revoke(State(fakes): State<Fakes>) -> StatusCode {
    for f in &fakes.all {
        f.revoke_token(fake::scenario::DEMO_TOKEN);
    }
    StatusCode::NO_CONTENT
}

async fn accept(State(fakes): State<Fakes>) -> StatusCode {
    for f in &fakes.all {
        f.accept_token(fake::scenario::DEMO_TOKEN);
    }
    StatusCode::NO_CONTENT
}

/// A preview of dev deployed again at `revision` (a new commit, its image, one more
/// history entry), the commit's message known to the repo server.
async fn redeploy(
    State(fakes): State<Fakes>,
    Path((app, revision, message)): Path<(String, String, String)>,
) -> StatusCode {
    let Some(current) = fakes.dev.app(&app) else {
        return StatusCode::NOT_FOUND;
    };
    let repo = current["spec"]["source"]["repoURL"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let service = current["metadata"]["labels"]["preview-switch.io/service"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    fakes
        .dev
        .set_revision_metadata(&repo, &revision, &[], &message);
    fakes.dev.update_app(&app, |a| {
        a["status"]["sync"]["revision"] = revision.clone().into();
        a["status"]["summary"]["images"] = json!([format!(
            "registry.example.test/web/{service}:dev-{}",
            &revision[..7.min(revision.len())]
        )]);
        if let Some(history) = a["status"]["history"].as_array_mut()
            && let Some(last) = history.last().cloned()
        {
            let mut entry = last;
            entry["id"] = (entry["id"].as_i64().unwrap_or(0) + 1).into();
            entry["revision"] = revision.clone().into();
            history.push(entry);
        }
    });
    StatusCode::NO_CONTENT
}

/// The syncs that reached dev: `[[app, user], …]`.
async fn syncs(State(fakes): State<Fakes>) -> axum::Json<serde_json::Value> {
    axum::Json(json!(fakes.dev.syncs()))
}

/// Adds the previews of `e2e/hostile.test.mjs`, whose routes are named like a site's own
/// cookies: `session-app` PR 1 routes by `session`; `hostx-app` PR 1 by its own cookie and
/// PR 2 by `__Host-x` (which the companion refuses, so it is listed unroutable).
async fn hostile(State(fakes): State<Fakes>) -> StatusCode {
    use fake::generate::AppBuilder;
    for (i, (service, pr, cookie)) in [
        ("session-app", 1, "session"),
        ("hostx-app", 1, "team-hostx-app-pr"),
        ("hostx-app", 2, "__Host-x"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut b = AppBuilder::preview(service, pr, 900 + i as u64);
        b.annotations.extend([
            ("preview-switch.io/cookie".into(), cookie.into()),
            (
                "preview-switch.io/hosts".into(),
                format!("{service}.{}", fake::scenario::DEMO_DOMAIN),
            ),
        ]);
        fakes.dev.upsert_app(b.build());
    }
    StatusCode::NO_CONTENT
}

/// Marks the responses of a Linkerd-routed preview of dev: its HTTPRoute's cookie rule gets
/// the `ResponseHeaderModifier` examples/chart writes (`x-preview-pr: <PR>`, on the
/// backendRef, as Linkerd's v1beta3 takes it), which the suite's nginx adds as a mesh would.
async fn mark(State(fakes): State<Fakes>, Path(app): Path<String>) -> StatusCode {
    let Some(current) = fakes.dev.app(&app) else {
        return StatusCode::NOT_FOUND;
    };
    let service = current["metadata"]["labels"]["preview-switch.io/service"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let Some(pr) = app.rsplit_once("-pr-").map(|(_, pr)| pr.to_owned()) else {
        return StatusCode::BAD_REQUEST;
    };
    let regex = fake::scenario::cookie_regex(&format!("team-{service}-pr"), &pr);
    let route = fake::scenario::marked_linkerd_route(&service, &app, &regex, &pr);
    let workload =
        |kind: &str, api_version: &str| fake::scenario::workload(kind, api_version, &app, &app);
    fakes.dev.set_managed_resources(
        &app,
        vec![
            workload("Deployment", "apps/v1"),
            workload("Service", "v1"),
            route,
        ],
    );

    // The marker reaches the cluster as any manifest change does: a sync operation that
    // finishes. A write that changes no listed field is a reconcile to the watch: the real
    // server drops a frame identical after the `fields` projection to the last one sent
    // (`pkg/apiclient/application/forwarder_overwrite.go` :: `init`; fake-argocd/BEHAVIOURS.md),
    // so it would never be seen.
    static SYNCS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = SYNCS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let finished = format!("2030-01-01T00:{:02}:{:02}Z", n / 60 % 60, n % 60);
    fakes.dev.update_app(&app, |a| {
        a["status"]["operationState"]["phase"] = "Succeeded".into();
        a["status"]["operationState"]["finishedAt"] = finished.into();
    });
    StatusCode::NO_CONTENT
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(port)) = (args.first(), args.get(1).and_then(|p| p.parse().ok())) else {
        eprintln!("usage: e2e-fake DIR SITE_PORT");
        return std::process::ExitCode::from(2);
    };
    let dir = std::path::PathBuf::from(dir);
    let servers = fake::environments::demo(Some(port));
    let scenario: Scenario = servers[0].scenario.clone();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut apis = Vec::new();
    for server in &servers {
        let f = server.fake();
        let api = fake::serve(f.clone(), loopback)
            .await
            .expect("serve the fake Argo CD on 127.0.0.1");
        apis.push((server.name.clone(), f, api));
    }
    let fakes = Fakes {
        dev: apis[0].1.clone(),
        all: apis.iter().map(|(_, f, _)| f.clone()).collect(),
    };
    let control = Router::new()
        .route("/delete/{app}", post(delete))
        .route("/revoke", post(revoke))
        .route("/accept", post(accept))
        .route("/redeploy/{app}/{revision}/{message}", post(redeploy))
        .route("/syncs", get(syncs))
        .route("/hostile", post(hostile))
        .route("/mark/{app}", post(mark))
        .with_state(fakes);
    let control = fake::serve_router(control, loopback)
        .await
        .expect("serve the control API on 127.0.0.1");

    std::fs::create_dir_all(&dir).expect("create the state dir");
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{}\n", scenario.token)).expect("write the token file");
    let config = dir.join("config.toml");
    let text: String = apis
        .iter()
        .map(|(name, _, api)| {
            format!(
                "[[servers]]\nname = \"{name}\"\nurl = \"{}\"\ntoken_file = \"{}\"\n\n",
                api.url(),
                token_file.display()
            )
        })
        .collect();
    std::fs::write(&config, text).expect("write config.toml");
    let routes: Vec<_> = scenario
        .routes
        .iter()
        .map(|r| {
            json!({"app": r.app, "service": r.service, "host": r.host, "pr": r.pr,
                   "cookie_name": r.cookie_name, "cookie_regex": r.cookie_regex})
        })
        .collect();
    let line = json!({
        "api": apis[0].2.url(),
        "control": control.url(),
        "config": config,
        "routes": routes,
    });
    println!("{line}"); // line-buffered: the suite reads this one line

    // Serve until the suite closes our stdin (or dies).
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await;
    control.shutdown().await;
    for (_, _, api) in apis {
        api.shutdown().await;
    }
    std::process::ExitCode::SUCCESS
}
