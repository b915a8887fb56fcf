//! The host loop driven over `tokio::io::duplex` with a fake [`Source`]: literal malformed
//! frames, paging, the cache, subscriptions, origin refusal, concurrency and shutdown.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use futures_util::stream;
use protocol::messages::{ChangeKind, ServerFailure, ServerInfo};
use protocol::{Links, Route, RouteKind, RouteSource};
use serde_json::{Value, json};
use tokio::io::{AsyncWriteExt, DuplexStream, ReadHalf, WriteHalf};
use tokio::sync::Notify;

use super::*;
use crate::host::source::{ChangeFeed, Fetched};

const WAIT: Duration = Duration::from_secs(10);

fn preview(app: &str, pr: u64) -> Preview {
    let service = app.rsplit_once("-pr-").map_or(app, |(s, _)| s).to_owned();
    Preview {
        server: "https://argocd.dev".into(),
        context: "dev".into(),
        app: app.into(),
        namespace: "argocd".into(),
        service: service.clone(),
        pr,
        sync: Some("Synced".into()),
        health: Some("Healthy".into()),
        phase: Some("Succeeded".into()),
        revision: Some("1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f7a8b9c0d".into()),
        image_tag: Some("dev-1a2b3c4".into()),
        created_at: Some("2026-11-20T10:00:00Z".into()),
        links: Links {
            argocd: Some(format!("https://argocd.dev/applications/argocd/{app}")),
            pull_request: Some(format!("https://github.com/acme/{service}/pull/{pr}")),
        },
        routes: vec![Route {
            kind: RouteKind::Cookie,
            name: format!("team-{service}-pr"),
            value: pr.to_string(),
            hosts: vec![
                format!("{service}.dev.acme.test"),
                format!("www.{service}.dev.acme.test"),
            ],
            source: RouteSource::Discovery,
        }],
        unroutable: None,
        ..Default::default()
    }
}

type FeedRx = mpsc::UnboundedReceiver<Result<(), ErrorBody>>;

/// A scripted source: fetch returns whatever `previews`/`failures` hold now, optionally
/// held back by a gate; `watch` hands out feeds the test pushes into.
#[derive(Clone, Default)]
struct Fake {
    previews: Arc<Mutex<Vec<Preview>>>,
    failures: Arc<Mutex<Vec<ServerFailure>>>,
    gate: Option<Arc<Notify>>,
    hang: bool,
    fetches: Arc<AtomicUsize>,
    watches: Arc<AtomicUsize>,
    feeds: Arc<Mutex<VecDeque<FeedRx>>>,
}

impl Fake {
    fn with(previews: Vec<Preview>) -> Fake {
        let fake = Fake::default();
        *fake.previews.lock().unwrap() = previews;
        fake
    }
    fn set(&self, previews: Vec<Preview>) {
        *self.previews.lock().unwrap() = previews;
    }
    fn feed(&self) -> mpsc::UnboundedSender<Result<(), ErrorBody>> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.feeds.lock().unwrap().push_back(rx);
        tx
    }
}

impl Source for Fake {
    fn servers(&self) -> Vec<ServerInfo> {
        vec![ServerInfo {
            name: "dev".into(),
            url: "https://argocd.dev".into(),
            selector: "type=pr".into(),
        }]
    }
    async fn fetch(&self) -> Fetched {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        if self.hang {
            std::future::pending::<()>().await;
        }
        if let Some(gate) = &self.gate {
            gate.notified().await;
        }
        Fetched {
            previews: self.previews.lock().unwrap().clone(),
            failures: self.failures.lock().unwrap().clone(),
        }
    }
    async fn watch(&self, _index: usize) -> Result<ChangeFeed, ErrorBody> {
        self.watches.fetch_add(1, Ordering::SeqCst);
        let rx = self.feeds.lock().unwrap().pop_front();
        Ok(match rx {
            Some(rx) => stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|item| (item, rx))
            })
            .boxed(),
            None => stream::pending().boxed(),
        })
    }
}

