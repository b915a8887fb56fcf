//! The real binary as the browser launches it (argv[1] `chrome-extension://<id>/`), spoken
//! to in native-messaging frames over its stdin/stdout, against the fake Argo CD.

use serde_json::{Value, json};

use crate::support::{HostProc as Host, Sandbox, TOKEN, demo_server};

fn origin() -> String {
    format!("chrome-extension://{}/", companion::host::EXTENSION_ID)
}

#[tokio::test(flavor = "multi_thread")]
async fn hello_and_list_for_a_host_from_the_fake_argo_cd() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let url = server.url();
    let mut host = Host::spawn(
        &sb,
        &[&origin()],
        &[("ARGOCD_SERVER", &url), ("ARGOCD_AUTH_TOKEN", TOKEN)],
    );
    host.send(json!({"id": 1, "type": "hello", "protocol": 1, "extension_version": "0.1.0"}))
        .await;
    let hello = host.reply(1).await;
    assert_eq!(hello["type"], "hello", "{hello}");
    assert_eq!(hello["protocol"], 1);

    host.send(json!({"id": 2, "type": "list", "host": "courses-fe.demo.test"}))
        .await;
    let list = host.reply(2).await;
    assert_eq!(list["type"], "list", "{list}");
    let previews = list["previews"].as_array().unwrap();
    let apps: Vec<&str> = previews
        .iter()
        .map(|p| p["app"].as_str().unwrap())
        .collect();
    assert_eq!(apps, ["courses-fe-pr-123", "courses-fe-pr-130"], "{list}");
    assert_eq!(list["stale"], false);

    host.send(json!({"id": 3, "type": "refresh"})).await;
    let refreshed = host.reply(3).await;
    assert_ne!(refreshed["type"], "error", "{refreshed}");
    assert_eq!(host.close().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_process_answers_from_the_disk_cache_when_argo_cd_is_gone() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let url = server.url();
    let env = [
        ("ARGOCD_SERVER", url.as_str()),
        ("ARGOCD_AUTH_TOKEN", TOKEN),
    ];
    let mut first = Host::spawn(&sb, &[&origin()], &env);
    first.send(json!({"id": 1, "type": "list"})).await;
    let fresh = first.reply(1).await;
    assert_eq!(first.close().await, 0);
    server.shutdown().await;

    let mut second = Host::spawn(&sb, &[&origin()], &env);
    second.send(json!({"id": 1, "type": "list"})).await;
    let cached = second.reply(1).await;
    assert_eq!(cached["type"], "list", "{cached}");
    assert_eq!(cached["previews"], fresh["previews"]);
    // Its age counts from the first process's fetch, not from this process's start.
    let age = cached["age_ms"].as_u64().unwrap();
    assert!(age >= fresh["age_ms"].as_u64().unwrap(), "{cached}");
    assert_eq!(cached["stale"], age > 10_000, "{cached}");
    let cache_files: Vec<_> = std::fs::read_dir(sb.home().join("cache"))
        .unwrap()
        .collect();
    for f in cache_files {
        let path = f.unwrap().path();
        assert!(
            !std::fs::read_to_string(&path)
                .unwrap_or_default()
                .contains(TOKEN)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o077,
                0,
                "{path:?}"
            );
        }
    }
    second.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_pushes_added_and_deleted_previews() {
    let (state, server) = demo_server().await;
    let sb = Sandbox::new();
    let url = server.url();
    let mut host = Host::spawn(
        &sb,
        &[&origin()],
        &[("ARGOCD_SERVER", &url), ("ARGOCD_AUTH_TOKEN", TOKEN)],
    );
    host.send(json!({"id": 1, "type": "list"})).await;
    host.reply(1).await;
    host.send(json!({"id": 2, "type": "subscribe"})).await;
    assert_eq!(host.reply(2).await["type"], "subscribed");

    let mut app = state.app("search-ui-pr-7").unwrap();
    app["metadata"]["name"] = json!("search-ui-pr-77");
    app["metadata"]["labels"]["preview-switch.io/pr"] = json!("77");
    state.upsert_app(app);
    let added = wait_change(&mut host, "added", "search-ui-pr-77").await;
    assert_eq!(added["preview"]["pr"], 77);

    assert!(state.remove_app("search-ui-pr-77"));
    wait_change(&mut host, "deleted", "search-ui-pr-77").await;
    host.close().await;
}

