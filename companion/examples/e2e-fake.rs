//! The fake Argo CD for the browser end-to-end suite (`e2e/`): serves the demo scenario
//! with the externalURLs pointing at the suite's nginx port, writes a `config.toml` and
//! token file for the companion, and serves a small control API so a test can change the
//! world under the extension (delete a preview, reject the token, add hostile previews). It prints one JSON line
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
use axum::routing::post;
use fake_argocd::{self as fake, FakeArgo, Scenario};
use serde_json::json;

async fn delete(State(fake): State<FakeArgo>, Path(app): Path<String>) -> StatusCode {
    if fake.remove_app(&app) {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_FOUND
    }
}

async fn revoke(State(fake): State<FakeArgo>) -> StatusCode {
    fake.revoke_token(fake::scenario::DEMO_TOKEN);
    StatusCode::NO_CONTENT
}

async fn accept(State(fake): State<FakeArgo>) -> StatusCode {
    fake.accept_token(fake::scenario::DEMO_TOKEN);
    StatusCode::NO_CONTENT
}

/// Adds the previews of `e2e/hostile.test.mjs`, whose routes are named like a site's own
/// cookies: `session-app` PR 1 routes by `session`; `hostx-app` PR 1 by its own cookie and
/// PR 2 by `__Host-x` (which the companion refuses, so it is listed unroutable).
async fn hostile(State(fake): State<FakeArgo>) -> StatusCode {
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
        fake.upsert_app(b.build());
    }
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
    let scenario = Scenario::demo(Some(port));
    let fake = scenario.fake();
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    let api = fake::serve(fake.clone(), loopback)
        .await
        .expect("serve the fake Argo CD on 127.0.0.1");
    let control = Router::new()
        .route("/delete/{app}", post(delete))
        .route("/revoke", post(revoke))
        .route("/accept", post(accept))
        .route("/hostile", post(hostile))
        .with_state(fake.clone());
    let control = fake::serve_router(control, loopback)
        .await
        .expect("serve the control API on 127.0.0.1");

    std::fs::create_dir_all(&dir).expect("create the state dir");
    let token_file = dir.join("token");
    std::fs::write(&token_file, format!("{}\n", scenario.token)).expect("write the token file");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[[servers]]\nname = \"e2e\"\nurl = \"{}\"\ntoken_file = \"{}\"\n",
            api.url(),
            token_file.display()
        ),
    )
    .expect("write config.toml");
    let routes: Vec<_> = scenario
        .routes
        .iter()
        .map(|r| {
            json!({"app": r.app, "service": r.service, "host": r.host, "pr": r.pr,
                   "cookie_name": r.cookie_name, "cookie_regex": r.cookie_regex})
        })
        .collect();
    let line = json!({
        "api": api.url(),
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
    api.shutdown().await;
    std::process::ExitCode::SUCCESS
}