fn options(cache_dir: Option<&std::path::Path>) -> HostOptions {
    HostOptions {
        cache_dir: cache_dir.map(ToOwned::to_owned),
        fetch_timeout: Duration::from_secs(5),
        fresh_for: Duration::from_secs(10),
        eof_grace: Duration::from_millis(500),
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(40),
        allowed: AllowedOrigins::default(),
        installed: None,
    }
}

/// The extension's side of a port.
struct Conn {
    reader: ReadHalf<DuplexStream>,
    writer: WriteHalf<DuplexStream>,
    task: tokio::task::JoinHandle<Ending>,
}

impl Conn {
    fn start(source: Fake, opts: HostOptions, caller: Option<Caller>) -> Conn {
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        let (host_r, host_w) = tokio::io::split(theirs);
        let task = tokio::spawn(run(host_r, host_w, caller, source, opts));
        let (reader, writer) = tokio::io::split(ours);
        Conn {
            reader,
            writer,
            task,
        }
    }

    async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).await.unwrap();
        self.writer.flush().await.unwrap();
    }

    async fn send(&mut self, request: Value) {
        let body = request.to_string();
        let mut bytes = (body.len() as u32).to_ne_bytes().to_vec();
        bytes.extend_from_slice(body.as_bytes());
        self.send_raw(&bytes).await;
    }

    /// The next frame's raw size and JSON.
    async fn recv_sized(&mut self) -> (usize, Value) {
        let inbound = tokio::time::timeout(WAIT, read_frame(&mut self.reader))
            .await
            .expect("a frame in time")
            .unwrap();
        let Inbound::Frame(body) = inbound else {
            panic!("expected a frame, got {inbound:?}")
        };
        (body.len(), serde_json::from_slice(&body).unwrap())
    }

    async fn recv(&mut self) -> Value {
        self.recv_sized().await.1
    }

    /// Closes stdin and returns how the host ended.
    async fn close(mut self) -> Ending {
        self.writer.shutdown().await.unwrap();
        // Keep reading so the host can flush whatever it still writes.
        let drain =
            async { while let Ok(Inbound::Frame(_)) = read_frame(&mut self.reader).await {} };
        let (ending, ()) = tokio::time::timeout(WAIT, async { tokio::join!(self.task, drain) })
            .await
            .expect("host ends in time");
        ending.unwrap()
    }
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u32).to_ne_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

