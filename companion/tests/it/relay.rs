//! The team relay (`preview-switch serve`) as a team runs it: the real binary against the
//! fake Argo CD, spoken to over HTTP on 127.0.0.1. Every response's status line, headers
//! and body, and the relay's trace-level log, are scanned for the Argo CD token.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use fake_argocd::Running;
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::support::{Sandbox, TOKEN, assert_no_secret_in, demo_server};

const CHROME_ORIGIN: &str = "chrome-extension://kenpfoonlngflpognjbagobppcnfepml";

/// The relay process; killed when dropped, its log scanned for the token.
struct Relay {
    child: tokio::process::Child,
    log: PathBuf,
    /// `http(s)://127.0.0.1:PORT{base}` without a trailing slash.
    url: String,
}

impl Relay {
    async fn start(sb: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Relay {
        use std::process::Stdio;
        use tokio::io::AsyncBufReadExt;
        let log = sb.home().join(format!(
            "relay-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut cmd = sb.cmd(&all);
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the relay starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the relay says where it listens")
            .unwrap()
            .unwrap_or_else(|| {
                panic!(
                    "the relay exited: {}",
                    std::fs::read_to_string(&log).unwrap()
                )
            });
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .trim_end_matches('/')
            .to_owned();
        Relay { child, log, url }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if !std::thread::panicking() {
            let log = self.log();
            assert!(!log.contains("panicked"), "the relay panicked: {log}");
            assert_no_secret_in("the relay's log", &log);
        }
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// One answer, already scanned for the token.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:#?}"))
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

async fn scanned(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    assert_no_secret_in("response headers", &format!("{headers:?}"));
    assert_no_secret_in("a response body", &body);
    Answer {
        status,
        headers,
        body,
    }
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut request = client().get(url);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    scanned(request.send().await.unwrap()).await
}

/// Waits until the relay has listed every server.
async fn ready(relay: &Relay) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = get(&format!("{}/healthz", relay.url), &[]).await;
        if answer.status == 200 {
            assert_eq!(answer.json()["status"], "ready");
            return;
        }
        assert_eq!(answer.status, 503, "{answer:#?}");
        assert!(Instant::now() < deadline, "never ready: {answer:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn argocd(server: &Running) -> Vec<(&'static str, String)> {
    vec![
        ("ARGOCD_SERVER", server.url()),
        ("ARGOCD_AUTH_TOKEN", TOKEN.to_owned()),
    ]
}

async fn anonymous_relay(sb: &Sandbox, server: &Running, extra: &[&str]) -> Relay {
    let env = argocd(server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut args = vec!["--allow-anonymous"];
    args.extend_from_slice(extra);
    let relay = Relay::start(sb, &args, &env).await;
    ready(&relay).await;
    relay
}

/// One Server-Sent Event.
#[derive(Debug, Clone, Default)]
struct Sse {
    event: String,
    id: Option<String>,
    data: String,
}

/// A `/v1/events` stream, read one event at a time (comments skipped).
struct Stream {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl Stream {
    async fn open(url: &str, headers: &[(&str, &str)]) -> Result<Stream, Answer> {
        // No overall timeout: the stream stays open.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut request = reqwest::Client::new().get(format!("{url}/v1/events"));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        if response.status() != 200 {
            return Err(scanned(response).await);
        }
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        assert_no_secret_in("stream headers", &format!("{:?}", response.headers()));
        Ok(Stream {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        })
    }

    async fn next(&mut self) -> Sse {
        tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let mut event = Sse {
                        event: "message".into(),
                        ..Sse::default()
                    };
                    let mut any = false;
                    for line in block.lines() {
                        let (field, value) = line.split_once(':').unwrap_or((line, ""));
                        let value = value.strip_prefix(' ').unwrap_or(value);
                        match field {
                            "event" => (event.event, any) = (value.into(), true),
                            "id" => (event.id, any) = (Some(value.into()), true),
                            "data" => (event.data, any) = (value.into(), true),
                            _ => {}
                        }
                    }
                    if any {
                        return event;
                    }
                    continue;
                }
                let chunk = self
                    .body
                    .next()
                    .await
                    .expect("the stream stays open")
                    .unwrap();
                let text = String::from_utf8(chunk.to_vec()).unwrap();
                assert_no_secret_in("an event", &text);
                self.buffer.push_str(&text);
            }
        })
        .await
        .expect("an event in time")
    }

    /// The next `previews_changed` event holding a change of `kind` to `app`.
    async fn change(&mut self, kind: &str, app: &str) -> (Sse, Value) {
        for _ in 0..20 {
            let event = self.next().await;
            assert_eq!(event.event, "previews_changed", "{event:?}");
            let data: Value = serde_json::from_str(&event.data).unwrap();
            if let Some(change) = data["changes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["change"] == kind && c["preview"]["app"] == app)
            {
                return (event.clone(), change.clone());
            }
        }
        panic!("no {kind} change of {app}");
    }
}

fn new_preview(state: &fake_argocd::FakeArgo, name: &str, pr: u64) {
    let mut app = state.app("search-ui-pr-7").unwrap();
    app["metadata"]["name"] = json!(name);
    app["metadata"]["labels"]["preview-switch.io/pr"] = json!(pr.to_string());
    state.upsert_app(app);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_list_is_list_json_with_its_age_and_the_host_filter() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let relay = anonymous_relay(&sb, &server, &[]).await;
    let env = argocd(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cli = sb.run(&["list", "-o", "json"], &env).await;
    assert_eq!(cli.code, 0, "{cli:#?}");

    let all = get(&format!("{}/v1/previews", relay.url), &[]).await;
    assert_eq!(all.status, 200, "{all:#?}");
    assert_eq!(all.header("cache-control"), Some("no-store"));
    let body = all.json();
    assert_eq!(
        body["previews"],
        cli.json(),
        "the same Preview objects as list -o json"
    );
    assert!(body["fetched_at_ms"].as_u64().unwrap() > 0);
    assert!(body["age_ms"].is_u64());
    assert_eq!(body["stale"], false, "listed and watching: {body}");
    assert!(body["last_event_id"].as_str().unwrap().ends_with("-0"));

    let host = "courses-fe.demo.test";
    let on_host = get(&format!("{}/v1/previews?host={host}", relay.url), &[]).await;
    let on_host = on_host.json()["previews"].as_array().unwrap().clone();
    let expected: Vec<Value> = cli
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["routes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["hosts"].as_array().unwrap().iter().any(|h| h == host))
        })
        .cloned()
        .collect();
    assert!(!on_host.is_empty() && on_host.len() < cli.json().as_array().unwrap().len());
    assert_eq!(on_host, expected);

    let bad = get(&format!("{}/v1/previews?host=*.demo.test", relay.url), &[]).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["code"], "bad_request");
    assert!(
        bad.json()["message"]
            .as_str()
            .unwrap()
            .contains("exact host")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn events_deliver_added_and_deleted_previews_and_resume_after_last_event_id() {
    let (state, server) = demo_server().await;
    let sb = Sandbox::new();
    let relay = anonymous_relay(&sb, &server, &[]).await;
    let list = get(&format!("{}/v1/previews", relay.url), &[]).await.json();
    let since = list["last_event_id"].as_str().unwrap().to_owned();

    let mut stream = Stream::open(&relay.url, &[("last-event-id", &since)])
        .await
        .unwrap();
    new_preview(&state, "search-ui-pr-77", 77);
    let (added_event, added) = stream.change("added", "search-ui-pr-77").await;
    assert_eq!(added["preview"]["pr"], 77);
    assert_eq!(added["preview"]["service"], "search-ui");
    let added_id = added_event.id.clone().expect("events carry an id");
    drop(stream);

    // Deleted while nobody listened: the reconnecting client gets it replayed.
    assert!(state.remove_app("search-ui-pr-77"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&format!("{}/v1/previews", relay.url), &[]).await.json()["previews"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["app"] == "search-ui-pr-77")
    {
        assert!(
            Instant::now() < deadline,
            "the relay never saw the deletion"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut resumed = Stream::open(&relay.url, &[("last-event-id", &added_id)])
        .await
        .unwrap();
    let (deleted_event, deleted) = resumed.change("deleted", "search-ui-pr-77").await;
    assert_eq!(deleted["preview"]["pr"], 77);
    assert_ne!(deleted_event.id, Some(added_id.clone()));

    // An id this relay never gave out (an earlier run's): read the list again.
    let mut foreign = Stream::open(&relay.url, &[("last-event-id", "12-3")])
        .await
        .unwrap();
    let reset = foreign.next().await;
    assert_eq!(reset.event, "reset", "{reset:?}");
    assert!(reset.data.contains("/v1/previews"));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_watch_per_server_for_every_client_and_clients_never_cause_a_list() {
    let (state, server) = demo_server().await;
    let sb = Sandbox::new();
    let relay = anonymous_relay(
        &sb,
        &server,
        &["--max-streams-per-client", "50", "--burst", "200"],
    )
    .await;
    // The watch is open and its start-up burst has settled.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let health = get(&format!("{}/healthz", relay.url), &[]).await.json();
        if health["servers"][0]["watch"] == "open" {
            break;
        }
        assert!(Instant::now() < deadline, "{health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lists = || state.selector_lists();
    let lists_before = lists();
    let mut streams = Vec::new();
    for _ in 0..30 {
        streams.push(Stream::open(&relay.url, &[]).await.unwrap());
    }
    for _ in 0..40 {
        assert_eq!(
            get(&format!("{}/v1/previews", relay.url), &[]).await.status,
            200
        );
    }
    assert_eq!(
        lists(),
        lists_before,
        "30 streams and 40 reads made no list"
    );
    assert_eq!(state.request_count("/api/v1/stream/applications"), 1);

    // One change reaches every client, for one more list.
    new_preview(&state, "search-ui-pr-88", 88);
    for stream in &mut streams {
        stream.change("added", "search-ui-pr-88").await;
    }
    assert_eq!(state.request_count("/api/v1/stream/applications"), 1);
    assert_eq!(lists() - lists_before, 1, "one list for one change");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_proxy_identity_header_counts_only_from_a_configured_proxy_address() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let env = argocd(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let who = [("x-forwarded-email", "qa@example.com")];

    // The proxy is elsewhere: a header sent straight to the relay is anyone's word.
    let elsewhere = Relay::start(&sb, &["--trusted-proxy", "10.9.9.9/32"], &env).await;
    ready(&elsewhere).await;
    let refused = get(&format!("{}/v1/previews", elsewhere.url), &who).await;
    assert_eq!(refused.status, 401, "{refused:#?}");
    assert_eq!(refused.json()["code"], "unauthenticated");
    assert!(refused.json()["fix"].as_str().unwrap().contains("sign in"));
    assert_eq!(refused.header("www-authenticate"), None, "no bearer mode");
    let stream = Stream::open(&elsewhere.url, &who).await.err().unwrap();
    assert_eq!(stream.status, 401);

    let behind = Relay::start(&sb, &["--trusted-proxy", "127.0.0.1,::1"], &env).await;
    ready(&behind).await;
    assert_eq!(
        get(&format!("{}/v1/previews", behind.url), &[])
            .await
            .status,
        401
    );
    let ok = get(&format!("{}/v1/previews", behind.url), &who).await;
    assert_eq!(ok.status, 200, "{ok:#?}");
    let landing = get(&format!("{}/", behind.url), &who).await;
    assert!(
        landing.body.contains("signed in as qa@example.com"),
        "{landing:#?}"
    );
    assert!(Stream::open(&behind.url, &who).await.is_ok());
    // Health and metrics stay open for probes and Prometheus.
    assert_eq!(
        get(&format!("{}/metrics", behind.url), &[]).await.status,
        200
    );
}

/// A local OIDC issuer: discovery and a JWKS with one ES256 key, on 127.0.0.1.
struct Issuer {
    url: String,
    key: jsonwebtoken::EncodingKey,
    _server: Running,
}

impl Issuer {
    async fn start() -> Issuer {
        use axum::routing::get;
        let pair = rcgen::KeyPair::generate().unwrap();
        let key = jsonwebtoken::EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).unwrap();
        let mut jwk =
            jsonwebtoken::jwk::Jwk::from_encoding_key(&key, jsonwebtoken::Algorithm::ES256)
                .unwrap();
        jwk.common.key_id = Some("k1".into());
        let jwks = json!({ "keys": [jwk] });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        drop(listener);
        let url = format!("http://{addr}/realms/team");
        let discovery = json!({"issuer": url, "jwks_uri": format!("{url}/jwks")});
        let router = axum::Router::new()
            .route(
                "/realms/team/.well-known/openid-configuration",
                get(move || async move { axum::Json(discovery) }),
            )
            .route(
                "/realms/team/jwks",
                get(move || async move { axum::Json(jwks) }),
            );
        let server = fake_argocd::serve_router(router, addr).await.unwrap();
        Issuer {
            url,
            key,
            _server: server,
        }
    }

    fn token(&self, audience: &str, expires_in: i64, kid: &str) -> String {
        let now = jiff::Timestamp::now().as_second();
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid.into());
        jsonwebtoken::encode(
            &header,
            &json!({"iss": self.url, "aud": audience, "sub": "u-1", "email": "pm@example.com",
                    "iat": now, "exp": now + expires_in}),
            &self.key,
        )
        .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oidc_bearer_token_is_checked_against_the_issuers_keys() {
    let (_state, server) = demo_server().await;
    let issuer = Issuer::start().await;
    let sb = Sandbox::new();
    let env = argocd(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let relay = Relay::start(
        &sb,
        &[
            "--oidc-issuer",
            &issuer.url,
            "--oidc-audience",
            "preview-switch",
        ],
        &env,
    )
    .await;
    ready(&relay).await;
    let url = format!("{}/v1/previews", relay.url);

    let none = get(&url, &[]).await;
    assert_eq!(none.status, 401);
    assert_eq!(
        none.header("www-authenticate"),
        Some("Bearer realm=\"preview-switch\"")
    );
    assert!(
        none.json()["message"]
            .as_str()
            .unwrap()
            .contains("no credentials")
    );

    let good = issuer.token("preview-switch", 300, "k1");
    let ok = get(&url, &[("authorization", &format!("Bearer {good}"))]).await;
    assert_eq!(ok.status, 200, "{ok:#?}");
    assert!(ok.json()["previews"].as_array().unwrap().len() >= 6);

    for (token, why) in [
        (issuer.token("another-app", 300, "k1"), "another audience"),
        (issuer.token("preview-switch", -600, "k1"), "expired"),
        (
            issuer.token("preview-switch", 300, "k9"),
            "\"k9\" is not among",
        ),
        ("not.a.jwt".to_owned(), "not a JWT"),
    ] {
        let refused = get(&url, &[("authorization", &format!("Bearer {token}"))]).await;
        assert_eq!(refused.status, 401, "{refused:#?}");
        let message = refused.json()["message"].as_str().unwrap().to_owned();
        assert!(message.contains(why), "{message}");
        assert!(
            !message.contains(&token),
            "the token is never echoed: {message}"
        );
        assert!(!relay.log().contains(&token), "nor logged");
    }

    // Another key that claims the same key id: the signature gives it away.
    let other = rcgen::KeyPair::generate().unwrap();
    let forged = jsonwebtoken::encode(
        &{
            let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
            h.kid = Some("k1".into());
            h
        },
        &json!({"iss": issuer.url, "aud": "preview-switch", "sub": "x",
                "exp": jiff::Timestamp::now().as_second() + 300}),
        &jsonwebtoken::EncodingKey::from_ec_pem(other.serialize_pem().as_bytes()).unwrap(),
    )
    .unwrap();
    let refused = get(&url, &[("authorization", &format!("Bearer {forged}"))]).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused.json()["message"]
            .as_str()
            .unwrap()
            .contains("signature")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn browsers_are_answered_only_from_the_extensions_origins() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let relay = anonymous_relay(&sb, &server, &[]).await;
    let url = format!("{}/v1/previews", relay.url);

    let chrome = get(&url, &[("origin", CHROME_ORIGIN)]).await;
    assert_eq!(chrome.status, 200);
    assert_eq!(
        chrome.header("access-control-allow-origin"),
        Some(CHROME_ORIGIN)
    );
    assert_eq!(
        chrome.header("access-control-allow-credentials"),
        Some("true")
    );
    let firefox = "moz-extension://7d5f0a4e-1b2c-4d3e-9f80-0123456789ab";
    let answer = get(&url, &[("origin", firefox)]).await;
    assert_eq!(answer.header("access-control-allow-origin"), Some(firefox));

    for page in [
        "https://evil.example",
        "chrome-extension://pppppppppppppppppppppppppppppppp",
        "null",
    ] {
        let refused = get(&url, &[("origin", page)]).await;
        assert_eq!(refused.status, 403, "{page}: {refused:#?}");
        assert_eq!(refused.json()["code"], "origin_not_allowed");
        assert_eq!(refused.header("access-control-allow-origin"), None);
    }

    let preflight = scanned(
        client()
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", CHROME_ORIGIN)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "last-event-id")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(preflight.status < 300, "{preflight:#?}");
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        Some(CHROME_ORIGIN)
    );
    assert!(
        preflight
            .header("access-control-allow-headers")
            .unwrap()
            .contains("last-event-id")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_health_show_a_failed_server_beside_a_working_one() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let token_file = sb.write("secrets/demo.token", &format!("{TOKEN}\n"));
    let config = sb.write(
        "relay/config.toml",
        &format!(
            "[[servers]]\nname = \"dev\"\nurl = \"{}\"\ntoken_file = \"{}\"\n\n\
             [[servers]]\nname = \"prod\"\nurl = \"http://127.0.0.1:9\"\ntoken_file = \"{}\"\n",
            server.url(),
            token_file.display(),
            token_file.display()
        ),
    );
    let relay = Relay::start(
        &sb,
        &[
            "--allow-anonymous",
            "--config",
            config.to_str().unwrap(),
            "--connect-timeout",
            "2s",
        ],
        &[],
    )
    .await;
    ready(&relay).await;
    // Ready means listed or failed: on a loaded machine dev's first list may time out too,
    // so wait until dev has listed and its watch is open (prod's cannot open).
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        let health = get(&format!("{}/healthz", relay.url), &[]).await.json();
        let dev = &health["servers"][0];
        if dev["watch"] == "open" && dev["error"].is_null() {
            assert_ne!(health["servers"][1]["watch"], "open", "{health}");
            break health;
        }
        assert!(Instant::now() < deadline, "{health}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let prod = &health["servers"][1];
    assert_eq!(prod["name"], "prod");
    assert_eq!(prod["listed"], true);
    assert!(
        prod["error"].as_str().unwrap().contains("127.0.0.1:9"),
        "{health}"
    );

    let list = get(&format!("{}/v1/previews", relay.url), &[]).await.json();
    assert_eq!(list["stale"], true, "a server failed");
    assert!(
        list["previews"].as_array().unwrap().len() >= 6,
        "dev's previews still shown: {list}"
    );
    let failure = &list["failures"][0];
    assert_eq!(failure["server"], "http://127.0.0.1:9");
    assert_eq!(failure["code"], "argocd_unreachable");
    assert!(
        failure["fix"]
            .as_str()
            .unwrap()
            .starts_with("the team relay's operator")
    );

    let metrics = get(&format!("{}/metrics", relay.url), &[]).await;
    assert!(
        metrics
            .header("content-type")
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    let text = metrics.body;
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let prod = r#"{server="http://127.0.0.1:9",name="prod"}"#;
    let dev = format!(r#"{{server="{}",name="dev"}}"#, server.url());
    assert_eq!(value(&format!("preview_switch_relay_argocd_up{prod}")), 0.0);
    assert!(value(&format!("preview_switch_relay_argocd_errors_total{prod}")) >= 1.0);
    assert!(value(&format!("preview_switch_relay_argocd_lists_total{prod}")) >= 1.0);
    assert_eq!(
        value(&format!(
            "preview_switch_relay_argocd_last_success_timestamp_seconds{prod}"
        )),
        0.0
    );
    assert_eq!(value(&format!("preview_switch_relay_argocd_up{dev}")), 1.0);
    let watch = |labels: &str, state: &str| {
        value(&format!(
            "preview_switch_relay_argocd_watch_state{}{}",
            labels.trim_end_matches('}'),
            format_args!(",state=\"{state}\"}}")
        ))
    };
    assert_eq!(watch(&dev, "open"), 1.0, "dev's watch is open");
    assert_eq!(watch(prod, "open"), 0.0, "prod's watch is not");
    assert_eq!(
        ["idle", "connecting", "backoff"]
            .iter()
            .map(|s| watch(prod, s))
            .sum::<f64>(),
        1.0,
        "prod's watch is in one other state"
    );
    assert_eq!(
        value(&format!("preview_switch_relay_argocd_errors_total{dev}")),
        0.0
    );
    assert!(
        value(&format!(
            "preview_switch_relay_argocd_last_success_timestamp_seconds{dev}"
        )) > 1.0e9
    );
    assert!(value("preview_switch_relay_previews ") >= 6.0);
    assert!(
        value(r#"preview_switch_relay_http_requests_total{endpoint="/v1/previews",status="200"}"#)
            >= 1.0
    );
    assert!(text.contains(
        r#"preview_switch_relay_http_request_duration_seconds_count{endpoint="/healthz"}"#
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_over_its_limits_gets_a_clear_429() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let relay = anonymous_relay(
        &sb,
        &server,
        &[
            "--rate-limit",
            "1",
            "--burst",
            "3",
            "--max-streams-per-client",
            "1",
        ],
    )
    .await;
    let url = format!("{}/v1/previews", relay.url);
    let mut statuses = Vec::new();
    let mut over = None;
    for _ in 0..6 {
        let answer = get(&url, &[]).await;
        statuses.push(answer.status);
        if answer.status == 429 {
            over = Some(answer);
        }
    }
    assert!(statuses.starts_with(&[200, 200]), "{statuses:?}");
    let over = over.expect("a 429 after the burst");
    assert_eq!(over.json()["code"], "rate_limited");
    assert!(
        over.json()["message"]
            .as_str()
            .unwrap()
            .contains("1 per second")
    );
    assert!(over.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    let _one = Stream::open(&relay.url, &[]).await.unwrap();
    let second = Stream::open(&relay.url, &[])
        .await
        .err()
        .expect("one stream only");
    assert_eq!(second.status, 429);
    assert!(
        second.json()["message"]
            .as_str()
            .unwrap()
            .contains("event streams")
    );
    assert!(
        second.json()["fix"]
            .as_str()
            .unwrap()
            .contains("--max-streams-per-client")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_and_a_base_path_are_served_directly() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let cert_file = sb.write("tls/cert.pem", &cert.cert.pem());
    let key_file = sb.write("tls/key.pem", &cert.signing_key.serialize_pem());
    let env = argocd(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let relay = Relay::start(
        &sb,
        &[
            "--allow-anonymous",
            "--base-path",
            "/previews/",
            "--tls-cert",
            cert_file.to_str().unwrap(),
            "--tls-key",
            key_file.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    assert!(
        relay.url.starts_with("https://") && relay.url.ends_with("/previews"),
        "{}",
        relay.url
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let https = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        let answer = scanned(
            https
                .get(format!("{}/v1/previews", relay.url))
                .send()
                .await
                .unwrap(),
        )
        .await;
        if answer.status != 503 || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(answer.status, 200, "{answer:#?}");
    let outside = relay.url.trim_end_matches("/previews");
    let answer = scanned(
        https
            .get(format!("{outside}/v1/previews"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_without_an_auth_choice_or_with_bad_flags_does_not_start() {
    let sb = Sandbox::new();
    let env = [
        ("ARGOCD_SERVER", "http://127.0.0.1:9"),
        ("ARGOCD_AUTH_TOKEN", TOKEN),
    ];
    let nobody: &[&str] = &[];
    for (flags, said) in [
        (
            nobody,
            &[
                "to anyone",
                "--trusted-proxy",
                "--oidc-issuer",
                "--allow-anonymous",
            ][..],
        ),
        (
            &[
                "--oidc-issuer",
                "http://sso.example.com/realms/x",
                "--oidc-audience",
                "a",
            ],
            &["not https"],
        ),
        (
            &[
                "--allow-anonymous",
                "--tls-cert",
                "/nonexistent.pem",
                "--tls-key",
                "/nonexistent.key",
            ],
            &["--tls-cert", "--tls-key"],
        ),
        (
            &["--allow-anonymous", "--base-path", "/a/../b"],
            &["--base-path"],
        ),
    ] {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(flags);
        let run = sb.run(&args, &env).await;
        assert_eq!(run.code, 2, "{flags:?}: {run:#?}");
        for words in said {
            assert!(run.stderr.contains(words), "{flags:?}: {}", run.stderr);
        }
    }
}

/// The repository root (the deploy files live there).
fn repo_file(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// No container engine runs here, so the Dockerfile is checked as text: its final stage
/// copies the release binary and nothing else, runs it as a non-root user, and serves.
#[test]
fn the_dockerfile_ships_the_release_binary_only_as_a_non_root_user() {
    let dockerfile = repo_file("Dockerfile");
    let instructions: Vec<(String, String)> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .fold(Vec::<String>::new(), |mut joined, line| {
            match joined.last_mut() {
                Some(last) if last.ends_with('\\') => {
                    last.pop();
                    last.push(' ');
                    last.push_str(line);
                }
                _ => joined.push(line.to_owned()),
            }
            joined
        })
        .into_iter()
        .map(|l| {
            let (op, rest) = l.split_once(' ').unwrap_or((&l, ""));
            (op.to_ascii_uppercase(), rest.trim().to_owned())
        })
        .collect();
    let last_from = instructions
        .iter()
        .rposition(|(op, _)| op == "FROM")
        .unwrap();
    let (build, runtime) = instructions.split_at(last_from);
    assert!(
        runtime[0].1.contains("distroless") && runtime[0].1.ends_with(":nonroot"),
        "a minimal base: {:?}",
        runtime[0]
    );
    let ops: Vec<&str> = runtime[1..].iter().map(|(op, _)| op.as_str()).collect();
    assert!(!ops.contains(&"RUN") && !ops.contains(&"ADD"), "{ops:?}");
    let copies: Vec<&String> = runtime
        .iter()
        .filter(|(op, _)| op == "COPY")
        .map(|(_, a)| a)
        .collect();
    assert_eq!(
        copies,
        ["--from=build /src/target/release/preview-switch /usr/local/bin/preview-switch"],
        "one COPY: the release binary"
    );
    let user = runtime
        .iter()
        .rev()
        .find(|(op, _)| op == "USER")
        .map(|(_, u)| u.as_str());
    let uid = user.expect("a USER").split(':').next().unwrap();
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u != 0),
        "non-root by number: {user:?}"
    );
    let entry = runtime.iter().find(|(op, _)| op == "ENTRYPOINT").unwrap();
    assert_eq!(entry.1, r#"["/usr/local/bin/preview-switch", "serve"]"#);
    // The build stage builds that binary, with a toolchain the workspace accepts.
    let run = build.iter().find(|(op, _)| op == "RUN").unwrap();
    assert!(
        run.1
            .contains("cargo build --release --locked -p preview-switch --bin preview-switch")
    );
    let image = &build[0].1;
    let rust = image
        .split("rust:")
        .nth(1)
        .unwrap()
        .split('-')
        .next()
        .unwrap();
    let msrv = repo_file("Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"')
        .to_owned();
    let version = |v: &str| -> Vec<u32> { v.split('.').map(|p| p.parse().unwrap()).collect() };
    assert!(
        version(rust) >= version(&msrv),
        "rust {rust} builds a workspace needing {msrv}"
    );
    assert!(repo_file(".dockerignore").lines().any(|l| l == "target"));
}

fn yaml_docs(rel: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(&repo_file(rel))
        .map(|doc| Value::deserialize(doc).unwrap())
        .collect()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

/// examples/relay/ as one consistent deployment: the relay's flags are the binary's own,
/// probes and ports meet, the proxy is the only way in, and the Argo CD role reads only.
#[tokio::test(flavor = "multi_thread")]
async fn the_example_deployment_is_consistent_and_its_relay_flags_start_the_real_relay() {
    let docs = yaml_docs("examples/relay/relay.yaml");
    let deployment = kind(&docs, "Deployment");
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap();
    let relay = containers.iter().find(|c| c["name"] == "relay").unwrap();
    let proxy = containers
        .iter()
        .find(|c| c["name"] == "oauth2-proxy")
        .unwrap();
    let args: Vec<&str> = relay["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let flag = |args: &[&str], name: &str| -> String {
        args.iter()
            .find_map(|a| a.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {args:?}"))
            .to_owned()
    };
    let port: u16 = flag(&args, "--listen")
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let relay_port = &relay["ports"][0];
    assert_eq!(relay_port["containerPort"], port);
    for probe in ["readinessProbe", "livenessProbe"] {
        let get = &relay[probe]["httpGet"];
        assert_eq!(get["path"], "/healthz", "{probe}");
        assert_eq!(get["port"], relay_port["name"], "{probe}");
    }
    assert!(
        flag(&args, "--trusted-proxy")
            .split(',')
            .any(|a| a == "127.0.0.1")
    );
    let proxy_args: Vec<&str> = proxy["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        flag(&proxy_args, "--upstream"),
        format!("http://127.0.0.1:{port}/")
    );
    assert_eq!(flag(&proxy_args, "--pass-user-headers"), "true");
    assert!(
        flag(&args, "--identity-header").eq_ignore_ascii_case("x-forwarded-email"),
        "the header oauth2-proxy passes"
    );
    let proxy_port = proxy["ports"][0]["name"].as_str().unwrap();
    let service = kind(&docs, "Service");
    let route = kind(&docs, "HTTPRoute");
    let backend = &route["spec"]["rules"][0]["backendRefs"][0];
    assert_eq!(backend["name"], service["metadata"]["name"]);
    let routed = service["spec"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["port"] == backend["port"])
        .unwrap();
    assert_eq!(
        routed["targetPort"], proxy_port,
        "people reach the proxy, never the relay directly"
    );
    assert_eq!(
        deployment["spec"]["template"]["metadata"]["labels"],
        service["spec"]["selector"]
    );
    let secured = &relay["securityContext"];
    assert_eq!(secured["readOnlyRootFilesystem"], true);
    assert_eq!(secured["allowPrivilegeEscalation"], false);

    // The read-only Argo CD account: exactly applications/applicationsets get.
    let rbac = yaml_docs("examples/relay/argocd-rbac.patch.yaml");
    let policy = rbac[0]["data"]["policy.csv"].as_str().unwrap();
    let mut lines: Vec<&str> = policy
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            "g, preview-relay, role:preview-relay",
            "p, role:preview-relay, applications, get, */*, allow",
            "p, role:preview-relay, applicationsets, get, */*, allow",
        ]
    );
    let account = yaml_docs("examples/relay/argocd-account.patch.yaml");
    assert_eq!(
        account[0]["data"]["accounts.preview-relay"], "apiKey",
        "tokens only, no login"
    );

    // The relay's own flags, as the Deployment gives them, start the real relay.
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let mut env: Vec<(String, String)> = relay["env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            Some((
                e["name"].as_str()?.to_owned(),
                e["value"].as_str()?.to_owned(),
            ))
        })
        .filter(|(k, _)| k != "ARGOCD_SERVER")
        .collect();
    env.extend(argocd(&server).into_iter().map(|(k, v)| (k.to_owned(), v)));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let local: Vec<&str> = args
        .iter()
        .copied()
        .filter(|a| !a.starts_with("--listen="))
        .collect();
    let started = Relay::start(&sb, &local, &env).await;
    ready(&started).await;
    let answer = get(
        &format!("{}/v1/previews", started.url),
        &[("x-forwarded-email", "qa@example.com")],
    )
    .await;
    assert_eq!(
        answer.status, 200,
        "the sidecar's header from 127.0.0.1 is believed"
    );
}
