//! Fault injection on the built binary: every way the fake Argo CD can fail (status codes,
//! HTML and JSON error bodies, silence, a dripping or reset body, truncated or mistyped
//! JSON, a 200 MB body, odd but legal data, an error object in the watch stream), each run
//! once through `list` and once through a long-lived host. Each must end within the
//! configured timeout with an error naming the server and the fix, or with the correct
//! (partial) result; no panic; the host keeps its last good data and serves it as stale.

use std::time::Duration;

use fake_argocd::{FakeArgo, Fault, FaultRule};
use serde_json::{Value, json};

use crate::support::{HostProc, Sandbox, TOKEN, demo_server};

const LIST: &str = "/api/v1/applications";
/// The configured per-request timeout: short so silent and dripping servers fail fast.
const TIMEOUT: &str = "2s";

/// What a fault must lead to.
enum Expect {
    /// Exit 1 / an error answer: stderr names the server plus these words (the cause and
    /// the fix); the host's failure carries this wire code.
    Fails {
        words: &'static [&'static str],
        code: &'static str,
    },
    /// A correct result: exit 0 and exactly these apps (in order), fresh in the host.
    Lists { apps: &'static [&'static str] },
    /// Legal but big: the correct result if it arrives within the timeout, else exactly
    /// the timeout error (which one depends on the machine's speed; both are right).
    ListsOrTimesOut { apps: &'static [&'static str] },
    /// Refused once the client has read past a cap, or the timeout error when the machine
    /// cannot stream that far within the 2 s (a loaded CI machine); both end in time.
    FailsOrTimesOut {
        words: &'static [&'static str],
        code: &'static str,
    },
}

const TIMEOUT_WORDS: &[&str] = &["did not answer within 2.0 s", "raise"];

struct Case {
    name: &'static str,
    inject: fn(&FakeArgo),
    expect: Expect,
}

/// The demo scenario's previews, as `list` sorts them.
const DEMO: &[&str] = &[
    "checkout-api-pr-45",
    "checkout-api-pr-51",
    "courses-fe-pr-123",
    "courses-fe-pr-130",
    "search-ui-pr-7",
    "search-ui-pr-8",
    "search-ui-pr-9",
];

fn on_list(fake: &FakeArgo, fault: Fault) {
    fake.add_fault(FaultRule::new(fault).on_path(LIST));
}

