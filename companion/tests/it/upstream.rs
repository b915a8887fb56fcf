//! Argo CD as it really is (issue 10), on the built binary against the fake that copies it:
//! a watch whose response starts only with its first event, reconcile-only changes, per-app
//! calls after the list, anonymous access, ApplicationSet permissions, namespaces, a root
//! path, TLS with a private CA, and the `argocd` CLI's refresh rules. Each test names the
//! upstream behaviour it pins; `fake-argocd/BEHAVIOURS.md` has the table.

use std::time::Duration;

use fake_argocd::{FakeArgo, Fault, FaultRule};
use serde_json::{Value, json};

use crate::support::{HostProc, Run, Sandbox, TOKEN, demo_server, demo_server_tls};

const WATCH: &str = "/api/v1/stream/applications";
const LIST: &str = "/api/v1/applications";

fn host_env(url: &str) -> [(&'static str, String); 2] {
    [
        ("ARGOCD_SERVER", url.to_owned()),
        ("ARGOCD_AUTH_TOKEN", TOKEN.to_owned()),
    ]
}

/// A host process, listed once and subscribed (request ids 1 and 2).
async fn subscribed_host(sb: &Sandbox, url: &str, args: &[&str]) -> HostProc {
    let env = host_env(url);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut host = HostProc::spawn(sb, args, &env);
    host.send(json!({"id": 1, "type": "list"})).await;
    assert_eq!(host.reply(1).await["type"], "list");
    host.send(json!({"id": 2, "type": "subscribe"})).await;
    assert_eq!(host.reply(2).await["type"], "subscribed");
    host
}

/// Waits (polling the fake's request log) until `path` was asked `n` times.
async fn until_requested(fake: &FakeArgo, path: &str, n: u64) {
    for _ in 0..200 {
        if fake.request_count(path) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{path} was not requested {n} times: {:?}",
        fake.request_counts()
    );
}

/// The next `previews_changed` that adds `app`, skipping other frames.
async fn wait_added(host: &mut HostProc, app: &str) -> Value {
    for _ in 0..30 {
        let ev = host.recv_within(Duration::from_secs(20)).await;
        if ev["type"] != "previews_changed" {
            continue;
        }
        if let Some(c) = ev["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["change"] == "added" && c["preview"]["app"] == app)
        {
            return c.clone();
        }
    }
    panic!("no added event for {app}");
}

fn new_preview(fake: &FakeArgo, pr: u64) -> String {
    let mut app = fake.app("search-ui-pr-7").unwrap();
    let name = format!("search-ui-pr-{pr}");
    app["metadata"]["name"] = json!(name);
    app["metadata"]["labels"]["preview-switch.io/pr"] = json!(pr.to_string());
    fake.upsert_app(app);
    name
}

/// Upstream's watch sends no status line until its first event (the gateway blocks in
/// `stream.Header()`), so a quiet server is a watch that has not answered yet. It must stay
/// open: the request timeout (1 s here) is not a limit on it, and no reconnect happens.
#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_watch_stays_open_past_the_timeout_and_delivers_the_next_change() {
    let (fake, server) = demo_server().await;
    // No open pull request: nothing matches the selector, so nothing is replayed either.
    let template = fake.app("search-ui-pr-7").unwrap();
    let bases: Vec<Value> = fake
        .apps()
        .into_iter()
        .filter(|a| a["metadata"]["labels"]["type"] != "pr")
        .collect();
    fake.replace_apps(bases);
    let sb = Sandbox::new();
    let mut host = subscribed_host(&sb, &server.url(), &["host", "--timeout", "1s"]).await;
    until_requested(&fake, WATCH, 1).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        fake.request_count(WATCH),
        1,
        "the quiet watch was given up and reopened"
    );
    fake.upsert_app(template);
    wait_added(&mut host, "search-ui-pr-7").await;
    assert_eq!(fake.request_count(WATCH), 1);
    // The event came through gzip (on by default since v2.8), flushed per event.
    assert_eq!(fake.compressed_count(WATCH), 1);
    host.assert_serving(99).await;
    assert_eq!(host.close().await, 0);
}

