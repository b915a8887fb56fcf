//! Hostile input to the real binary in host mode: Argo CD data crafted to smuggle cookie
//! attributes, bad names, values and hosts, or odd PR numbers; and requests from the
//! extension side with wildcard, range and URL host filters, unconfigured servers, bogus
//! cursors and oversized or deeply nested frames. Each is refused with a clear reason (an
//! `unroutable` text or an error answer) and nothing routable comes of it; the host keeps
//! serving and its answer for good data is unchanged afterwards.

use serde_json::{Value, json};

use crate::support::{HostProc, Sandbox, TOKEN, demo_server, frame};

/// Annotation sets that must never become a route: (what, cookie, cookie-value, hosts).
fn hostile_annotations() -> Vec<(&'static str, String, Option<String>, &'static str)> {
    let v = |s: &str| Some(s.to_owned());
    vec![
        ("name with ;", "a;b".into(), None, "x.demo.test"),
        ("name with =", "a=b".into(), None, "x.demo.test"),
        ("name with a space", "a b".into(), None, "x.demo.test"),
        (
            "name with CR/LF (header injection)",
            "a\r\nSet-Cookie: x=1".into(),
            None,
            "x.demo.test",
        ),
        ("name with NUL", "a\0b".into(), None, "x.demo.test"),
        ("non-ASCII name", "cöokie".into(), None, "x.demo.test"),
        (
            "attributes smuggled in the name",
            "x=1; Domain=evil.test".into(),
            None,
            "x.demo.test",
        ),
        (
            "attributes smuggled in the value",
            "team-x-pr".into(),
            v("1; Domain=evil.test; Path=/"),
            "x.demo.test",
        ),
        (
            "value with CR/LF",
            "team-x-pr".into(),
            v("1\r\nX: y"),
            "x.demo.test",
        ),
        (
            "value with NUL",
            "team-x-pr".into(),
            v("1\0x"),
            "x.demo.test",
        ),
        ("non-ASCII value", "team-x-pr".into(), v("ü"), "x.demo.test"),
        (
            "value with a space",
            "team-x-pr".into(),
            v("1 2"),
            "x.demo.test",
        ),
        (
            "value over 4 KB",
            "team-x-pr".into(),
            Some("a".repeat(5000)),
            "x.demo.test",
        ),
        ("host *", "team-x-pr".into(), None, "*"),
        ("host *.com", "team-x-pr".into(), None, "*.com"),
        (
            "host range 10.0.0.0/8",
            "team-x-pr".into(),
            None,
            "10.0.0.0/8",
        ),
        (
            "host range a-b",
            "team-x-pr".into(),
            None,
            "192.168.0.1-192.168.0.9",
        ),
        (
            "host as a URL",
            "team-x-pr".into(),
            None,
            "https://evil.test/",
        ),
        (
            "host with a port",
            "team-x-pr".into(),
            None,
            "evil.test:8443",
        ),
        ("non-ASCII host", "team-x-pr".into(), None, "évil.test"),
        ("public suffix host", "team-x-pr".into(), None, "github.io"),
        (
            "a suffix only the whole Public Suffix List knows",
            "team-x-pr".into(),
            None,
            "blogspot.com",
        ),
        (
            "reserved __Host- cookie name",
            "__Host-x".into(),
            None,
            "x.demo.test",
        ),
        (
            "reserved __Secure- cookie name",
            "__Secure-pr".into(),
            None,
            "x.demo.test",
        ),
        ("IPv4 in hex notation", "team-x-pr".into(), None, "0x7f.1"),
        ("IPv6 literal", "team-x-pr".into(), None, "[::1]"),
        (
            "65 hosts, one over the cap",
            "team-x-pr".into(),
            None,
            HOSTS_OVER_THE_CAP,
        ),
    ]
}

