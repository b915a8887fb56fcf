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
    ]
}

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