fn cases() -> Vec<Case> {
    use Expect::*;
    vec![
        Case {
            name: "401: the token expired",
            inject: |f| f.revoke_token(TOKEN),
            expect: Fails {
                words: &["401", "argocd login"],
                code: "argocd_unauthorized",
            },
        },
        Case {
            name: "403 with Argo CD's JSON body",
            inject: |f| on_list(f, Fault::ApiError(403)),
            expect: Fails {
                words: &["403", "permission denied", "RBAC"],
                code: "forbidden",
            },
        },
        Case {
            name: "404 from a proxy (wrong base path)",
            inject: |f| on_list(f, Fault::ServerError(404)),
            expect: Fails {
                words: &["answered 404", "path prefix"],
                code: "argocd_bad_response",
            },
        },
        Case {
            name: "500 with Argo CD's JSON body",
            inject: |f| on_list(f, Fault::ApiError(500)),
            expect: Fails {
                words: &["answered 500", "internal error", "retry later"],
                code: "argocd_bad_response",
            },
        },
        Case {
            name: "502 with an nginx HTML body",
            inject: |f| on_list(f, Fault::ServerError(502)),
            expect: Fails {
                words: &["answered 502", "Bad Gateway", "argocd-server logs"],
                code: "argocd_bad_response",
            },
        },
        Case {
            name: "no response until the timeout",
            inject: |f| on_list(f, Fault::Delay(Duration::from_secs(120))),
            expect: Fails {
                words: TIMEOUT_WORDS,
                code: "timeout",
            },
        },
        Case {
            name: "a body dripping one byte a second",
            inject: |f| on_list(f, Fault::Drip(Duration::from_secs(1))),
            expect: Fails {
                words: TIMEOUT_WORDS,
                code: "timeout",
            },
        },
        Case {
            name: "connection reset mid-body",
            inject: |f| on_list(f, Fault::ResetAfter(300)),
            expect: Fails {
                words: &["connection broke", "check the URL"],
                code: "argocd_unreachable",
            },
        },
        Case {
            name: "truncated JSON",
            inject: |f| on_list(f, Fault::Truncated),
            expect: Fails {
                words: &["truncated", "Argo CD API server"],
                code: "argocd_bad_response",
            },
        },
        Case {
            name: "wrong content type (the UI's HTML page)",
            inject: |f| on_list(f, Fault::WrongContentType),
            expect: Fails {
                words: &["HTML", "not its UI or a proxy login page"],
                code: "argocd_bad_response",
            },
        },
        Case {
            name: "200 MB: one endless item",
            inject: |f| on_list(f, Fault::HugeItem(200_000_000)),
            expect: FailsOrTimesOut {
                words: &["larger than 16 MiB", "check the server URL"],
                code: "argocd_bad_response",
            },
        },
        Case {
            // Streamed through the decoder; the 2 s timeout bounds how long it may take
            // (the test below gives it time and checks the memory).
            name: "200 MB: a huge but legal list",
            inject: |f| on_list(f, Fault::HugeList(200_000_000)),
            expect: ListsOrTimesOut { apps: DEMO },
        },
        Case {
            name: "items: null",
            inject: |f| on_list(f, Fault::NullItems),
            expect: Lists { apps: &[] },
        },
        Case {
            name: "every item twice (duplicate names)",
            inject: |f| on_list(f, Fault::DuplicateItems),
            expect: Lists { apps: DEMO },
        },
        Case {
            name: "unknown fields everywhere",
            inject: |f| {
                f.update_app("search-ui-pr-9", |app| {
                    app["futureField"] = json!({"nested": [1, {"x": null}]});
                    app["metadata"]["futureMeta"] = json!("v");
                    app["spec"]["futureSpec"] = json!([true]);
                    app["status"]["futureStatus"] = json!(42);
                    app["status"]["health"]["futureHealth"] = json!({});
                });
            },
            expect: Lists { apps: DEMO },
        },
        Case {
            name: "wrong types in optional fields",
            inject: |f| {
                f.update_app("search-ui-pr-9", |app| {
                    app["status"]["health"]["status"] = json!(5);
                    app["status"]["sync"]["status"] = json!(["Synced"]);
                    app["status"]["operationState"]["phase"] = json!({"Succeeded": true});
                    app["status"]["summary"] = json!({"externalURLs": "not-a-list"});
                    app["metadata"]["creationTimestamp"] = json!(1_700_000_000);
                });
            },
            expect: Lists { apps: DEMO },
        },
    ]
}

/// Puts the fake back: no faults, the token accepted, the demo apps as they were.
fn restore(fake: &FakeArgo, apps: &[Value]) {
    fake.clear_faults();
    fake.accept_token(TOKEN);
    fake.replace_apps(apps.to_vec());
}