/// 65 distinct hosts: one more than a route may have.
const HOSTS_OVER_THE_CAP: &str = "h0.demo.test,h1.demo.test,h2.demo.test,h3.demo.test,h4.demo.test,h5.demo.test,h6.demo.test,h7.demo.test,h8.demo.test,h9.demo.test,h10.demo.test,h11.demo.test,h12.demo.test,h13.demo.test,h14.demo.test,h15.demo.test,h16.demo.test,h17.demo.test,h18.demo.test,h19.demo.test,h20.demo.test,h21.demo.test,h22.demo.test,h23.demo.test,h24.demo.test,h25.demo.test,h26.demo.test,h27.demo.test,h28.demo.test,h29.demo.test,h30.demo.test,h31.demo.test,h32.demo.test,h33.demo.test,h34.demo.test,h35.demo.test,h36.demo.test,h37.demo.test,h38.demo.test,h39.demo.test,h40.demo.test,h41.demo.test,h42.demo.test,h43.demo.test,h44.demo.test,h45.demo.test,h46.demo.test,h47.demo.test,h48.demo.test,h49.demo.test,h50.demo.test,h51.demo.test,h52.demo.test,h53.demo.test,h54.demo.test,h55.demo.test,h56.demo.test,h57.demo.test,h58.demo.test,h59.demo.test,h60.demo.test,h61.demo.test,h62.demo.test,h63.demo.test,h64.demo.test";

/// PR labels that are not a PR number (the app names carry no `-pr-N` either).
const HOSTILE_PRS: &[&str] = &[
    "-1",
    "99999999999999999999999",
    "12a",
    "0x10",
    "１２",
    "1e3",
    "",
];