/// The controller moves `status.reconciledAt` on every app every few minutes. The watch
/// asks for the list's projection, so upstream's per-app de-duplication drops those
/// changes, and for the list's resourceVersion, so a reopened watch replays nothing; a
/// first reconcile that still comes through (the server's de-duplication starts empty on
/// each watch) matches what was listed and costs no re-list either.
#[tokio::test(flavor = "multi_thread")]
async fn reconcile_only_changes_cost_no_relist_and_a_reopened_watch_replays_nothing() {
    let (fake, server) = demo_server().await;
    let sb = Sandbox::new();
    let mut host = subscribed_host(&sb, &server.url(), &["host"]).await;
    until_requested(&fake, WATCH, 1).await;
    // Let the re-list that follows each new watch settle before counting.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let lists = fake.request_count(LIST);
    for _ in 0..10 {
        fake.reconcile_all();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        fake.request_count(LIST),
        lists,
        "reconcile-only changes caused re-lists"
    );

    let watch = fake
        .requests()
        .into_iter()
        .find(|r| r.path == WATCH)
        .unwrap();
    let query = watch.query.unwrap_or_default();
    assert!(
        query.contains("resourceVersion=") && query.contains("fields=result.type%2C"),
        "{query}"
    );

    // A real change still arrives.
    let name = new_preview(&fake, 89);
    wait_added(&mut host, &name).await;
    assert_eq!(host.close().await, 0);
}

/// A watch whose gRPC stream fails mid-way ends with the stream error chunk (grpc-gateway
/// `ForwardResponseStream` → `handleForwardResponseStreamError`; `{}` through a projection
/// without `error`), and one a restart or proxy ends is just closed: either is a broken
/// watch, reopened after a pause, and a change made meanwhile still arrives.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_or_closed_watch_is_reopened_and_misses_no_change() {
    let (fake, server) = demo_server().await;
    let sb = Sandbox::new();
    let mut host = subscribed_host(&sb, &server.url(), &["host"]).await;
    until_requested(&fake, WATCH, 1).await;
    // The stream starts with its first event; only then can it fail mid-way.
    let first = new_preview(&fake, 90);
    wait_added(&mut host, &first).await;

    fake.fail_streams(14, "transport is closing");
    let during = new_preview(&fake, 91);
    until_requested(&fake, WATCH, 2).await;
    wait_added(&mut host, &during).await;

    let first = new_preview(&fake, 92);
    wait_added(&mut host, &first).await;
    fake.end_streams();
    let during = new_preview(&fake, 93);
    until_requested(&fake, WATCH, 3).await;
    wait_added(&mut host, &during).await;
    host.assert_serving(99).await;
    assert_eq!(host.close().await, 0);
}

/// The JSON array `list -o json` printed, as app names.
fn listed_apps(run: &Run) -> Vec<String> {
    run.json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["app"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs `preview-switch <args>` while `during` acts on the fake once `path` was requested.
async fn run_while(
    sb: &Sandbox,
    args: &[&str],
    fake: &FakeArgo,
    path: &str,
    during: impl FnOnce(&FakeArgo),
) -> Run {
    use std::process::Stdio;
    let child = sb
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until_requested(fake, path, 1).await;
    during(fake);
    Run::from(child.wait_with_output().await.unwrap())
}

/// A preview deleted between the list and its managed-resources call: upstream answers
/// 404 `… not found` (with `project=`, v2.8+) or 403 `permission denied` (without it, and
/// before v2.8), from `getAppEnforceRBAC`. That is one preview gone, not a failed server
/// and not a missing role.
#[tokio::test(flavor = "multi_thread")]
async fn a_preview_deleted_between_the_list_and_its_resources_is_just_gone() {
    let (fake, server) = demo_server().await;
    // Routed by a Linkerd HTTPRoute: its managed resources are read after the list.
    let victim = "courses-fe-pr-123";
    let path = format!("/api/v1/applications/{victim}/managed-resources");
    fake.add_fault(FaultRule::new(Fault::Delay(Duration::from_millis(800))).on_path(&path));
    let sb = Sandbox::new();
    let url = server.url();
    let args = [
        "list",
        "-o",
        "json",
        "--server",
        &url,
        "--auth-token",
        TOKEN,
    ];
    let run = run_while(&sb, &args, &fake, &path, |f| assert!(f.remove_app(victim))).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let apps = listed_apps(&run);
    assert_eq!(apps.len(), 6, "{apps:?}");
    assert!(!apps.iter().any(|a| a == victim), "{apps:?}");
    assert!(!run.stderr.contains("admin"), "{}", run.stderr);
    let asked = fake
        .requests()
        .into_iter()
        .find(|r| r.path == path)
        .and_then(|r| r.query)
        .unwrap_or_default();
    assert!(
        asked.contains("appNamespace=argocd") && asked.contains("project=default"),
        "{asked}"
    );
}

/// With anonymous access on (`users.anonymous.enabled`), upstream answers a wrong or
/// expired token with 200 and what anonymous users may see, here nothing. An empty answer
/// is therefore checked against `/api/v1/session/userinfo`: not logged in is an error
/// naming `argocd login`; logged in, a note naming the user, the selector and the
/// permission.
#[tokio::test(flavor = "multi_thread")]
async fn empty_can_mean_not_logged_in_when_anonymous_access_is_on() {
    let (fake, server) = demo_server().await;
    fake.set_anonymous(Some(Some(&[])));
    let sb = Sandbox::new();
    let url = server.url();
    let host = url.trim_start_matches("http://");
    let run = sb
        .run(
            &[
                "list",
                "--server",
                &url,
                "--auth-token",
                "other-secret-token",
            ],
            &[],
        )
        .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("answered as an anonymous user")
            && run
                .stderr
                .contains(&format!("run `argocd login {host} --plaintext`")),
        "{}",
        run.stderr
    );

    let run = sb
        .run(
            &[
                "list",
                "--server",
                &url,
                "--auth-token",
                TOKEN,
                "--selector",
                "type=nothing",
            ],
            &[],
        )
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr.contains(&format!(
            "no previews visible to admin on {url}: check the selector `type=nothing` and the `applications, get` permission"
        )),
        "{}",
        run.stderr
    );
}

