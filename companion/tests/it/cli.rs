//! The built `preview-switch` against the fake Argo CD: every credential source, several
//! servers with one failing, and each error class with its message and exit code.

use crate::support::{HostProc, Run, Sandbox, TOKEN, demo_server};

fn rows(run: &Run) -> Vec<&str> {
    run.stdout.lines().skip(1).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_with_flags_shows_every_demo_preview_and_its_route() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let run = sb
        .run(
            &["list", "--server", &server.url(), "--auth-token", TOKEN],
            &[],
        )
        .await;
    run.assert_no_secret(TOKEN);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.starts_with("SERVICE"), "{}", run.stdout);
    let rows = rows(&run);
    assert!(rows.len() >= 6, "{}", run.stdout);
    assert!(
        rows.iter().any(|r| r.contains("unroutable:")),
        "{}",
        run.stdout
    );
    assert!(
        rows.iter().filter(|r| r.contains("-pr=")).count() >= 5,
        "{}",
        run.stdout
    );
    for health in ["Healthy", "Progressing", "Degraded"] {
        assert!(
            run.stdout.contains(health),
            "{health} missing: {}",
            run.stdout
        );
    }
}

/// The generated Applications are what `make bench` and the soak list: if the companion
/// stopped decoding their full shape, the benchmarks would measure an error path.
#[tokio::test(flavor = "multi_thread")]
async fn list_reads_every_generated_preview() {
    let state = fake_argocd::FakeArgo::with_apps(TOKEN, fake_argocd::generated(60, 20));
    let server = fake_argocd::serve(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let sb = Sandbox::new();
    let run = sb
        .run(
            &[
                "list",
                "-o",
                "json",
                "--server",
                &server.url(),
                "--auth-token",
                TOKEN,
            ],
            &[],
        )
        .await;
    run.assert_no_secret(TOKEN);
    assert_eq!(run.code, 0, "{run:#?}");
    let previews = run.json();
    let previews = previews.as_array().unwrap();
    assert_eq!(previews.len(), 20, "{previews:#?}");
    for p in previews {
        assert!(p["pr"].as_u64().unwrap() >= 1000, "{p:#}");
        assert_eq!(p["routes"].as_array().unwrap().len(), 1, "{p:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn env_token_gives_json_with_routes_from_every_source() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let url = server.url();
    let run = sb
        .run(
            &["list", "-o", "json"],
            &[("ARGOCD_SERVER", &url), ("ARGOCD_AUTH_TOKEN", TOKEN)],
        )
        .await;
    run.assert_no_secret(TOKEN);
    assert_eq!(run.code, 0, "{run:#?}");
    let previews = run.json();
    let previews = previews.as_array().unwrap();
    let sources: std::collections::BTreeSet<&str> = previews
        .iter()
        .flat_map(|p| p["routes"].as_array().unwrap())
        .map(|r| r["source"].as_str().unwrap())
        .collect();
    assert!(
        sources.contains("annotation") && sources.contains("discovery"),
        "{sources:?}"
    );
    let unroutable: Vec<_> = previews
        .iter()
        .filter(|p| !p["unroutable"].is_null())
        .collect();
    assert_eq!(unroutable.len(), 1, "{previews:#?}");
    assert!(unroutable[0]["routes"].as_array().unwrap().is_empty());
    for p in previews {
        assert_eq!(p["server"], url.as_str());
        assert!(p["pr"].as_u64().unwrap() > 0);
        assert!(p["links"]["argocd"].as_str().unwrap().starts_with(&url));
        for r in p["routes"].as_array().unwrap() {
            assert!(
                !r["hosts"].as_array().unwrap().is_empty(),
                "a route without hosts: {p:#?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn argocd_cli_config_current_context_and_all_contexts() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let host = server.url().trim_start_matches("http://").to_owned();
    // The argocd CLI's LocalConfig format (tests/fixtures/argocd/argocd-cli-local-config.sample.yaml).
    sb.write(
        ".config/argocd/config",
        &format!(
            "contexts:\n- name: demo\n  server: {host}\n  user: demo-user\n\
             - name: gone\n  server: 127.0.0.1:9\n  user: demo-user\n\
             current-context: demo\nprompts-enabled: false\n\
             servers:\n- plain-text: true\n  server: {host}\n- plain-text: true\n  server: 127.0.0.1:9\n\
             users:\n- auth-token: {TOKEN}\n  name: demo-user\n  refresh-token: not-a-real-refresh-token\n"
        ),
    );
    let run = sb.run(&["list"], &[]).await;
    run.assert_no_secret(TOKEN);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        rows(&run).iter().all(|r| r.contains(" demo ")),
        "{}",
        run.stdout
    );

    let all = sb.run(&["list", "--all-contexts"], &[]).await;
    all.assert_no_secret(TOKEN);
    assert_eq!(all.code, 1, "one context is down: {all:#?}");
    assert_eq!(
        rows(&all).len(),
        rows(&run).len(),
        "the working context is still listed"
    );
    assert!(
        all.stderr.contains("gone") && all.stderr.contains("127.0.0.1:9"),
        "{}",
        all.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn config_file_servers_one_failing_gives_partial_result_and_exit_1() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let token_file = sb.write("secrets/demo.token", &format!("{TOKEN}\n"));
    sb.write(
        ".config/preview-switch/config.toml",
        &format!(
            "[[servers]]\nname = \"dev\"\nurl = \"{}\"\ntoken_file = \"{}\"\n\n\
             [[servers]]\nname = \"prod\"\nurl = \"http://127.0.0.1:9\"\ntoken = \"unused\"\n",
            server.url(),
            token_file.display()
        ),
    );
    let run = sb
        .run(&["list", "-o", "json", "--connect-timeout", "2s"], &[])
        .await;
    run.assert_no_secret(TOKEN);
    assert_eq!(run.code, 1, "{run:#?}");
    let previews = run.json();
    assert!(previews.as_array().unwrap().len() >= 6);
    assert!(
        previews
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["context"] == "dev")
    );
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert!(
        errors[0].contains("prod") && errors[0].contains("http://127.0.0.1:9"),
        "{}",
        errors[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_token_names_the_login_command() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let bad = "wrong-token-0123456789";
    let run = sb
        .run(
            &["list", "--server", &server.url(), "--auth-token", bad],
            &[],
        )
        .await;
    run.assert_no_secret(bad);
    assert_eq!(run.code, 1, "{run:#?}");
    let host = server.url().trim_start_matches("http://").to_owned();
    assert!(
        run.stderr.contains(&format!("argocd login {host}")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("401"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_server_names_the_url_and_cause() {
    let sb = Sandbox::new();
    let run = sb
        .run(
            &[
                "list",
                "--server",
                "http://127.0.0.1:9",
                "--auth-token",
                TOKEN,
                "--connect-timeout",
                "2s",
            ],
            &[],
        )
        .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("cannot reach http://127.0.0.1:9"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.to_lowercase().contains("refused"),
        "the cause: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_failure_names_the_ca_cert_flag() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    // https:// to a plain-HTTP port: the handshake fails as with a wrong certificate setup.
    let https = server.url().replace("http://", "https://");
    let run = sb
        .run(&["list", "--server", &https, "--auth-token", TOKEN], &[])
        .await;
    run.assert_no_secret(TOKEN);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("TLS") && run.stderr.contains("--ca-cert"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_list_and_403_say_rbac_may_hide_apps() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let run = sb
        .run(
            &[
                "list",
                "--server",
                &server.url(),
                "--auth-token",
                TOKEN,
                "--selector",
                "type=nothing-has-this",
            ],
            &[],
        )
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(rows(&run).len(), 0);
    assert!(
        run.stderr.contains("`applications, get` permission"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn config_error_names_file_and_line_and_exits_2() {
    let sb = Sandbox::new();
    let path = sb.write(
        ".config/preview-switch/config.toml",
        "[[servers]]\nname = \"dev\"\nurl = \"https://argocd.dev.test\"\ntimeout = [\n",
    );
    let run = sb.run(&["list"], &[]).await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains(&path.display().to_string()),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("line "), "{}", run.stderr);
}

/// Regression (issue 16): `--timeout 0s` was accepted, failing every request at once,
/// while `timeout = "0s"` in config.toml was refused. One rule now refuses both.
#[tokio::test(flavor = "multi_thread")]
async fn a_zero_timeout_is_refused_alike_from_a_flag_and_from_the_file() {
    let sb = Sandbox::new();
    let flag = sb
        .run(
            &["list", "--server", "argocd.dev.test", "--timeout", "0s"],
            &[],
        )
        .await;
    assert_eq!(flag.code, 2, "{flag:#?}");
    assert!(
        flag.stderr.contains("--timeout") && flag.stderr.contains("such as 5s"),
        "{}",
        flag.stderr
    );
    sb.write(
        ".config/preview-switch/config.toml",
        "[[servers]]\nurl = \"https://argocd.dev.test\"\ntimeout = \"0s\"\n",
    );
    let file = sb.run(&["list"], &[]).await;
    assert_eq!(file.code, 2, "{file:#?}");
    assert!(
        file.stderr.contains("line 3") && file.stderr.contains("such as 5s"),
        "{}",
        file.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_server_anywhere_is_a_usage_error_naming_the_ways_to_configure_one() {
    let sb = Sandbox::new();
    let run = sb.run(&["list"], &[]).await;
    assert_eq!(run.code, 2, "{run:#?}");
    for way in ["--server", "ARGOCD_SERVER", "argocd login"] {
        assert!(run.stderr.contains(way), "{way}: {}", run.stderr);
    }
}

/// `link` prints the share link of a preview, says who it works for, and draws it as a QR
/// code; the preview's JSON carries the share rule and the marker its HTTPRoute declares.
#[tokio::test(flavor = "multi_thread")]
async fn link_prints_the_share_link_and_the_json_says_whether_it_works_without_the_extension() {
    let (state, server) = demo_server().await;
    // checkout-api PR 45's Gateway API route, as examples/chart renders it with share: true.
    let header = |name: &str, value: &str| serde_json::json!({"name": name, "value": value});
    let filters = |headers: Vec<serde_json::Value>| serde_json::json!([{"type": "ResponseHeaderModifier", "responseHeaderModifier": {"add": headers}}]);
    state.set_managed_resources(
        "checkout-api-pr-45",
        vec![serde_json::json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": "checkout-api-pr-45", "namespace": "checkout-api-pr-45"},
            "spec": {"hostnames": ["checkout-api.demo.test"], "rules": [
                {"matches": [{"headers": [{"name": "cookie", "type": "RegularExpression",
                    "value": "(^|.*; )checkout-api-pr=45(;.*|$)"}]}],
                 "filters": filters(vec![header("x-preview-pr", "45")])},
                {"matches": [{"queryParams": [{"name": "preview-switch", "type": "Exact", "value": "checkout-api:45"}]}],
                 "filters": filters(vec![
                    header("Set-Cookie", "checkout-api-pr=45; Path=/; Max-Age=86400; SameSite=Lax"),
                    header("x-preview-pr", "45")])}
            ]}
        })],
    );
    let sb = Sandbox::new();
    let url = server.url();
    let env = [
        ("ARGOCD_SERVER", url.as_str()),
        ("ARGOCD_AUTH_TOKEN", TOKEN),
    ];
    let json = sb.run(&["list", "-o", "json"], &env).await.json();
    let shared = json
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["app"] == "checkout-api-pr-45")
        .unwrap();
    assert_eq!(
        shared["share"],
        serde_json::json!({"param": "preview-switch", "works_without_extension": true})
    );
    assert_eq!(
        shared["marker"],
        serde_json::json!({"header": "x-preview-pr", "value": "45"})
    );
    let run = sb
        .run(
            &["link", "checkout-api", "45", "--path", "/cart?step=2"],
            &env,
        )
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stdout,
        "https://checkout-api.demo.test/cart?step=2&preview-switch=checkout-api:45\n"
    );
    assert!(
        run.stderr.contains("works without the extension"),
        "{}",
        run.stderr
    );

    // A preview without a share rule: the link names it for the extension, and says so.
    let run = sb.run(&["link", "courses-fe", "123", "--qr"], &env).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("https://courses-fe.demo.test/?preview-switch=courses-fe:123")
    );
    let code: Vec<&str> = lines.collect();
    assert!(code.len() > 10, "a QR code follows: {}", run.stdout);
    assert!(
        code.iter().all(|l| l.chars().all(|c| " ▀▄█".contains(c))),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("with the Preview Switch extension"),
        "{}",
        run.stderr
    );

    let bad = sb
        .run(&["link", "courses-fe", "123", "--path", "x"], &env)
        .await;
    assert_eq!(bad.code, 2, "{bad:#?}");
    assert!(bad.stderr.contains("starts with /"), "{}", bad.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn header_prints_the_cookie_line_and_host_filters() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let url = server.url();
    let env = [
        ("ARGOCD_SERVER", url.as_str()),
        ("ARGOCD_AUTH_TOKEN", TOKEN),
    ];
    let json = sb.run(&["list", "-o", "json"], &env).await.json();
    let routed = json
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["unroutable"].is_null())
        .unwrap()
        .clone();
    let route = &routed["routes"][0];
    let pr = routed["pr"].to_string();
    let run = sb
        .run(&["header", routed["service"].as_str().unwrap(), &pr], &env)
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stdout.trim_end(),
        format!(
            "Cookie: {}={}",
            route["name"].as_str().unwrap(),
            route["value"].as_str().unwrap()
        )
    );

    let missing = sb
        .run(
            &["header", routed["service"].as_str().unwrap(), "999999"],
            &env,
        )
        .await;
    assert_eq!(missing.code, 1);
    assert!(
        missing.stderr.contains("no preview of"),
        "{}",
        missing.stderr
    );

    let host = route["hosts"][0].as_str().unwrap();
    let on_host = sb
        .run(
            &["list", "-o", "json", "--host", &format!("https://{host}/x")],
            &env,
        )
        .await
        .json();
    let on_host = on_host.as_array().unwrap();
    assert!(!on_host.is_empty());
    assert!(on_host.iter().all(|p| {
        p["routes"][0]["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h == host)
    }));
    assert!(
        on_host.len() < json.as_array().unwrap().len(),
        "--host filters something out"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn completions_and_version() {
    let sb = Sandbox::new();
    let run = sb.run(&["completions", "bash"], &[]).await;
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains("_preview__switch()") && run.stdout.contains("complete -F"),
        "{}",
        &run.stdout[..200.min(run.stdout.len())]
    );
    let v = sb.run(&["--version"], &[]).await;
    assert_eq!(
        v.stdout.trim(),
        format!("preview-switch {}", env!("CARGO_PKG_VERSION"))
    );
    let bad = sb.run(&["list", "--output", "yaml"], &[]).await;
    assert_eq!(bad.code, 2, "usage errors exit 2: {bad:#?}");
}

/// The demo's printed commands work as pasted (issue 15 §6): a build that is not on PATH
/// is named by its full path, one that is by its name.
#[tokio::test(flavor = "multi_thread")]
async fn the_demo_prints_commands_that_run_this_binary_from_where_the_user_stands() {
    let sb = Sandbox::new();
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_preview-switch"))
        .canonicalize()
        .unwrap();
    let printed = |run: &crate::support::Run| {
        run.stdout
            .lines()
            .find(|l| l.trim_start().starts_with("PREVIEW_SWITCH_CONFIG=") && l.ends_with(" list"))
            .map(|l| {
                l.trim()
                    .split_once(' ')
                    .unwrap()
                    .1
                    .trim_end_matches(" list")
                    .to_owned()
            })
    };
    let off_path = sb
        .run(&["demo", "--once"], &[("PATH", "/usr/bin:/bin")])
        .await;
    assert_eq!(off_path.code, 0, "{off_path:#?}");
    assert_eq!(
        printed(&off_path).as_deref(),
        Some(exe.to_str().unwrap()),
        "{}",
        off_path.stdout
    );
    let dir = exe.parent().unwrap().display().to_string();
    let on_path = sb
        .run(
            &["demo", "--once"],
            &[("PATH", &format!("{dir}:/usr/bin:/bin"))],
        )
        .await;
    assert_eq!(
        printed(&on_path).as_deref(),
        Some("preview-switch"),
        "{}",
        on_path.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_names_the_server_and_byte_offset_and_502_reads_as_one_line() {
    use fake_argocd::{Fault, FaultRule};
    let (state, server) = demo_server().await;
    let sb = Sandbox::new();
    let url = server.url();
    state.add_fault(FaultRule::new(Fault::Garbage).on_path("/api/v1/applications"));
    let run = sb
        .run(&["list", "--server", &url, "--auth-token", TOKEN], &[])
        .await;
    run.assert_no_secret(TOKEN);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("malformed JSON") && run.stderr.contains("at byte "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(&url));

    state.clear_faults();
    state.add_fault(FaultRule::new(Fault::ServerError(502)).on_path("/api/v1/applications"));
    let run = sb
        .run(&["list", "--server", &url, "--auth-token", TOKEN], &[])
        .await;
    assert_eq!(run.code, 1, "{run:#?}");
    let line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap();
    assert!(line.contains("502"), "{line}");
    assert!(
        !run.stderr.contains("<html"),
        "an HTML page is summarised, not dumped: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn install_and_uninstall_for_one_profile_and_doctor_sees_it() {
    let sb = Sandbox::new();
    let profile = sb.home().join("profile");
    let id = "abcdefghijklmnopabcdefghijklmnop";
    let p = profile.to_str().unwrap();
    let run = sb
        .run(
            &[
                "install",
                "--browser",
                "chromium",
                "--extension-id",
                id,
                "--user-data-dir",
                p,
            ],
            &[],
        )
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let manifest_path = profile.join("NativeMessagingHosts/io.previewswitch.companion.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["type"], "stdio");
    assert_eq!(
        manifest["allowed_origins"],
        serde_json::json!([format!("chrome-extension://{id}/")])
    );
    let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_preview-switch")).unwrap();
    assert_eq!(manifest["path"], exe.to_str().unwrap());

    let bad_id = sb
        .run(
            &["install", "--browser", "chromium", "--extension-id", "xyz"],
            &[],
        )
        .await;
    assert_eq!(bad_id.code, 2, "{bad_id:#?}");

    let hello = serde_json::json!({"id": 1, "type": "hello", "protocol": 1});
    let origin = format!("chrome-extension://{id}/");
    let env = [("ARGOCD_SERVER", "http://127.0.0.1:9")];
    let mut host = HostProc::spawn(&sb, &[&origin], &env);
    host.send(hello.clone()).await;
    assert_eq!(
        host.reply(1).await["type"],
        "hello",
        "served once installed"
    );
    host.close().await;

    let run = sb
        .run(
            &["uninstall", "--browser", "chromium", "--user-data-dir", p],
            &[],
        )
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(!manifest_path.exists());
    // Issue 15: the recorded id went with its last manifest, so the host no longer serves it.
    let mut host = HostProc::spawn(&sb, &[&origin], &env);
    host.send(hello).await;
    assert_eq!(host.reply(1).await["code"], "origin_not_allowed");
    host.close().await;
}

/// `--browser` takes a comma-separated list, as its help says (it used to accept one name).
#[tokio::test(flavor = "multi_thread")]
async fn install_takes_a_comma_separated_browser_list() {
    let sb = Sandbox::new();
    let run = sb
        .run(&["install", "--browser", "chromium,firefox"], &[])
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", run.stdout);
    assert!(lines[0].starts_with("installed chromium host manifest: "));
    assert!(lines[1].starts_with("installed firefox host manifest: "));
    assert!(
        sb.home()
            .join(".config/chromium/NativeMessagingHosts/io.previewswitch.companion.json")
            .is_file()
    );
    assert!(
        sb.home()
            .join(".mozilla/native-messaging-hosts/io.previewswitch.companion.json")
            .is_file()
    );
    let bad = sb
        .run(&["install", "--browser", "chromium,safari"], &[])
        .await;
    assert_eq!(bad.code, 2, "{bad:#?}");
    assert!(
        bad.stderr.contains("unknown browser \"safari\""),
        "{}",
        bad.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_reports_each_check_with_its_fix() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let url = server.url();
    let ok = sb
        .run(&["doctor", "--server", &url, "--auth-token", TOKEN], &[])
        .await;
    ok.assert_no_secret(TOKEN);
    assert!(ok.stdout.contains("reachable: Argo CD v"), "{}", ok.stdout);
    assert!(ok.stdout.contains("token: valid"), "{}", ok.stdout);
    assert!(ok.stdout.contains("previews: 7 visible"), "{}", ok.stdout);

    let bad = sb
        .run(
            &[
                "doctor",
                "--server",
                &url,
                "--auth-token",
                "expired-token-value",
            ],
            &[],
        )
        .await;
    bad.assert_no_secret("expired-token-value");
    assert_eq!(bad.code, 1, "{bad:#?}");
    assert!(
        bad.stdout.contains("FAIL") && bad.stdout.contains("argocd login"),
        "{}",
        bad.stdout
    );
}

/// `doctor` names the file each setting came from: the system-wide one an administrator
/// ships (here the sandbox's PREVIEW_SWITCH_SYSTEM_CONFIG) below the user's own.
#[tokio::test(flavor = "multi_thread")]
async fn doctor_names_the_file_each_setting_came_from() {
    let sb = Sandbox::new();
    let system = sb.home().join("etc/preview-switch/config.toml");
    std::fs::create_dir_all(system.parent().unwrap()).unwrap();
    std::fs::write(
        &system,
        "selector = \"team=web\"\n[route]\ncookie = \"corp-{service}-pr\"\n",
    )
    .unwrap();
    let user = sb.home().join(".config/preview-switch/config.toml");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(&user, "timeout = \"40s\"\n").unwrap();
    let out = sb
        .run(
            &[
                "doctor",
                "--server",
                "http://127.0.0.1:9",
                "--auth-token",
                TOKEN,
            ],
            &[],
        )
        .await;
    out.assert_no_secret(TOKEN);
    for line in [
        format!(
            "ok   system config file: {} (read below the user's)",
            system.display()
        ),
        format!("ok   setting selector: from {}", system.display()),
        format!("ok   setting route: from {}", system.display()),
        format!("ok   setting timeout: from {}", user.display()),
        "ok   setting connect_timeout: from the default".to_owned(),
        "ok   setting servers: from flag --server".to_owned(),
    ] {
        assert!(
            out.stdout.lines().any(|l| l == line),
            "{line}\n{}",
            out.stdout
        );
    }
}