/// A demo Application turned into `name` with the given annotations and labels.
fn variant(base: &Value, name: &str, pr_label: Option<&str>, annotations: Value) -> Value {
    let mut app = base.clone();
    app["metadata"]["name"] = json!(name);
    app["metadata"]["annotations"] = annotations;
    let labels = app["metadata"]["labels"].as_object_mut().unwrap();
    labels.remove("preview-switch.io/pr");
    labels.remove("preview-switch.io/service");
    if let Some(pr) = pr_label {
        labels.insert("preview-switch.io/pr".into(), json!(pr));
    }
    // No other PR source: no Helm values.
    app["spec"]["source"]["helm"] = Value::Null;
    app
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_argo_cd_data_and_requests_are_refused_and_the_host_keeps_serving() {
    let (fake, server) = demo_server().await;
    let url = server.url();
    let base = fake.app("search-ui-pr-9").expect("demo app");
    let attacks = hostile_annotations();
    crate::doc_counts::assert_doc_count("crafted annotation sets", attacks.len());
    crate::doc_counts::assert_doc_count("PR labels", HOSTILE_PRS.len());
    for (i, (_, cookie, value, hosts)) in attacks.iter().enumerate() {
        let mut ann = json!({
            "preview-switch.io/cookie": cookie,
            "preview-switch.io/hosts": hosts,
        });
        if let Some(v) = value {
            ann["preview-switch.io/cookie-value"] = json!(v);
        }
        fake.upsert_app(variant(
            &base,
            &format!("evil{i}-pr-{}", 500 + i),
            None,
            ann,
        ));
    }
    for (i, pr) in HOSTILE_PRS.iter().enumerate() {
        fake.upsert_app(variant(&base, &format!("badpr{i}"), Some(pr), json!({})));
    }

    let sb = Sandbox::new();
    let env = [
        ("ARGOCD_SERVER", url.as_str()),
        ("ARGOCD_AUTH_TOKEN", TOKEN),
    ];
    let mut host = HostProc::spawn(&sb, &["host", "--timeout", "5s"], &env);
    host.send(json!({"id": 1, "type": "list"})).await;
    let listed = host.reply(1).await;
    assert_eq!(listed["type"], "list", "{listed}");
    let previews = listed["previews"].as_array().unwrap();

    // 1. Crafted annotations: listed, but unroutable with the reason and the annotation.
    for (i, (what, ..)) in attacks.iter().enumerate() {
        let name = format!("evil{i}-pr-{}", 500 + i);
        let p = previews
            .iter()
            .find(|p| p["app"] == name)
            .unwrap_or_else(|| panic!("{what}: {name} not listed"));
        assert_eq!(p["routes"], json!([]), "{what}: a route came of it: {p}");
        let why = p["unroutable"].as_str().unwrap_or_default();
        assert!(
            why.contains("fix the annotation preview-switch.io/"),
            "{what}: {why}"
        );
        assert!(
            !why.contains('\r') && !why.contains('\0'),
            "{what}: {why:?}"
        );
    }
    // 2. PR labels that are no number: not a preview at all.
    for (i, pr) in HOSTILE_PRS.iter().enumerate() {
        let name = format!("badpr{i}");
        assert!(
            previews.iter().all(|p| p["app"] != name),
            "PR label {pr:?} made a preview"
        );
    }
    // Nothing anywhere routes to a host the data did not name exactly.
    for p in previews {
        for r in p["routes"].as_array().unwrap() {
            for h in r["hosts"].as_array().unwrap() {
                let h = h.as_str().unwrap();
                assert!(h.ends_with(".demo.test"), "{h} in {p}");
            }
        }
    }

    // 3. Requests: host filters that are not one exact host name.
    let bad_hosts = [
        "*",
        "*.com",
        "10.0.0.0/8",
        "https://courses-fe.demo.test/",
        "courses-fe.demo.test:443",
        "courses-fe.demo.test\r\nx: y",
        "courses-fe.demo.test\0",
        "cöurses.demo.test",
        &"a".repeat(5000),
    ];
    crate::doc_counts::assert_doc_count("host filter requests", bad_hosts.len() * 2);
    let mut id = 100;
    for h in bad_hosts {
        for kind in ["list", "refresh"] {
            id += 1;
            host.send(json!({"id": id, "type": kind, "host": h})).await;
            let answer = host.reply(id).await;
            assert_eq!(answer["type"], "error", "{kind} {h:?}: {answer}");
            assert_eq!(answer["code"], "bad_request", "{kind} {h:?}: {answer}");
            let message = answer["message"].as_str().unwrap();
            assert!(message.contains("host filter"), "{message}");
            assert!(message.len() < 600, "a bounded message: {message}");
        }
    }
    // A valid host the companion never listed: answered, with nothing to route.
    id += 1;
    host.send(json!({"id": id, "type": "list", "host": "bank.example.com"}))
        .await;
    let none = host.reply(id).await;
    assert_eq!(none["previews"], json!([]), "{none}");

    // 4. A request naming a server that is not configured: the extra fields are ignored
    // and only the configured server's data comes back.
    id += 1;
    host.send(
        json!({"id": id, "type": "list", "server": "https://evil.test",
        "context": "evil", "url": "https://evil.test"}),
    )
    .await;
    let answer = host.reply(id).await;
    assert_eq!(answer["previews"], listed["previews"], "{answer}");
    id += 1;
    host.send(json!({"id": id, "type": "hello", "protocol": 1, "servers": [{"url": "https://evil.test"}]}))
        .await;
    let hello = host.reply(id).await;
    assert_eq!(hello["servers"].as_array().unwrap().len(), 1, "{hello}");
    assert_eq!(hello["servers"][0]["url"], url, "{hello}");

    // 5. Cursors that were never handed out.
    for cursor in ["0-0", "../../etc/passwd", "99999999999999999999-1", "-1--1"] {
        id += 1;
        host.send(json!({"id": id, "type": "list", "cursor": cursor}))
            .await;
        let answer = host.reply(id).await;
        assert_eq!(answer["code"], "cursor_expired", "{cursor}: {answer}");
    }

    // 6. Frames: oversized, deeply nested objects, a huge string field.
    host.send_raw(&frame(&vec![b'{'; 1024 * 1024 + 1])).await;
    assert_eq!(host.recv().await["code"], "frame_too_large");
    let deep = format!("{}{}", "{\"a\":".repeat(50_000), "}".repeat(50_000));
    host.send_raw(&frame(deep.as_bytes())).await;
    assert_eq!(host.recv().await["code"], "bad_json");
    id += 1;
    let big = json!({"id": id, "type": "hello", "protocol": 1, "extension_version": "v".repeat(1_000_000)});
    host.send(big).await;
    assert_eq!(host.reply(id).await["type"], "hello");

    // Still serving, and the data is what it was before all of this.
    id += 1;
    host.send(json!({"id": id, "type": "list"})).await;
    let after = host.reply(id).await;
    assert_eq!(after["previews"], listed["previews"]);
    assert_eq!(host.close().await, 0);
}

/// Another local user: files that hold the token (config.toml, a token_file, the argocd
/// CLI config) are flagged by `doctor` when others can read them, and no output of `doctor`
/// carries the token; the cache the host writes is private (the Sandbox checks 0600 on
/// drop, and scans every file for the token).
#[tokio::test(flavor = "multi_thread")]
async fn doctor_flags_token_files_other_users_can_read_and_the_cache_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_fake, server) = demo_server().await;
    let url = server.url();
    let hostport = url.trim_start_matches("http://").to_owned();
    let sb = Sandbox::new();
    let token_file = sb.write("secrets/dev.token", &format!("{TOKEN}\n"));
    let config = sb.write(
        ".config/preview-switch/config.toml",
        &format!(
            "[[servers]]\nname = \"dev\"\nurl = \"{url}\"\ntoken_file = \"{}\"\n",
            token_file.display()
        ),
    );
    let cli = sb.write(
        ".config/argocd/config",
        &format!(
            "contexts:\n- name: demo\n  server: {hostport}\n  user: u\ncurrent-context: demo\n\
             servers:\n- plain-text: true\n  server: {hostport}\nusers:\n- auth-token: {TOKEN}\n  name: u\n"
        ),
    );
    let chmod = |mode| {
        for f in [&token_file, &config, &cli] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    };
    chmod(0o644);
    let open = sb.run(&["doctor"], &[]).await;
    let all = format!("{}{}", open.stdout, open.stderr);
    for f in [&token_file, &config, &cli] {
        assert!(
            all.contains(&format!("chmod 600 {}", f.display())),
            "no warning for {f:?}: {all}"
        );
    }
    chmod(0o600);
    let closed = sb.run(&["doctor"], &[]).await;
    let all = format!("{}{}", closed.stdout, closed.stderr);
    assert!(!all.contains("chmod 600"), "{all}");
    assert!(!all.contains("can be read by other users"), "{all}");

    // The host's cache, written from this config, is private and token-free.
    let mut host = HostProc::spawn(&sb, &["host"], &[]);
    host.send(json!({"id": 1, "type": "list"})).await;
    assert_eq!(host.reply(1).await["type"], "list");
    assert_eq!(host.close().await, 0);
    let cached: Vec<_> = sb
        .files()
        .into_iter()
        .filter(|p| p.starts_with(sb.home().join("cache")))
        .collect();
    assert!(!cached.is_empty(), "the host wrote a cache");
    // Its log is there too (trace level), so the scan below reads every log line.
    assert!(
        sb.files().iter().any(|p| p.ends_with("host.log")),
        "{:?}",
        sb.files()
    );
    sb.assert_hygiene();
}