/// ApplicationSets need `applicationsets, get`, which a role may lack while it reads the
/// applications; upstream then lists no set, silently. Previews that need their set for
/// the pull-request link say so once per server, naming the permission, in `list` and in
/// `doctor`.
#[tokio::test(flavor = "multi_thread")]
async fn missing_applicationsets_permission_is_said_once_per_server() {
    let (fake, server) = demo_server().await;
    fake.accept_token_as("other-secret-token", "alice", None);
    fake.limit_applicationsets("other-secret-token", Some(&[]));
    let sb = Sandbox::new();
    let url = server.url();
    let args = [
        "--server",
        url.as_str(),
        "--auth-token",
        "other-secret-token",
    ];
    let run = sb
        .run(&[&["list", "-o", "json"][..], &args].concat(), &[])
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(listed_apps(&run).len(), 7);
    assert_eq!(
        run.stderr.matches("`applicationsets, get`").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("pull-request links are missing for 7 previews"),
        "{}",
        run.stderr
    );
    let doctor = sb.run(&[&["doctor"][..], &args].concat(), &[]).await;
    assert!(
        doctor.stdout.contains("WARN") && doctor.stdout.contains("`applicationsets, get`"),
        "{}",
        doctor.stdout
    );
    // With the permission: no note.
    let ok = sb
        .run(&["list", "--server", &url, "--auth-token", TOKEN], &[])
        .await;
    assert!(!ok.stderr.contains("applicationsets"), "{}", ok.stderr);
}