fn app_names(previews: &Value) -> Vec<String> {
    previews
        .as_array()
        .unwrap_or_else(|| panic!("not a list of previews: {previews}"))
        .iter()
        .map(|p| p["app"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_through_list_ends_in_time_with_the_server_and_the_fix() {
    let (fake, server) = demo_server().await;
    let url = server.url();
    let apps = fake.apps();
    let sb = Sandbox::new();
    let env = [("ARGOCD_AUTH_TOKEN", TOKEN)];
    let args = ["list", "-o", "json", "--server", &url, "--timeout", TIMEOUT];
    let baseline = sb.run(&args, &env).await;
    assert_eq!(baseline.code, 0, "{baseline:#?}");
    assert_eq!(app_names(&baseline.json()), DEMO);
    crate::doc_counts::assert_doc_count("faults", cases().len());

    for case in cases() {
        (case.inject)(&fake);
        let run = sb.run(&args, &env).await;
        let expect = match case.expect {
            Expect::ListsOrTimesOut { apps } if run.code == 0 => Expect::Lists { apps },
            Expect::ListsOrTimesOut { .. } => Expect::Fails {
                words: TIMEOUT_WORDS,
                code: "timeout",
            },
            Expect::FailsOrTimesOut { .. } if run.stderr.contains(TIMEOUT_WORDS[0]) => {
                Expect::Fails {
                    words: TIMEOUT_WORDS,
                    code: "timeout",
                }
            }
            Expect::FailsOrTimesOut { words, code } => Expect::Fails { words, code },
            other => other,
        };
        match expect {
            Expect::Fails { words, .. } => {
                assert_eq!(run.code, 1, "{}: {run:#?}", case.name);
                let error = run
                    .stderr
                    .lines()
                    .find(|l| l.starts_with("error:"))
                    .unwrap_or_else(|| panic!("{}: no error line: {}", case.name, run.stderr));
                assert!(error.contains(&url), "{}: {error}", case.name);
                for w in words {
                    assert!(error.contains(w), "{}: {w:?} missing in {error}", case.name);
                }
                assert!(!error.contains("<html"), "{}: {error}", case.name);
                assert!(error.len() < 1000, "{}: one readable line", case.name);
            }
            Expect::Lists { apps: want } => {
                assert_eq!(run.code, 0, "{}: {run:#?}", case.name);
                assert_eq!(app_names(&run.json()), want, "{}", case.name);
            }
            Expect::ListsOrTimesOut { .. } | Expect::FailsOrTimesOut { .. } => {
                unreachable!("resolved above")
            }
        }
        restore(&fake, &apps);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_fault_in_host_mode_keeps_the_last_good_data_as_stale() {
    let (fake, server) = demo_server().await;
    let url = server.url();
    let apps = fake.apps();
    let sb = Sandbox::new();
    // The configured timeout comes from config.toml here (the flag is tested above).
    sb.write(
        ".config/preview-switch/config.toml",
        &format!(
            "[[servers]]\nname = \"dev\"\nurl = \"{url}\"\ntoken = \"{TOKEN}\"\ntimeout = \"{TIMEOUT}\"\n"
        ),
    );
    let mut host = HostProc::spawn(&sb, &["host"], &[]);
    host.send(json!({"id": 1, "type": "list"})).await;
    let good = host.reply(1).await;
    assert_eq!(good["type"], "list", "{good}");
    assert_eq!(app_names(&good["previews"]), DEMO);

    let mut id = 10;
    for case in cases() {
        (case.inject)(&fake);
        id += 1;
        host.send(json!({"id": id, "type": "refresh"})).await;
        let answer = host.reply(id).await;
        assert_eq!(answer["type"], "list", "{}: {answer}", case.name);
        let expect = match case.expect {
            Expect::ListsOrTimesOut { apps } if answer["failures"] == json!([]) => {
                Expect::Lists { apps }
            }
            Expect::ListsOrTimesOut { .. } => Expect::Fails {
                words: TIMEOUT_WORDS,
                code: "timeout",
            },
            Expect::FailsOrTimesOut { .. } if answer["failures"][0]["code"] == "timeout" => {
                Expect::Fails {
                    words: TIMEOUT_WORDS,
                    code: "timeout",
                }
            }
            Expect::FailsOrTimesOut { words, code } => Expect::Fails { words, code },
            other => other,
        };
        match expect {
            Expect::Fails { code, words } => {
                // The last good previews, marked stale, with the failure beside them.
                assert_eq!(app_names(&answer["previews"]), DEMO, "{}", case.name);
                assert_eq!(answer["stale"], true, "{}: {answer}", case.name);
                let failure = &answer["failures"][0];
                assert_eq!(failure["code"], code, "{}: {answer}", case.name);
                assert_eq!(failure["server"], url, "{}: {answer}", case.name);
                // The popup shows the message, then the fix: together they say what the
                // terminal's error line says, and the fix only once.
                let message = failure["message"].as_str().unwrap();
                let fix = failure["fix"].as_str().unwrap();
                assert!(
                    !fix.is_empty() && !message.contains(fix),
                    "{}: {answer}",
                    case.name
                );
                let shown = format!("{message}: {fix}");
                for w in words {
                    assert!(shown.contains(w), "{}: {w:?} in {shown}", case.name);
                }
                // A plain `list` afterwards serves the same kept data, still stale.
                id += 1;
                host.send(json!({"id": id, "type": "list"})).await;
                let kept = host.reply(id).await;
                assert_eq!(app_names(&kept["previews"]), DEMO, "{}", case.name);
                assert_eq!(kept["stale"], true, "{}", case.name);
            }
            Expect::Lists { apps: want } => {
                assert_eq!(app_names(&answer["previews"]), want, "{}", case.name);
                assert_eq!(answer["stale"], false, "{}: {answer}", case.name);
                assert_eq!(answer["failures"], json!([]), "{}", case.name);
            }
            Expect::ListsOrTimesOut { .. } | Expect::FailsOrTimesOut { .. } => {
                unreachable!("resolved above")
            }
        }
        restore(&fake, &apps);
        id += 1;
        host.assert_serving(id).await;
        // Back to good data before the next case, so each case starts from a fresh cache.
        id += 1;
        host.send(json!({"id": id, "type": "refresh"})).await;
        assert_eq!(
            app_names(&host.reply(id).await["previews"]),
            DEMO,
            "after {}",
            case.name
        );
    }
    assert_eq!(host.close().await, 0);
}

/// The watch answers with grpc-gateway's in-stream error object (the token expired
/// mid-watch): subscribers keep their previews, see the failure, and the host reopens the
/// watch and carries on once the server is healthy.
#[tokio::test(flavor = "multi_thread")]
async fn a_watch_answered_with_an_error_object_keeps_previews_and_recovers() {
    let (fake, server) = demo_server().await;
    let url = server.url();
    let sb = Sandbox::new();
    let env = [
        ("ARGOCD_SERVER", url.as_str()),
        ("ARGOCD_AUTH_TOKEN", TOKEN),
    ];
    fake.add_fault(
        FaultRule::new(Fault::StreamError {
            http_code: 401,
            message: "invalid session: token has expired".into(),
        })
        .on_path("/api/v1/stream/applications")
        .times(1),
    );
    let mut host = HostProc::spawn(&sb, &["host", "--timeout", TIMEOUT], &env);
    host.send(json!({"id": 1, "type": "list"})).await;
    assert_eq!(app_names(&host.reply(1).await["previews"]), DEMO);
    host.send(json!({"id": 2, "type": "subscribe"})).await;
    assert_eq!(host.reply(2).await["type"], "subscribed");

    // No preview is reported deleted because of the broken watch; a new one arrives once
    // the watch is reopened.
    let mut app = fake.app("search-ui-pr-7").unwrap();
    app["metadata"]["name"] = json!("search-ui-pr-88");
    app["metadata"]["labels"]["preview-switch.io/pr"] = json!("88");
    // Give the first (failing) watch time to be opened and answered before the change.
    tokio::time::sleep(Duration::from_millis(300)).await;
    fake.upsert_app(app);
    let mut added = false;
    for _ in 0..30 {
        let ev = host.recv_within(Duration::from_secs(15)).await;
        if ev["type"] != "previews_changed" {
            continue;
        }
        for c in ev["changes"].as_array().unwrap() {
            assert_ne!(
                c["change"], "deleted",
                "a broken watch deleted a preview: {ev}"
            );
            if c["change"] == "added" && c["preview"]["app"] == "search-ui-pr-88" {
                added = true;
            }
        }
        if added {
            break;
        }
    }
    assert!(added, "the reopened watch delivered the new preview");
    assert!(
        fake.request_count("/api/v1/stream/applications") >= 2,
        "the watch was reopened"
    );
    // The server's words from the error chunk, not the chunk's raw JSON.
    let log = host.log();
    assert!(
        log.contains("invalid session: token has expired") && !log.contains("grpc_code"),
        "{log}"
    );
    host.assert_serving(99).await;
    assert_eq!(host.close().await, 0);
}

/// Peak resident memory of a running process, sampled until it exits (Linux `/proc`).
async fn run_sampling_rss(mut cmd: tokio::process::Command) -> (std::process::Output, u64) {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn().expect("starts");
    let pid = child.id().expect("pid");
    let wait = tokio::spawn(child.wait_with_output());
    let mut peak_kb = 0u64;
    while !wait.is_finished() {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (wait.await.unwrap().unwrap(), peak_kb)
}

/// The 200 MB case's behaviour, decided: a legal list of any size is streamed through the
/// item decoder (never held whole), so given the time it lists correctly in bounded memory;
/// a single item over 16 MiB is refused (above); the timeout bounds the time (above).
#[tokio::test(flavor = "multi_thread")]
async fn a_200_mb_list_streams_through_in_bounded_memory() {
    let (fake, server) = demo_server().await;
    let url = server.url();
    let sb = Sandbox::new();
    fake.add_fault(
        FaultRule::new(Fault::HugeList(200_000_000))
            .on_path(LIST)
            .times(1),
    );
    let mut cmd = sb.cmd(&["list", "-o", "json", "--server", &url, "--timeout", "300s"]);
    cmd.env("ARGOCD_AUTH_TOKEN", TOKEN)
        .env("PREVIEW_SWITCH_LOG", "warn");
    let (out, peak_kb) = run_sampling_rss(cmd).await;
    let run = crate::support::Run::from(out);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(app_names(&run.json()), DEMO);
    assert!(
        peak_kb < 100 * 1024,
        "peak RSS {peak_kb} kB for a 200 MB body: the body was buffered"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_that_stalls_after_the_list_is_bounded_by_one_deadline_with_a_partial_result() {
    // The list answers, then every extra request (ApplicationSets, one app's owner
    // references, managed resources) hangs. The listing has one deadline, the configured
    // timeout: it must not add one timeout per batch of extra requests (four stalled phases
    // here), and what it already has is a correct partial result.
    let (fake, server) = demo_server().await;
    let url = server.url();
    for path in ["/api/v1/applications/*", "/api/v1/applicationsets"] {
        fake.add_fault(FaultRule::new(Fault::Delay(Duration::from_secs(120))).on_path(path));
    }
    let sb = Sandbox::new();
    // Longer than the table's 2 s: the list itself must fit in the deadline even on a
    // loaded machine, and the stalled phases then differ by whole timeouts.
    let started = std::time::Instant::now();
    let run = sb
        .run(
            &["list", "-o", "json", "--server", &url, "--timeout", "5s"],
            &[("ARGOCD_AUTH_TOKEN", TOKEN)],
        )
        .await;
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{run:#?}");
    let json = run.json();
    assert_eq!(app_names(&json), DEMO, "every preview is still listed");
    // The fault contract (issue 5): it ends within the configured timeout, plus the
    // process's own start and exit; one timeout per stalled phase took two timeouts or more.
    assert!(
        took < Duration::from_secs(8),
        "the listing took {took:?} with a 5 s timeout"
    );
    let stalled: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["unroutable"].as_str())
        .collect();
    assert!(
        !stalled.is_empty()
            && stalled
                .iter()
                .all(|why| why.contains("did not answer within 5.0 s")),
        "previews that needed their routing resources say why: {stalled:?}"
    );
}