/// Panic and error messages: everything that holds a token formats it as `****`, so no
/// panic message (which prints a value's Debug) and no error can show it.
#[test]
fn no_debug_or_error_text_shows_the_token() {
    let target = companion::server::ServerTarget {
        name: "dev".into(),
        url: "https://argocd.test".parse().unwrap(),
        token: companion::token::Token::new(TOKEN),
        selector: "type=pr".into(),
        ca_cert: None,
        insecure: false,
        connect_timeout: std::time::Duration::from_secs(1),
        timeout: std::time::Duration::from_secs(1),
        route_template: None,
        origin: "flag".into(),
    };
    let client = companion::argocd::client::Client::new(&target).unwrap();
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        panic!("{target:?} {client:?} {target:#?}")
    }))
    .expect_err("it panicked");
    let message = payload.downcast_ref::<String>().unwrap();
    assert!(message.contains("****"), "{message}");
    crate::support::assert_no_secret_in("a panic message", message);
}

/// Finding 2: a server, or a proxy in front of it, that echoes the request's
/// `Authorization` header into its error body. Through every path that turns a server's
/// words into an error (the list's 401 and 500, per-application calls, the watch's in-stream
/// error, `doctor`), the token reaches no frame, cache file, log line or output: the
/// support scans every frame as it is read, the host's stderr when it closes, stdout and
/// stderr of every run, and every file in the sandbox when it is dropped. Each step also
/// checks the echo arrived, redacted, so the scan is not vacuous.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_echoing_the_token_never_gets_it_into_frames_cache_logs_or_output() {
    use fake_argocd::{Fault, FaultRule};
    let (fake, server) = demo_server().await;
    let url = server.url();
    let sb = Sandbox::new();
    let env = [
        ("ARGOCD_SERVER", url.as_str()),
        ("ARGOCD_AUTH_TOKEN", TOKEN),
    ];
    let echo = |code, path: &str| FaultRule::new(Fault::EchoAuthorization(code)).on_path(path);
    const REDACTED: &str = "Authorization: Bearer ****";

    // The CLI: `list` with a 401 and a 500 that quote the header.
    for code in [401, 500] {
        fake.add_fault(echo(code, "/api/v1/applications").times(1));
        let run = sb.run(&["list"], &env).await;
        assert_ne!(run.code, 0, "{run:?}");
        assert!(run.stderr.contains(REDACTED), "{code}: {}", run.stderr);
    }
    // `doctor`: the token check's 401.
    fake.add_fault(echo(401, "/api/v1/session/userinfo").times(1));
    let run = sb.run(&["doctor"], &env).await;
    assert!(
        format!("{}{}", run.stdout, run.stderr).contains(REDACTED),
        "{run:?}"
    );

    // Host mode: the list's 401 becomes the error frame (and the log line).
    let mut host = HostProc::spawn(&sb, &["host", "--timeout", "5s"], &env);
    fake.add_fault(echo(401, "/api/v1/applications").times(1));
    host.send(json!({"id": 1, "type": "list"})).await;
    let answer = host.reply(1).await;
    assert_eq!(answer["code"], "argocd_unauthorized", "{answer}");
    assert!(
        answer["message"].as_str().unwrap().contains(REDACTED),
        "{answer}"
    );
    // Per-application calls: a 500 on each preview's routing resources makes those
    // previews unroutable with the server's (redacted) words, in frames and the cache.
    fake.add_fault(echo(500, "/api/v1/applications/*"));
    host.send(json!({"id": 2, "type": "refresh"})).await;
    let listed = host.reply(2).await;
    let previews = listed["previews"].as_array().expect("a list");
    assert!(
        previews.iter().any(|p| p["unroutable"]
            .as_str()
            .is_some_and(|u| u.contains(REDACTED))),
        "no preview carries the echo: {listed}"
    );
    fake.clear_faults();
    // The watch: an in-stream error quoting the token, bare and as a bearer credential.
    fake.add_fault(
        FaultRule::new(Fault::StreamError {
            http_code: 401,
            message: format!("token {TOKEN} rejected; Authorization: Bearer {TOKEN}"),
        })
        .on_path("/api/v1/stream/applications")
        .times(1),
    );
    host.send(json!({"id": 3, "type": "subscribe"})).await;
    assert_eq!(host.reply(3).await["type"], "subscribed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !host
        .log()
        .contains("token **** rejected; Authorization: Bearer ****")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the watch error never reached the log: {}",
            host.log()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    host.assert_serving(4).await;
    assert_eq!(host.close().await, 0);
    assert!(
        sb.files()
            .iter()
            .any(|p| p.starts_with(sb.home().join("cache"))),
        "the host wrote its cache, which the sandbox scans"
    );
    sb.assert_hygiene();
}