enum Expect {
    /// An error frame with this code and id; the port stays usable.
    Error(&'static str, Option<u64>),
    /// Optionally an error frame with this code, then the host ends like this.
    End(Option<&'static str>, Ending),
}

#[tokio::test]
async fn malformed_input_gets_its_error_code_or_a_clean_exit_never_a_panic() {
    let deep_array = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_field = format!(
        r#"{{"id":9,"type":"list","x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let oversized = {
        let mut v = framed(&vec![b' '; MAX_FRAME_BYTES + 1]);
        v.truncate(4 + MAX_FRAME_BYTES + 1);
        v
    };
    let cases: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("zero length", framed(b""), Expect::Error("bad_json", None)),
        (
            "whitespace only",
            framed(b"  \n"),
            Expect::Error("bad_json", None),
        ),
        (
            "invalid UTF-8",
            framed(b"{\"id\":1,\"type\":\"li\xffst\"}"),
            Expect::Error("bad_json", None),
        ),
        (
            "NUL bytes",
            framed(b"\0\0\0"),
            Expect::Error("bad_json", None),
        ),
        (
            "byte order mark",
            framed("\u{feff}{\"id\":1,\"type\":\"list\"}".as_bytes()),
            Expect::Error("bad_json", None),
        ),
        (
            "cut-off JSON",
            framed(br#"{"id":1,"#),
            Expect::Error("bad_json", None),
        ),
        (
            "trailing garbage",
            framed(br#"{"id":1,"type":"hello","protocol":1} x"#),
            Expect::Error("bad_json", None),
        ),
        (
            "two objects in one frame",
            framed(br#"{"id":1,"type":"list"}{"id":2,"type":"list"}"#),
            Expect::Error("bad_json", None),
        ),
        (
            "number out of range",
            framed(br#"{"id":1,"type":"list","x":1e999}"#),
            Expect::Error("bad_json", None),
        ),
        (
            "deeply nested array",
            framed(deep_array.as_bytes()),
            Expect::Error("bad_json", None),
        ),
        (
            "deeply nested field",
            framed(deep_field.as_bytes()),
            Expect::Error("bad_json", None),
        ),
        (
            "JSON array",
            framed(b"[1,2]"),
            Expect::Error("bad_request", None),
        ),
        (
            "JSON string",
            framed(br#""hello""#),
            Expect::Error("bad_request", None),
        ),
        (
            "JSON null",
            framed(b"null"),
            Expect::Error("bad_request", None),
        ),
        (
            "empty object",
            framed(b"{}"),
            Expect::Error("bad_request", None),
        ),
        (
            "missing id",
            framed(br#"{"type":"list"}"#),
            Expect::Error("bad_request", None),
        ),
        (
            "string id",
            framed(br#"{"id":"1","type":"list"}"#),
            Expect::Error("bad_request", None),
        ),
        (
            "negative id",
            framed(br#"{"id":-1,"type":"list"}"#),
            Expect::Error("bad_request", None),
        ),
        (
            "fractional id",
            framed(br#"{"id":1.5,"type":"list"}"#),
            Expect::Error("bad_request", None),
        ),
        (
            "id past u64",
            framed(br#"{"id":18446744073709551616,"type":"list"}"#),
            Expect::Error("bad_request", None),
        ),
        (
            "missing type",
            framed(br#"{"id":4}"#),
            Expect::Error("bad_request", Some(4)),
        ),
        (
            "numeric type",
            framed(br#"{"id":5,"type":7}"#),
            Expect::Error("bad_request", Some(5)),
        ),
        (
            "unknown type",
            framed(br#"{"id":3,"type":"launch_missiles"}"#),
            Expect::Error("unknown_type", Some(3)),
        ),
        (
            "type in the wrong case",
            framed(br#"{"id":3,"type":"LIST"}"#),
            Expect::Error("unknown_type", Some(3)),
        ),
        (
            "host of the wrong type",
            framed(br#"{"id":6,"type":"list","host":42}"#),
            Expect::Error("bad_request", Some(6)),
        ),
        (
            "cursor of the wrong type",
            framed(br#"{"id":7,"type":"list","cursor":["a"]}"#),
            Expect::Error("bad_request", Some(7)),
        ),
        (
            "protocol as a string",
            framed(br#"{"id":8,"type":"hello","protocol":"one"}"#),
            Expect::Error("bad_request", Some(8)),
        ),
        (
            "protocol missing",
            framed(br#"{"id":8,"type":"hello"}"#),
            Expect::Error("bad_request", Some(8)),
        ),
        (
            "protocol past u32",
            framed(br#"{"id":8,"type":"hello","protocol":1099511627776}"#),
            Expect::Error("bad_request", Some(8)),
        ),
        (
            "frame over 1 MiB, skipped",
            oversized,
            Expect::Error("frame_too_large", None),
        ),
        (
            "length no browser sends",
            vec![0xff, 0xff, 0xff, 0xff, b'{'],
            Expect::End(Some("frame_too_large"), Ending::Garbage),
        ),
        (
            "truncated header",
            vec![7, 0],
            Expect::End(None, Ending::Truncated),
        ),
        (
            "truncated body",
            vec![20, 0, 0, 0, b'{', b'"'],
            Expect::End(None, Ending::Truncated),
        ),
        ("nothing at all", vec![], Expect::End(None, Ending::Eof)),
    ];
    assert!(cases.len() >= 20);
    for (name, bytes, expect) in cases {
        let mut conn = Conn::start(Fake::default(), options(None), None);
        conn.send_raw(&bytes).await;
        match expect {
            Expect::Error(code, id) => {
                let reply = conn.recv().await;
                assert_eq!(reply["type"], "error", "{name}: {reply}");
                assert_eq!(reply["code"], code, "{name}: {reply}");
                assert_eq!(reply["id"], json!(id), "{name}: {reply}");
                assert!(!reply["message"].as_str().unwrap().is_empty(), "{name}");
                assert!(!reply["fix"].as_str().unwrap().is_empty(), "{name}");
                // Still in sync: the next request is answered.
                conn.send(json!({"id": 100, "type": "hello", "protocol": 1}))
                    .await;
                let hello = conn.recv().await;
                assert_eq!(
                    (hello["type"].as_str(), hello["id"].as_u64()),
                    (Some("hello"), Some(100)),
                    "{name}"
                );
                assert_eq!(conn.close().await, Ending::Eof, "{name}");
            }
            Expect::End(code, ending) => {
                if let Some(code) = code {
                    let reply = conn.recv().await;
                    assert_eq!(reply["code"], code, "{name}: {reply}");
                }
                assert_eq!(conn.close().await, ending, "{name}");
            }
        }
    }
}

#[tokio::test]
async fn hello_names_versions_capabilities_and_servers_without_secrets() {
    let mut conn = Conn::start(Fake::default(), options(None), None);
    conn.send(json!({"id": 1, "type": "hello", "protocol": 1, "extension_version": "0.1.0"}))
        .await;
    let hello = conn.recv().await;
    assert_eq!(hello["protocol"], PROTOCOL_VERSION);
    assert_eq!(hello["companion_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(hello["capabilities"], json!(CAPABILITIES));
    assert_eq!(
        hello["servers"],
        json!([{"name": "dev", "url": "https://argocd.dev", "selector": "type=pr"}])
    );
    assert_eq!(conn.close().await, Ending::Eof);
}

#[tokio::test]
async fn a_5000_preview_list_is_paged_under_one_mebibyte_each_preview_once() {
    let all: Vec<Preview> = (0..5000)
        .map(|i| preview(&format!("service-{:02}-pr-{i}", i % 37), i))
        .collect();
    let mut conn = Conn::start(Fake::with(all.clone()), options(None), None);
    let mut seen = std::collections::HashMap::new();
    let mut cursor = Value::Null;
    let mut pages = 0;
    loop {
        let mut request = json!({"id": 10 + pages, "type": "list"});
        if !cursor.is_null() {
            request["cursor"] = cursor.clone();
        }
        conn.send(request).await;
        let (size, page) = conn.recv_sized().await;
        assert!(size <= MAX_FRAME_BYTES, "page {pages} is {size} bytes");
        assert_eq!(page["type"], "list", "{page}");
        assert_eq!(page["id"], 10 + pages);
        assert_eq!(page["total"], 5000);
        for p in page["previews"].as_array().unwrap() {
            *seen
                .entry(p["app"].as_str().unwrap().to_owned())
                .or_insert(0) += 1;
        }
        pages += 1;
        cursor = page["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert!(
        pages >= 3,
        "the list should need several pages, got {pages}"
    );
    assert_eq!(seen.len(), 5000);
    assert!(seen.values().all(|n| *n == 1), "a preview came twice");
    // A host filter pages the same way over the matching previews only.
    conn.send(json!({"id": 99, "type": "list", "host": "service-03.dev.acme.test"}))
        .await;
    let page = conn.recv().await;
    let expected = all.iter().filter(|p| p.service == "service-03").count();
    assert_eq!(page["total"], expected);
    assert_eq!(page["previews"].as_array().unwrap().len(), expected);
    assert!(page["next_cursor"].is_null());
    assert_eq!(conn.close().await, Ending::Eof);
}

#[tokio::test]
async fn a_cursor_from_replaced_data_is_refused_not_mixed() {
    let mut conn = Conn::start(Fake::default(), options(None), None);
    conn.send(json!({"id": 1, "type": "list", "cursor": "1700000000000-250"}))
        .await;
    let reply = conn.recv().await;
    assert_eq!(reply["code"], "cursor_expired");
    assert_eq!(reply["id"], 1);
    assert_eq!(conn.close().await, Ending::Eof);
}

fn write_cache(dir: &std::path::Path, previews: Vec<Preview>, age: Duration) {
    let path = cache::file_for(dir, &Fake::default().servers());
    cache::store(
        &path,
        &Snapshot {
            fetched_at_ms: now_ms() - age.as_millis() as u64,
            previews,
            failures: vec![],
            kept_previous: false,
        },
    )
    .unwrap();
}

#[tokio::test]
async fn cached_list_answers_at_once_marked_stale_and_the_refresh_reaches_the_next_process() {
    let dir = tempfile::tempdir().unwrap();
    write_cache(
        dir.path(),
        vec![preview("web-pr-1", 1)],
        Duration::from_secs(3600),
    );
    let gate = Arc::new(Notify::new());
    let fake = Fake {
        gate: Some(gate.clone()),
        ..Fake::with(vec![preview("web-pr-1", 1), preview("web-pr-2", 2)])
    };
    let mut conn = Conn::start(fake.clone(), options(Some(dir.path())), None);
    conn.send(json!({"id": 1, "type": "list"})).await;
    // The fetch is held back by the gate, so this answer can only come from the cache.
    let reply = conn.recv().await;
    assert_eq!(reply["previews"].as_array().unwrap().len(), 1);
    assert_eq!(reply["stale"], true);
    assert_eq!(reply["refreshing"], true);
    let age = reply["age_ms"].as_u64().unwrap();
    assert!((3_600_000..3_700_000).contains(&age), "age {age}");
    gate.notify_one();
    // Closing stdin lets the background refresh finish into the cache.
    assert_eq!(conn.close().await, Ending::Eof);
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 1);

    // A new process (one per sendNativeMessage) answers from the refreshed cache, fresh.
    let fake2 = Fake {
        hang: true,
        ..Fake::default()
    };
    let mut conn = Conn::start(fake2.clone(), options(Some(dir.path())), None);
    conn.send(json!({"id": 2, "type": "list"})).await;
    let reply = conn.recv().await;
    assert_eq!(reply["previews"].as_array().unwrap().len(), 2);
    assert_eq!(reply["stale"], false);
    assert_eq!(reply["refreshing"], false);
    assert!(reply["age_ms"].as_u64().unwrap() < 10_000);
    assert_eq!(conn.close().await, Ending::Eof);
    assert_eq!(
        fake2.fetches.load(Ordering::SeqCst),
        0,
        "fresh data is not refetched"
    );
}

#[tokio::test]
async fn without_cache_list_waits_for_the_first_fetch_and_concurrent_requests_share_it() {
    let gate = Arc::new(Notify::new());
    let fake = Fake {
        gate: Some(gate.clone()),
        ..Fake::with(vec![preview("web-pr-1", 1)])
    };
    let mut conn = Conn::start(fake.clone(), options(None), None);
    conn.send(json!({"id": 1, "type": "list"})).await;
    conn.send(json!({"id": 2, "type": "list"})).await;
    conn.send(json!({"id": 3, "type": "hello", "protocol": 1}))
        .await;
    // Hello is not stuck behind the lists that wait for Argo CD.
    let first = conn.recv().await;
    assert_eq!(
        (first["type"].as_str(), first["id"].as_u64()),
        (Some("hello"), Some(3))
    );
    gate.notify_one();
    let mut ids = vec![];
    for _ in 0..2 {
        let reply = conn.recv().await;
        assert_eq!(reply["type"], "list");
        assert_eq!(reply["stale"], false, "just fetched");
        assert_eq!(reply["previews"][0]["app"], "web-pr-1");
        ids.push(reply["id"].as_u64().unwrap());
    }
    ids.sort_unstable();
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(fake.fetches.load(Ordering::SeqCst), 1, "one fetch for both");
    assert_eq!(conn.close().await, Ending::Eof);
}

#[tokio::test]
async fn a_request_written_just_before_stdin_closes_is_still_answered() {
    let mut conn = Conn::start(
        Fake::with(vec![preview("web-pr-1", 1)]),
        options(None),
        None,
    );
    conn.send(json!({"id": 1, "type": "list"})).await;
    conn.writer.shutdown().await.unwrap();
    let reply = conn.recv().await;
    assert_eq!(reply["id"], 1);
    assert_eq!(reply["previews"][0]["app"], "web-pr-1");
    assert_eq!(conn.task.await.unwrap(), Ending::Eof);
}

#[tokio::test]
async fn fetch_timeout_and_total_failure_are_typed_errors() {
    let fake = Fake {
        hang: true,
        ..Fake::default()
    };
    let mut opts = options(None);
    opts.fetch_timeout = Duration::from_millis(50);
    let mut conn = Conn::start(fake, opts, None);
    conn.send(json!({"id": 1, "type": "list"})).await;
    let reply = conn.recv().await;
    assert_eq!(
        (reply["code"].as_str(), reply["id"].as_u64()),
        (Some("timeout"), Some(1))
    );
    assert_eq!(conn.close().await, Ending::Eof);

    let fake = Fake::default();
    fake.failures.lock().unwrap().push(ServerFailure {
        server: "https://argocd.dev".into(),
        error: ErrorBody {
            code: ErrorCode::ArgocdUnauthorized,
            message: "token rejected by https://argocd.dev (401 token is expired)".into(),
            fix: "run `argocd login argocd.dev` or set a fresh ARGOCD_AUTH_TOKEN".into(),
        },
    });
    let mut conn = Conn::start(fake, options(None), None);
    conn.send(json!({"id": 2, "type": "refresh"})).await;
    let reply = conn.recv().await;
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["code"], "argocd_unauthorized");
    assert_eq!(
        reply["fix"],
        "run `argocd login argocd.dev` or set a fresh ARGOCD_AUTH_TOKEN"
    );
    assert_eq!(conn.close().await, Ending::Eof);
}

#[tokio::test]
async fn a_failing_server_keeps_its_previews_marked_stale_not_deleted() {
    let dir = tempfile::tempdir().unwrap();
    write_cache(
        dir.path(),
        vec![preview("web-pr-1", 1)],
        Duration::from_secs(60),
    );
    let fake = Fake::default();
    fake.failures.lock().unwrap().push(ServerFailure {
        server: "https://argocd.dev".into(),
        error: ErrorBody {
            code: ErrorCode::ArgocdUnreachable,
            message: "cannot reach https://argocd.dev: connection refused".into(),
            fix: "check your VPN".into(),
        },
    });
    let mut conn = Conn::start(fake, options(Some(dir.path())), None);
    conn.send(json!({"id": 1, "type": "refresh"})).await;
    let reply = conn.recv().await;
    assert_eq!(reply["previews"][0]["app"], "web-pr-1");
    assert_eq!(reply["stale"], true);
    assert_eq!(reply["failures"][0]["code"], "argocd_unreachable");
    assert!(
        reply["age_ms"].as_u64().unwrap() >= 60_000,
        "keeps its real age"
    );
    assert_eq!(conn.close().await, Ending::Eof);
}

#[tokio::test]
async fn subscribe_pushes_added_modified_deleted_and_survives_a_broken_watch() {
    let fake = Fake::with(vec![preview("web-pr-1", 1)]);
    let feed = fake.feed();
    let second_feed = fake.feed();
    let mut conn = Conn::start(fake.clone(), options(None), None);
    conn.send(json!({"id": 5, "type": "subscribe"})).await;
    assert_eq!(
        conn.recv().await,
        json!({"type": "subscribed", "id": 5, "subscription": 5})
    );
    let event = conn.recv().await;
    assert_eq!(event["type"], "previews_changed");
    assert_eq!(event["subscription"], 5);
    assert_eq!(event["changes"][0]["change"], "added");
    assert_eq!(event["changes"][0]["preview"]["app"], "web-pr-1");

    fake.set(vec![preview("web-pr-1", 1), preview("web-pr-2", 2)]);
    feed.send(Ok(())).unwrap();
    let event = conn.recv().await;
    assert_eq!(
        event["changes"],
        json!([{"change": "added", "preview": preview("web-pr-2", 2)}])
    );

    fake.set(vec![preview("web-pr-2", 2)]);
    feed.send(Ok(())).unwrap();
    let event = conn.recv().await;
    assert_eq!(
        event["changes"],
        json!([{"change": "deleted", "preview": preview("web-pr-1", 1)}])
    );

    // The watch breaks; meanwhile PR 2 degrades. The host reconnects and re-lists.
    let mut degraded = preview("web-pr-2", 2);
    degraded.health = Some("Degraded".into());
    fake.set(vec![degraded.clone()]);
    feed.send(Err(ErrorBody {
        code: ErrorCode::ArgocdUnreachable,
        message: "stream reset".into(),
        fix: "none".into(),
    }))
    .unwrap();
    let event = conn.recv().await;
    assert_eq!(
        event["changes"],
        json!([{"change": "modified", "preview": degraded}])
    );
    // Turning Degraded is also a notification, once, right after the change.
    let note = conn.recv().await;
    assert_eq!(
        (
            note["type"].as_str(),
            note["kind"].as_str(),
            note["app"].as_str()
        ),
        (Some("notification"), Some("degraded"), Some("web-pr-2"))
    );
    assert!(
        fake.watches.load(Ordering::SeqCst) >= 2,
        "the watch was reopened"
    );

    // Events continue on the reopened feed.
    fake.set(vec![]);
    second_feed.send(Ok(())).unwrap();
    let event = conn.recv().await;
    assert_eq!(event["changes"][0]["change"], "deleted");

    conn.send(json!({"id": 6, "type": "unsubscribe"})).await;
    assert_eq!(conn.recv().await, json!({"type": "unsubscribed", "id": 6}));
    fake.set(vec![preview("web-pr-9", 9)]);
    let _ = second_feed.send(Ok(()));
    // No event after unsubscribe: the next frame is the answer to this hello.
    tokio::time::sleep(Duration::from_millis(50)).await;
    conn.send(json!({"id": 7, "type": "hello", "protocol": 1}))
        .await;
    assert_eq!(conn.recv().await["type"], "hello");
    assert_eq!(conn.close().await, Ending::Eof);
}

#[tokio::test]
async fn a_second_subscribe_reuses_the_first_subscription() {
    let dir = tempfile::tempdir().unwrap();
    write_cache(dir.path(), vec![], Duration::from_secs(1));
    let mut conn = Conn::start(Fake::default(), options(Some(dir.path())), None);
    conn.send(json!({"id": 1, "type": "subscribe"})).await;
    assert_eq!(conn.recv().await["subscription"], 1);
    conn.send(json!({"id": 2, "type": "subscribe"})).await;
    assert_eq!(
        conn.recv().await,
        json!({"type": "subscribed", "id": 2, "subscription": 1})
    );
    assert_eq!(conn.close().await, Ending::Eof);
}

#[tokio::test]
async fn another_extension_is_refused_with_origin_not_allowed() {
    let caller = Caller::Chrome {
        origin: "chrome-extension://pppppppppppppppppppppppppppppppp/".into(),
    };
    let fake = Fake::with(vec![preview("web-pr-1", 1)]);
    let mut conn = Conn::start(fake.clone(), options(None), Some(caller));
    for (id, kind) in [(1, "hello"), (2, "list"), (3, "subscribe")] {
        conn.send(json!({"id": id, "type": kind, "protocol": 1}))
            .await;
        let reply = conn.recv().await;
        assert_eq!(reply["type"], "error");
        assert_eq!(reply["code"], "origin_not_allowed");
        assert_eq!(reply["id"], id);
        assert!(reply["message"].as_str().unwrap().contains("pppppppp"));
    }
    assert_eq!(conn.close().await, Ending::Eof);
    assert_eq!(
        fake.fetches.load(Ordering::SeqCst),
        0,
        "nothing fetched for a stranger"
    );

    let allowed = Caller::Chrome {
        origin: format!("chrome-extension://{}/", crate::host::EXTENSION_ID),
    };
    let mut conn = Conn::start(Fake::default(), options(None), Some(allowed));
    conn.send(json!({"id": 1, "type": "hello", "protocol": 1}))
        .await;
    assert_eq!(conn.recv().await["type"], "hello");
    assert_eq!(conn.close().await, Ending::Eof);
}

#[tokio::test]
async fn eof_without_requests_ends_at_once() {
    let conn = Conn::start(Fake::default(), options(None), None);
    let started = Instant::now();
    assert_eq!(conn.close().await, Ending::Eof);
    assert!(started.elapsed() < Duration::from_millis(500));
}

#[test]
fn diff_reports_each_kind_of_change_once() {
    let snap = |previews| Snapshot {
        fetched_at_ms: 1,
        previews,
        failures: vec![],
        kept_previous: false,
    };
    let mut changed = preview("b-pr-2", 2);
    changed.revision = Some("ffff".into());
    let old = snap(vec![preview("a-pr-1", 1), preview("b-pr-2", 2)]);
    let new = snap(vec![changed.clone(), preview("c-pr-3", 3)]);
    let kinds: Vec<_> = diff(Some(&old), &new)
        .into_iter()
        .map(|c| (c.change, c.preview.app))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ChangeKind::Modified, "b-pr-2".to_owned()),
            (ChangeKind::Added, "c-pr-3".to_owned()),
            (ChangeKind::Deleted, "a-pr-1".to_owned()),
        ]
    );
    assert!(diff(Some(&new), &new).is_empty());
}

#[tokio::test]
async fn a_broken_config_is_answered_as_a_config_error_not_a_dead_host() {
    let source = crate::host::FailingSource::new(&crate::error::Error::NoServer {
        config_file: "/home/u/.config/preview-switch/config.toml".into(),
        argocd_config: "/home/u/.config/argocd/config".into(),
    });
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let (host_r, host_w) = tokio::io::split(theirs);
    let task = tokio::spawn(run(host_r, host_w, None, source, options(None)));
    let (mut reader, mut writer) = tokio::io::split(ours);
    let body = br#"{"id":1,"type":"list"}"#;
    writer.write_all(&framed(body)).await.unwrap();
    writer.shutdown().await.unwrap();
    let Inbound::Frame(reply) = read_frame(&mut reader).await.unwrap() else {
        panic!("no answer")
    };
    let reply: Value = serde_json::from_slice(&reply).unwrap();
    assert_eq!(reply["code"], "config", "{reply}");
    assert!(reply["message"].as_str().unwrap().contains("ARGOCD_SERVER"));
    assert!(reply["fix"].as_str().unwrap().contains("argocd login"));
    assert_eq!(task.await.unwrap(), Ending::Eof);
}

/// Regression (fuzz target `request_parser`, crash-57256bac): a frame with the same key
/// twice was accepted with the last value, though other parsers would pick the first.
#[test]
fn a_request_with_a_duplicate_key_is_refused() {
    for body in [
        r#"{"id": 2, "type": "list", "d": 2, "type": "list", "hohost": "x"}"#,
        r#"{"id": 2, "type": "hello", "protocol": 1, "type": "refresh"}"#,
        r#"{"id": 2, "type": "list", "host": "a.test", "host": "*"}"#,
    ] {
        let Err(Reply::Error(e)) = parse_request(body.as_bytes()) else {
            panic!("{body} accepted")
        };
        assert_eq!(e.error.code, ErrorCode::BadRequest, "{body}");
        assert!(
            e.error.message.contains("duplicate field"),
            "{}",
            e.error.message
        );
    }
    assert!(parse_request(br#"{"id": 2, "type": "list", "host": "a.test"}"#).is_ok());
}

/// Regression (fault table under load): when the overall fetch bound ran out, `refresh`
/// answered an error although earlier data was cached; it now serves that data as stale
/// with the timeout as the failure.
#[tokio::test]
async fn a_fetch_over_the_overall_bound_keeps_the_cached_data_as_stale() {
    let dir = tempfile::tempdir().unwrap();
    write_cache(
        dir.path(),
        vec![preview("web-pr-1", 1)],
        Duration::from_secs(60),
    );
    let fake = Fake {
        hang: true,
        ..Fake::default()
    };
    let mut opts = options(Some(dir.path()));
    opts.fetch_timeout = Duration::from_millis(50);
    let mut conn = Conn::start(fake, opts, None);
    conn.send(json!({"id": 1, "type": "refresh"})).await;
    let reply = conn.recv().await;
    assert_eq!(reply["type"], "list", "{reply}");
    assert_eq!(reply["previews"][0]["app"], "web-pr-1");
    assert_eq!(reply["stale"], true);
    assert_eq!(reply["failures"][0]["code"], "timeout");
    assert_eq!(conn.close().await, Ending::Eof);
}