/// Apps in any namespace: without `appNamespace` the list holds every *enabled* namespace
/// (only the control plane's when none is enabled), and managed resources are keyed by
/// namespace and name, so two previews of one name in two namespaces keep their own
/// routes, each asked for with its own `appNamespace`.
#[tokio::test(flavor = "multi_thread")]
async fn same_named_previews_in_two_namespaces_keep_their_own_routes() {
    let (fake, server) = demo_server().await;
    let name = "courses-fe-pr-123";
    let mut team = fake.app(name).unwrap();
    team["metadata"]["namespace"] = json!("team-a");
    fake.upsert_app(team);
    fake.set_managed_resources_in(
        "team-a",
        name,
        vec![
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": "courses-fe"},
            "spec": {"hostnames": ["courses-fe.team-a.test"], "rules": [{"matches": [{"headers": [
                {"name": "cookie", "type": "RegularExpression",
                 "value": "(^|.*; )team\\-a\\-pr=123(;.*|$)"}]}]}]}}),
        ],
    );
    let sb = Sandbox::new();
    let url = server.url();
    let args = [
        "list",
        "-o",
        "json",
        "--server",
        &url,
        "--auth-token",
        TOKEN,
    ];
    let cookies = |run: &Run| -> Vec<(String, String)> {
        run.json()
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["app"] == name)
            .map(|p| {
                (
                    p["namespace"].as_str().unwrap_or_default().to_owned(),
                    p["routes"][0]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect()
    };
    // The control plane only: team-a is not enabled.
    let run = sb.run(&args, &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(cookies(&run).len(), 1, "{}", run.stdout);
    fake.set_application_namespaces(&["team-*"]);
    let run = sb.run(&args, &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let mut got = cookies(&run);
    got.sort();
    assert_eq!(
        got,
        [
            ("argocd".to_owned(), "team-courses-fe-pr".to_owned()),
            ("team-a".to_owned(), "team-a-pr".to_owned()),
        ],
        "{}",
        run.stdout
    );
}

/// Most installs use a private CA or a self-signed certificate: a real handshake against
/// the fake with a CA made here. Trusted through `--ca-cert` or `ca_cert`; refused without
/// it, in words naming both; accepted with `--insecure` and its warning.
#[tokio::test(flavor = "multi_thread")]
async fn tls_with_a_private_ca() {
    let (_fake, server, ca) = demo_server_tls().await;
    let sb = Sandbox::new();
    let ca_file = sb.write("corp-ca.pem", &ca.ca_pem);
    let url = server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let base = [
        "list",
        "-o",
        "json",
        "--server",
        url.as_str(),
        "--auth-token",
        TOKEN,
    ];

    let with_flag = sb
        .run(
            &[&base[..], &["--ca-cert", ca_file.to_str().unwrap()]].concat(),
            &[],
        )
        .await;
    assert_eq!(with_flag.code, 0, "{with_flag:#?}");
    assert_eq!(listed_apps(&with_flag).len(), 7);

    sb.write(
        ".config/preview-switch/config.toml",
        &format!(
            "[[servers]]\nname = \"corp\"\nurl = \"{url}\"\nca_cert = \"{}\"\n",
            ca_file.display()
        ),
    );
    let from_file = sb
        .run(&["list", "-o", "json"], &[("ARGOCD_AUTH_TOKEN", TOKEN)])
        .await;
    assert_eq!(from_file.code, 0, "{from_file:#?}");
    assert_eq!(listed_apps(&from_file).len(), 7);
    std::fs::remove_file(sb.home().join(".config/preview-switch/config.toml")).unwrap();

    let refused = sb.run(&base, &[]).await;
    assert_eq!(refused.code, 1, "{refused:#?}");
    assert!(
        refused.stderr.contains("unknown issuer")
            && refused.stderr.contains("--ca-cert")
            && refused.stderr.contains("ca_cert"),
        "{}",
        refused.stderr
    );

    let insecure = sb.run(&[&base[..], &["--insecure"]].concat(), &[]).await;
    assert_eq!(insecure.code, 0, "{insecure:#?}");
    assert!(
        insecure
            .stderr
            .contains("TLS certificate verification is off"),
        "{}",
        insecure.stderr
    );
}

/// `doctor` has a TLS line: passing with the CA, failing without it (with the fix), and a
/// warning for plain HTTP to another machine, where the token travels in clear.
#[tokio::test(flavor = "multi_thread")]
async fn doctor_shows_the_tls_line() {
    let (_fake, server, ca) = demo_server_tls().await;
    let sb = Sandbox::new();
    let ca_file = sb.write("corp-ca.pem", &ca.ca_pem);
    let url = server.url();
    let args = ["doctor", "--server", url.as_str(), "--auth-token", TOKEN];
    let ok = sb
        .run(
            &[&args[..], &["--ca-cert", ca_file.to_str().unwrap()]].concat(),
            &[],
        )
        .await;
    assert!(
        ok.stdout.contains(&format!(
            "ok   127.0.0.1:{} ({url}/): TLS: verified with the CA in {}",
            server.addr().port(),
            ca_file.display()
        )),
        "{}",
        ok.stdout
    );
    let bad = sb.run(&args, &[]).await;
    assert_eq!(bad.code, 1);
    assert!(
        bad.stdout.contains("FAIL")
            && bad.stdout.contains(": TLS: ")
            && bad.stdout.contains("unknown issuer"),
        "{}",
        bad.stdout
    );
    let plain = sb
        .run(
            &[
                "doctor",
                "--server",
                "http://argocd.invalid",
                "--auth-token",
                TOKEN,
                "--connect-timeout",
                "1s",
            ],
            &[],
        )
        .await;
    assert!(
        plain.stdout.contains("WARN")
            && plain.stdout.contains("plain HTTP to argocd.invalid")
            && plain.stdout.contains("the token travels in clear"),
        "{}",
        plain.stdout
    );
}

/// The CLI config's `certificate-authority-data` is trusted like `--ca-cert` and its
/// `insecure` like `--insecure`; a client certificate is refused by the field's name;
/// `--port-forward` and `--core` contexts are skipped with their reason instead of being
/// reported unreachable.
#[tokio::test(flavor = "multi_thread")]
async fn argocd_cli_contexts_with_a_ca_a_client_certificate_or_port_forward() {
    use base64::Engine as _;
    let (_fake, server, ca) = demo_server_tls().await;
    let sb = Sandbox::new();
    let host = server.url().trim_start_matches("https://").to_owned();
    let ca_data = base64::engine::general_purpose::STANDARD.encode(&ca.ca_pem);
    let config = |extra: &str| {
        format!(
            "contexts:\n- name: corp\n  server: {host}\n  user: corp\n- name: pf\n  server: port-forward\n  user: pf\n\
             - name: k8s\n  server: kubernetes\n  user: k8s\n\
             current-context: corp\n\
             servers:\n- server: {host}\n  grpc-web-root-path: \"\"\n  certificate-authority-data: {ca_data}\n{extra}\
             - server: port-forward\n  grpc-web-root-path: \"\"\n\
             - server: kubernetes\n  core: true\n\
             users:\n- name: corp\n  auth-token: {TOKEN}\n- name: pf\n  auth-token: {TOKEN}\n- name: k8s\n  auth-token: \"\"\n"
        )
    };
    sb.write(".config/argocd/config", &config(""));
    let run = sb.run(&["list", "-o", "json"], &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(listed_apps(&run).len(), 7);

    let all = sb.run(&["list", "-o", "json", "--all-contexts"], &[]).await;
    assert_eq!(all.code, 0, "{all:#?}");
    assert!(
        all.stderr.contains("skipping the argocd context `pf`")
            && all.stderr.contains("--port-forward")
            && all.stderr.contains("skipping the argocd context `k8s`")
            && all.stderr.contains("`argocd login --core` context")
            && !all.stderr.contains("cannot reach"),
        "{}",
        all.stderr
    );
    assert_eq!(listed_apps(&all).len(), 7, "{all:#?}");
    let pf = sb.run(&["list", "--context", "pf"], &[]).await;
    assert_eq!(pf.code, 2, "{pf:#?}");
    assert!(
        pf.stderr.contains("`argocd login --port-forward` context"),
        "{}",
        pf.stderr
    );

    sb.write(
        ".config/argocd/config",
        &config("  client-certificate-data: Zm9v\n  client-certificate-key-data: YmFy\n"),
    );
    let run = sb.run(&["list"], &[]).await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("client-certificate-data"),
        "{}",
        run.stderr
    );

    // `argocd login --insecure`: no CA, verification off, with the warning.
    sb.write(
        ".config/argocd/config",
        &format!(
            "contexts:\n- name: corp\n  server: {host}\n  user: corp\n\
             current-context: corp\n\
             servers:\n- server: {host}\n  insecure: true\n\
             users:\n- name: corp\n  auth-token: {TOKEN}\n"
        ),
    );
    let run = sb.run(&["list", "-o", "json"], &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(listed_apps(&run).len(), 7);
    assert!(
        run.stderr.contains("TLS certificate verification is off"),
        "{}",
        run.stderr
    );
}

/// Argo CD under `--rootpath argocd`: the API is at `/argocd/api/...` (un-prefixed paths
/// are 404), `list` works through the prefix, and the login advice names
/// `--grpc-web-root-path`, which the CLI needs there.
#[tokio::test(flavor = "multi_thread")]
async fn a_server_under_a_root_path() {
    let fake = fake_argocd::demo_scenario();
    let server = fake_argocd::serve_under(fake.clone(), "127.0.0.1:0".parse().unwrap(), "argocd")
        .await
        .unwrap();
    let sb = Sandbox::new();
    let url = format!("{}/argocd", server.url());
    let run = sb
        .run(
            &[
                "list",
                "-o",
                "json",
                "--server",
                &url,
                "--auth-token",
                TOKEN,
            ],
            &[],
        )
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(listed_apps(&run).len(), 7);
    let bare = sb
        .run(
            &["list", "--server", &server.url(), "--auth-token", TOKEN],
            &[],
        )
        .await;
    assert_eq!(bare.code, 1, "{bare:#?}");
    assert!(bare.stderr.contains("404"), "{}", bare.stderr);
    let rejected = sb
        .run(
            &[
                "list",
                "--server",
                &url,
                "--auth-token",
                "other-secret-token",
            ],
            &[],
        )
        .await;
    assert_eq!(rejected.code, 1, "{rejected:#?}");
    let host = server.url().trim_start_matches("http://").to_owned();
    assert!(
        rejected.stderr.contains(&format!(
            "argocd login {host} --plaintext --grpc-web-root-path argocd"
        )),
        "{}",
        rejected.stderr
    );
}