/// Finding 7: manifests are 0644 in 0755 directories whatever the umask (here 077, which
/// would leave a system-wide manifest unreadable to every other user's browser).
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn install_writes_0644_manifests_in_0755_directories_under_umask_077() {
    use std::os::unix::fs::PermissionsExt;
    let sb = Sandbox::new();
    let profile = sb.home().join("profile/deep");
    let run = tokio::process::Command::new("sh")
        .arg("-c")
        .arg("umask 077; exec \"$0\" install --browser chromium --user-data-dir \"$1\"")
        .arg(env!("CARGO_BIN_EXE_preview-switch"))
        .arg(&profile)
        .env("HOME", sb.home())
        .output()
        .await
        .expect("sh runs");
    assert!(run.status.success(), "{run:?}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let manifest = profile.join("NativeMessagingHosts/io.previewswitch.companion.json");
    assert_eq!(mode(&manifest), 0o644);
    assert_eq!(mode(manifest.parent().unwrap()), 0o755);
    assert_eq!(mode(&profile), 0o755);
}

/// Finding 3: one preview whose routing annotation lists 60,000 hosts, on one of two
/// servers. Before, hosts were de-duplicated with `Vec::contains` on the host's one thread
/// (a `hello` waited 13.5 s at 40,000 hosts) and at 52,000 a page failed as "larger than a
/// 1 MiB frame", hiding every other preview. Now the preview is listed, unroutable with
/// the reason; the others of both servers are listed; `hello` is answered meanwhile. The
/// one-second bound is a liveness check with a wide margin, not a benchmark.
#[tokio::test(flavor = "multi_thread")]
async fn a_preview_with_60000_hosts_neither_stalls_the_host_nor_hides_the_others() {
    let (fake_a, server_a) = demo_server().await;
    let (_fake_b, server_b) = demo_server().await;
    let base = fake_a.app("search-ui-pr-9").expect("demo app");
    let hosts: Vec<String> = (0..60_000).map(|i| format!("h{i}.demo.test")).collect();
    fake_a.upsert_app(variant(
        &base,
        "huge-pr-77",
        Some("77"),
        json!({"preview-switch.io/cookie": "team-huge-pr", "preview-switch.io/hosts": hosts.join(",")}),
    ));
    let sb = Sandbox::new();
    sb.write(
        ".config/preview-switch/config.toml",
        &format!(
            "[[servers]]\nname = \"a\"\nurl = \"{}\"\ntoken = \"{TOKEN}\"\n\n[[servers]]\nname = \"b\"\nurl = \"{}\"\ntoken = \"{TOKEN}\"\n",
            server_a.url(),
            server_b.url()
        ),
    );
    let mut host = HostProc::spawn(&sb, &["host", "--timeout", "20s"], &[]);
    host.send(json!({"id": 1, "type": "list"})).await;
    let asked = std::time::Instant::now();
    host.send(json!({"id": 2, "type": "hello", "protocol": 1}))
        .await;
    let mut listed = None;
    let hello = loop {
        let frame = host.recv().await;
        match frame["id"].as_u64() {
            Some(1) => listed = Some(frame),
            Some(2) => break frame,
            _ => {}
        }
    };
    let waited = asked.elapsed();
    assert_eq!(hello["type"], "hello", "{hello}");
    assert!(
        waited < std::time::Duration::from_secs(1),
        "hello waited {waited:?} behind the listing"
    );
    let listed = match listed {
        Some(l) => l,
        None => host.reply(1).await,
    };
    assert_eq!(listed["type"], "list", "{listed}");
    let previews = listed["previews"].as_array().unwrap();
    let huge = previews
        .iter()
        .find(|p| p["app"] == "huge-pr-77")
        .expect("the hostile preview is listed");
    assert_eq!(huge["routes"], json!([]), "{huge}");
    let why = huge["unroutable"].as_str().unwrap();
    assert!(why.contains("more than 64 hosts"), "{why}");
    for server in [server_a.url(), server_b.url()] {
        let routable = previews
            .iter()
            .filter(|p| p["server"] == server.trim_end_matches('/'))
            .filter(|p| !p["routes"].as_array().unwrap().is_empty())
            .count();
        assert!(
            routable >= 3,
            "{server}: {routable} routable previews in {listed}"
        );
    }
    host.assert_serving(3).await;
    assert_eq!(host.close().await, 0);
}