/// `managed-resources` requests the fake has answered so far.
fn managed_resource_calls(state: &fake_argocd::FakeArgo) -> u64 {
    state.request_count_ending("/managed-resources")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relist_reads_the_routing_resources_of_changed_previews_only() {
    // Routes found only by discovery: every preview costs a managed-resources read, unless
    // the host knows its Application did not change since its routes were read (compared
    // as listed: Argo CD's projected list carries no item resourceVersion).
    let scenario = fake_argocd::Scenario::at_scale(80, 20);
    let state = scenario.fake();
    let server = fake_argocd::serve(state.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let sb = Sandbox::new();
    let url = server.url();
    let mut host = Host::spawn(
        &sb,
        &[&origin()],
        &[("ARGOCD_SERVER", &url), ("ARGOCD_AUTH_TOKEN", TOKEN)],
    );
    host.send(json!({"id": 1, "type": "list"})).await;
    let first = host.reply(1).await;
    assert_eq!(first["previews"].as_array().unwrap().len(), 20, "{first}");
    assert_eq!(managed_resource_calls(&state), 20);
    host.send(json!({"id": 2, "type": "subscribe"})).await;
    assert_eq!(host.reply(2).await["type"], "subscribed");

    // Refresh until one reads nothing (the first listing already remembers every route).
    let mut id = 3;
    let mut settled = false;
    for _ in 0..20 {
        let before = managed_resource_calls(&state);
        host.send(json!({"id": id, "type": "refresh"})).await;
        assert_eq!(host.reply(id).await["type"], "list");
        id += 1;
        if managed_resource_calls(&state) == before {
            settled = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(settled, "every refresh read managed resources again");

    // A second refresh with no app changes reads no routing resource.
    let before = managed_resource_calls(&state);
    host.send(json!({"id": id, "type": "refresh"})).await;
    let again = host.reply(id).await;
    assert_eq!(again["previews"], first["previews"]);
    assert_eq!(managed_resource_calls(&state), before);

    // One preview changes: the watch reports it, the re-list reads its resources alone.
    let changed = scenario.routes[7].app.clone();
    let path = format!("/api/v1/applications/{changed}/managed-resources");
    let read_before = state.request_count(&path);
    // Progressing, not Degraded: a Degraded preview is also inspected for a paused
    // Rollout (its notification), a read of its own that this count is not about.
    state.update_app(&changed, |app| {
        app["status"]["health"]["status"] = json!("Progressing");
    });
    let change = wait_change(&mut host, "modified", &changed).await;
    assert_eq!(change["preview"]["health"], "Progressing");
    assert_eq!(
        change["preview"]["routes"][0]["value"],
        scenario.routes[7].pr.to_string()
    );
    assert_eq!(managed_resource_calls(&state), before + 1);
    assert_eq!(state.request_count(&path), read_before + 1);

    // A reconcile moves `status.reconciledAt` (and the resourceVersion) only: no re-list.
    // The next real change shows it: its one re-list is the only one.
    state.reset_requests();
    state.update_app(&scenario.routes[2].app, |app| {
        app["status"]["reconciledAt"] = json!("2026-11-22T10:03:00Z");
    });
    let next = scenario.routes[5].app.clone();
    state.update_app(&next, |app| {
        app["status"]["health"]["status"] = json!("Progressing");
    });
    wait_change(&mut host, "modified", &next).await;
    let lists = state.selector_lists();
    assert_eq!(lists, 1, "{:#?}", state.requests());
    // Only the changed preview's routes are read again: the reconciled one is listed as it
    // was (its resourceVersion is not part of what the listing reads).
    assert_eq!(managed_resource_calls(&state), 1);
    host.close().await;
}

async fn wait_change(host: &mut Host, kind: &str, app: &str) -> Value {
    for _ in 0..20 {
        let ev = host.recv().await;
        if ev["type"] == "previews_changed"
            && let Some(c) = ev["changes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["change"] == kind && c["preview"]["app"] == app)
        {
            return c.clone();
        }
    }
    panic!("no {kind} event for {app}");
}

#[tokio::test(flavor = "multi_thread")]
async fn refuses_other_extensions_and_survives_bad_frames() {
    let sb = Sandbox::new();
    let env = [
        ("ARGOCD_SERVER", "http://127.0.0.1:9"),
        ("ARGOCD_AUTH_TOKEN", TOKEN),
    ];
    let mut other = Host::spawn(
        &sb,
        &["chrome-extension://pppppppppppppppppppppppppppppppp/"],
        &env,
    );
    other.send(json!({"id": 1, "type": "list"})).await;
    let refused = other.reply(1).await;
    assert_eq!(refused["code"], "origin_not_allowed", "{refused}");
    other.close().await;

    // Finding 7: the origin is checked before the config is read, so another extension
    // cannot make the host run the user's token_command (here, one that leaves a marker).
    let marker = sb.home().join("token-command-ran");
    sb.write(
        ".config/preview-switch/config.toml",
        &format!(
            "[[servers]]\nname = \"dev\"\nurl = \"http://127.0.0.1:9\"\ntoken_command = \"touch '{}'; echo t\"\n",
            marker.display()
        ),
    );
    let mut other = Host::spawn(
        &sb,
        &["chrome-extension://pppppppppppppppppppppppppppppppp/"],
        &[],
    );
    for (id, kind) in [(2, "hello"), (3, "list"), (4, "refresh")] {
        other
            .send(json!({"id": id, "type": kind, "protocol": 1}))
            .await;
        assert_eq!(other.reply(id).await["code"], "origin_not_allowed");
    }
    other.close().await;
    assert!(!marker.exists(), "a refused origin ran the token_command");
    // The same config for the allowed extension does run it: the marker test can fail.
    let mut ours = Host::spawn(&sb, &[&origin()], &[]);
    ours.send(json!({"id": 5, "type": "list"})).await;
    ours.reply(5).await;
    ours.close().await;
    assert!(
        marker.exists(),
        "the allowed extension's host never ran the token_command"
    );
    std::fs::remove_file(sb.home().join(".config/preview-switch/config.toml")).unwrap();

    let mut host = Host::spawn(&sb, &[&origin()], &env);
    // An inbound frame over 1 MiB is skipped with an error; the stream stays in sync.
    let big = vec![b' '; 2 * 1024 * 1024];
    let mut frame = (big.len() as u32).to_ne_bytes().to_vec();
    frame.extend(&big);
    host.send_raw(&frame).await;
    assert_eq!(host.recv().await["code"], "frame_too_large");
    host.send_raw(&[5, 0, 0, 0, b'{', b'"', 0xff, b'"', b'}'])
        .await;
    assert_eq!(host.recv().await["code"], "bad_json");
    host.send(json!({"id": 3, "type": "launch-missiles"})).await;
    assert_eq!(host.reply(3).await["code"], "unknown_type");
    host.send(json!({"id": 4, "type": "hello", "protocol": 1, "extension_version": "0.1.0"}))
        .await;
    assert_eq!(host.reply(4).await["type"], "hello");
    assert_eq!(host.close().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_config_is_answered_with_its_fix_not_a_dead_host() {
    let sb = Sandbox::new();
    let mut host = Host::spawn(&sb, &[&origin()], &[]);
    host.send(json!({"id": 1, "type": "list"})).await;
    let err = host.reply(1).await;
    assert_eq!(err["code"], "config", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .starts_with("no Argo CD server configured"),
        "{err}"
    );
    // No flags in the popup: the browser started the host.
    let fix = err["fix"].as_str().unwrap();
    assert!(
        fix.contains("argocd login")
            && fix.contains("preview-switch doctor")
            && !fix.contains("--"),
        "{err}"
    );
    host.send(json!({"id": 2, "type": "hello", "protocol": 1, "extension_version": "0.1.0"}))
        .await;
    assert_eq!(host.reply(2).await["type"], "hello");
    assert_eq!(host.close().await, 0);
}

/// Malformed input to the real binary: each is answered with its documented error code (or
/// a clean exit where the stream cannot continue), and the host keeps serving after it.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_frames_table_on_the_real_binary() {
    let frame = |body: &[u8]| {
        let mut f = (body.len() as u32).to_ne_bytes().to_vec();
        f.extend(body);
        f
    };
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "invalid UTF-8",
            frame(b"{\"id\":1,\"type\":\"\xff\"}"),
            "bad_json",
        ),
        ("not JSON", frame(b"hello"), "bad_json"),
        ("truncated JSON", frame(b"{\"id\":1,"), "bad_json"),
        ("JSON array", frame(b"[1,2]"), "bad_request"),
        ("JSON string", frame(b"\"list\""), "bad_request"),
        ("JSON null", frame(b"null"), "bad_request"),
        ("JSON number", frame(b"42"), "bad_request"),
        ("empty object", frame(b"{}"), "bad_request"),
        ("missing id", frame(b"{\"type\":\"list\"}"), "bad_request"),
        ("missing type", frame(b"{\"id\":1}"), "bad_request"),
        (
            "string id",
            frame(b"{\"id\":\"1\",\"type\":\"list\"}"),
            "bad_request",
        ),
        (
            "negative id",
            frame(b"{\"id\":-1,\"type\":\"list\"}"),
            "bad_request",
        ),
        (
            "huge id",
            frame(b"{\"id\":1e400,\"type\":\"list\"}"),
            "bad_json",
        ),
        (
            "numeric type",
            frame(b"{\"id\":1,\"type\":7}"),
            "bad_request",
        ),
        (
            "unknown type",
            frame(b"{\"id\":1,\"type\":\"rm -rf\"}"),
            "unknown_type",
        ),
        (
            "host of wrong type",
            frame(b"{\"id\":1,\"type\":\"list\",\"host\":[\"a\"]}"),
            "bad_request",
        ),
        (
            "cursor of wrong type",
            frame(b"{\"id\":1,\"type\":\"list\",\"cursor\":{}}"),
            "bad_request",
        ),
        ("deeply nested", frame(deep.as_bytes()), "bad_json"),
        ("zero length", frame(b""), "bad_json"),
        (
            "over the 1 MiB cap",
            frame(&vec![b'x'; 1024 * 1024 + 1]),
            "frame_too_large",
        ),
        ("NUL bytes", frame(b"\0\0\0\0"), "bad_json"),
    ];
    assert!(cases.len() >= 20);
    let sb = Sandbox::new();
    let env = [
        ("ARGOCD_SERVER", "http://127.0.0.1:9"),
        ("ARGOCD_AUTH_TOKEN", TOKEN),
    ];
    let mut host = Host::spawn(&sb, &[&origin()], &env);
    for (i, (what, bytes, code)) in cases.iter().enumerate() {
        host.send_raw(bytes).await;
        let answer = host.recv().await;
        assert_eq!(answer["type"], "error", "{what}: {answer}");
        assert_eq!(answer["code"], *code, "{what}: {answer}");
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
        // Still in sync and serving after each one.
        let id = 1000 + i as u64;
        host.send(json!({"id": id, "type": "hello", "protocol": 1, "extension_version": "0.1.0"}))
            .await;
        assert_eq!(host.reply(id).await["type"], "hello", "after {what}");
    }
    // A truncated header or body is the browser going away: a clean exit 0.
    host.send_raw(&[10, 0, 0, 0, b'{']).await;
    assert_eq!(host.close().await, 0);
    let mut h2 = Host::spawn(&sb, &[&origin()], &env);
    h2.send_raw(&[3, 0]).await;
    assert_eq!(h2.close().await, 0);
}

/// Issue 11 §6/§7: the host serves exactly whom `install` registered it for: the id given
/// to `install --extension-id` (it used to refuse it), the shipped Firefox add-on id, and
/// no other Firefox add-on.
#[tokio::test(flavor = "multi_thread")]
async fn serves_exactly_the_extensions_install_registered() {
    let sb = Sandbox::new();
    let env = [
        ("ARGOCD_SERVER", "http://127.0.0.1:9"),
        ("ARGOCD_AUTH_TOKEN", TOKEN),
    ];
    let id = "abcdefghijklmnopabcdefghijklmnop";
    let hello = json!({"id": 1, "type": "hello", "protocol": 1});
    let mut before = Host::spawn(&sb, &[&format!("chrome-extension://{id}/")], &env);
    before.send(hello.clone()).await;
    assert_eq!(before.reply(1).await["code"], "origin_not_allowed");
    before.close().await;

    for browser in ["chromium", "firefox"] {
        let extra: &[&str] = if browser == "chromium" {
            &["--extension-id", id]
        } else {
            &[]
        };
        let run = sb
            .run(
                &[&["install", "--browser", browser][..], extra].concat(),
                &[],
            )
            .await;
        assert_eq!(run.code, 0, "{run:#?}");
    }
    let firefox_manifest = sb
        .home()
        .join(".mozilla/native-messaging-hosts/io.previewswitch.companion.json");
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&firefox_manifest).unwrap()).unwrap();
    assert_eq!(
        manifest["allowed_extensions"],
        json!([protocol::ids::FIREFOX_EXTENSION_ID])
    );

    let mut chrome = Host::spawn(&sb, &[&format!("chrome-extension://{id}/")], &env);
    chrome.send(hello.clone()).await;
    assert_eq!(
        chrome.reply(1).await["type"],
        "hello",
        "the id it was installed for"
    );
    chrome.close().await;

    let manifest_arg = firefox_manifest.to_str().unwrap();
    for (addon, served) in [
        (protocol::ids::FIREFOX_EXTENSION_ID, true),
        ("preview-switch@example.com", false),
        (id, false),
    ] {
        let mut host = Host::spawn(&sb, &[manifest_arg, addon], &env);
        host.send(hello.clone()).await;
        let reply = host.reply(1).await;
        if served {
            assert_eq!(reply["type"], "hello", "{addon}: {reply}");
        } else {
            assert_eq!(reply["code"], "origin_not_allowed", "{addon}: {reply}");
        }
        host.close().await;
    }
}
