//! `envs`, `refresh` and `sync` on the built binary against three fake Argo CDs (the demo's
//! dev, stag and prod): each case of the demo shows, a server down leaves the others shown
//! (exit 1), an untagged revision falls back to the image tag, revision metadata is read
//! once and then from the disk cache, and a role without `applications, sync` is told
//! exactly that.

use fake_argocd::environments::{self, EnvServer};
use fake_argocd::{FakeArgo, Running};
use serde_json::{Value, json};

use crate::support::{HostProc, Sandbox, TOKEN};

struct World {
    fakes: Vec<(String, FakeArgo, Running)>,
}

impl World {
    async fn start(servers: Vec<EnvServer>) -> World {
        let mut fakes = Vec::new();
        for s in servers {
            let fake = s.fake();
            let running = fake_argocd::serve(fake.clone(), "127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            fakes.push((s.name, fake, running));
        }
        World { fakes }
    }

    fn fake(&self, name: &str) -> &FakeArgo {
        &self.fakes.iter().find(|(n, _, _)| n == name).unwrap().1
    }

    /// A config.toml naming every server (the token in a token file).
    fn config(&self, sb: &Sandbox) {
        let token = sb.write("token", TOKEN);
        let mut text = String::new();
        for (name, _, running) in &self.fakes {
            text.push_str(&format!(
                "[[servers]]\nname = \"{name}\"\nurl = \"{}\"\ntoken_file = \"{}\"\n\n",
                running.url(),
                token.display()
            ));
        }
        sb.write(".config/preview-switch/config.toml", &text);
    }
}

fn env<'a>(services: &'a Value, service: &str, env: &str) -> &'a Value {
    services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == service)
        .unwrap_or_else(|| panic!("no {service} in {services:#}"))["envs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["env"] == env)
        .unwrap_or_else(|| panic!("no {service} in {env}"))
}

fn service<'a>(services: &'a Value, name: &str) -> &'a Value {
    services
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["service"] == name)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn envs_over_three_servers_shows_step_drift_backwards_and_a_paused_rollout() {
    let world = World::start(environments::demo(None)).await;
    let sb = Sandbox::new();
    world.config(&sb);
    let run = sb.run(&["envs", "-o", "json"], &[]).await;
    run.assert_no_secret(TOKEN);
    assert_eq!(run.code, 0, "{run:#?}");
    let services = run.json();
    let names: Vec<&str> = services
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["checkout-api", "courses-fe", "payments-api", "search-ui"],
        "previews are not environments"
    );
    // In step.
    assert_eq!(service(&services, "courses-fe")["in_step"], true);
    assert_eq!(env(&services, "courses-fe", "prod")["version"], "v5.34.0");
    // Differs, and says how.
    let checkout = service(&services, "checkout-api");
    assert_eq!(checkout["in_step"], false);
    assert_eq!(
        checkout["differs"],
        "prod runs v2.7.3; dev, stag run v2.8.0"
    );
    // Went backwards: 5.33.0 then 5.3.0.
    let search = env(&services, "search-ui", "prod");
    assert_eq!(
        (
            &search["version"],
            &search["previous_version"],
            &search["went_backwards"]
        ),
        (
            &Value::from("v5.3.0"),
            &Value::from("v5.33.0"),
            &Value::from(true)
        )
    );
    assert_eq!(env(&services, "search-ui", "dev")["went_backwards"], false);
    // A paused canary, read from the live Rollout.
    let payments = env(&services, "payments-api", "prod");
    assert_eq!(payments["health"], "Suspended");
    assert_eq!(payments["rollout"]["paused"], true);
    assert_eq!(
        (
            &payments["rollout"]["step"],
            &payments["rollout"]["steps"],
            &payments["rollout"]["weight"]
        ),
        (&Value::from(1), &Value::from(4), &Value::from(25))
    );
    assert_eq!(
        payments["notes"][0],
        "rollout paused at step 1 of 4, canary weight 25%"
    );
    // Deep links and the Argo CD page.
    assert_eq!(
        payments["links"]["deep_links"][0]["url"],
        "https://grafana.example.org/d/apps?var-app=payments-api"
    );
    assert!(
        payments["links"]["argocd"]
            .as_str()
            .unwrap()
            .ends_with("/applications/argocd/payments-api")
    );

    // The table says the same in words.
    let table = sb.run(&["envs"], &[]).await;
    assert_eq!(table.code, 0, "{table:#?}");
    let row = |s: &str| {
        table
            .stdout
            .lines()
            .find(|l| l.starts_with(s))
            .unwrap()
            .to_owned()
    };
    assert!(table.stdout.starts_with("SERVICE"), "{}", table.stdout);
    assert!(row("search-ui").contains("v5.3.0 ↓"), "{}", table.stdout);
    assert!(
        row("search-ui").contains("prod: went backwards from v5.33.0"),
        "{}",
        table.stdout
    );
    assert!(
        row("checkout-api").contains("not in step: prod runs v2.7.3"),
        "{}",
        table.stdout
    );
    assert!(
        row("payments-api").contains("prod: rollout paused at step 1 of 4"),
        "{}",
        table.stdout
    );
    // `--service` keeps one.
    let one = sb
        .run(&["envs", "-o", "json", "--service", "search-ui"], &[])
        .await;
    assert_eq!(one.json().as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_server_down_leaves_the_others_shown_and_exits_1() {
    let world = World::start(environments::demo(None)).await;
    let sb = Sandbox::new();
    world.config(&sb);
    // prod stops answering: its port is closed.
    let mut world = world;
    let (_, _, prod) = world.fakes.pop().unwrap();
    let prod_url = prod.url();
    prod.shutdown().await;
    let run = sb.run(&["envs", "-o", "json"], &[]).await;
    assert_eq!(run.code, 1, "{run:#?}");
    let services = run.json();
    assert_eq!(
        env(&services, "courses-fe", "stag")["version"],
        "v5.34.0",
        "dev and stag still shown"
    );
    assert!(
        service(&services, "courses-fe")["envs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["env"] != "prod")
    );
    assert!(
        run.stderr.contains("prod") && run.stderr.contains(&prod_url),
        "the failed server is named: {}",
        run.stderr
    );
    assert!(run.stderr.contains("cannot reach"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_untagged_revision_falls_back_to_the_image_tag_and_metadata_is_cached() {
    let world = World::start(environments::demo(None)).await;
    // checkout-api's commit on stag has no tag.
    let rev = environments::commit("checkout-api", "v2.8.0");
    let stag = world.fake("stag");
    stag.set_revision_metadata(
        &environments::repo("checkout-api"),
        &rev,
        &[],
        "untagged build",
    );
    // dev knows the same commit with its tag: a shared cache would hide the case, so
    // stag is asked first, alone.
    let only_stag = Sandbox::new();
    let token = only_stag.write("token", TOKEN);
    only_stag.write(
        ".config/preview-switch/config.toml",
        &format!(
            "[[servers]]\nname = \"stag\"\nurl = \"{}\"\ntoken_file = \"{}\"\n",
            world.fakes[1].2.url(),
            token.display()
        ),
    );
    let run = only_stag.run(&["envs", "-o", "json"], &[]).await;
    assert_eq!(run.code, 0, "{run:#?}");
    let services = run.json();
    let checkout = env(&services, "checkout-api", "stag");
    assert_eq!(
        (&checkout["version"], &checkout["version_from"]),
        (&Value::from("2.8.0"), &Value::from("image"))
    );

    // The second run reads every revision from the disk cache: no metadata request.
    let asked = |fake: &FakeArgo| {
        fake.requests()
            .iter()
            .filter(|r| r.path.contains("/revisions/"))
            .count()
    };
    let before = asked(stag);
    assert!(before > 0);
    let again = only_stag.run(&["envs", "-o", "json"], &[]).await;
    assert_eq!(again.code, 0);
    assert_eq!(asked(stag), before, "metadata came from the cache");
    assert_eq!(again.json(), services);
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_without_the_sync_permission_names_it_and_refresh_reaches_argo_cd() {
    let world = World::start(environments::demo(None)).await;
    let sb = Sandbox::new();
    world.config(&sb);
    let dev = world.fake("dev");

    let refreshed = sb.run(&["refresh", "courses-fe", "123"], &[]).await;
    assert_eq!(refreshed.code, 0, "{refreshed:#?}");
    assert_eq!(dev.refresh_count("courses-fe-pr-123"), 1);
    assert!(
        refreshed
            .stdout
            .starts_with("refreshed courses-fe-pr-123: Synced, Healthy"),
        "{}",
        refreshed.stdout
    );

    let synced = sb.run(&["sync", "courses-fe", "123"], &[]).await;
    assert_eq!(synced.code, 0, "{synced:#?}");
    assert!(
        synced
            .stdout
            .starts_with("sync of courses-fe-pr-123 started"),
        "{}",
        synced.stdout
    );
    assert_eq!(
        dev.syncs(),
        [("courses-fe-pr-123".to_owned(), "admin".to_owned())]
    );

    // A read-only role: it may list and refresh, not sync.
    dev.accept_token_as(TOKEN, "viewer", None);
    dev.limit_sync("viewer", &[]);
    let denied = sb.run(&["sync", "courses-fe", "123"], &[]).await;
    denied.assert_no_secret(TOKEN);
    assert_eq!(denied.code, 1, "{denied:#?}");
    assert!(
        denied.stderr.contains(
            "refused to sync courses-fe-pr-123: your Argo CD role lacks `applications, sync` on default/courses-fe-pr-123"
        ),
        "{}",
        denied.stderr
    );
    assert!(
        denied.stderr.contains(
            "ask an Argo CD admin to grant `applications, sync` on default/courses-fe-pr-123"
        ),
        "{}",
        denied.stderr
    );
    assert_eq!(dev.syncs().len(), 1, "nothing was synced");

    let unknown = sb.run(&["sync", "courses-fe", "999"], &[]).await;
    assert_eq!(unknown.code, 1);
    assert!(
        unknown
            .stderr
            .contains("no preview of courses-fe for PR 999"),
        "{}",
        unknown.stderr
    );
}

/// What a redeploy of a preview looks like to Argo CD: a new commit built into a new image,
/// synced and healthy, one more history entry.
fn redeploy(fake: &FakeArgo, app: &str, revision: &str) {
    fake.update_app(app, |a| {
        a["status"]["sync"]["revision"] = revision.into();
        a["status"]["summary"]["images"] = serde_json::json!([format!(
            "registry.example.test/web/courses-fe:dev-{}",
            &revision[..7]
        )]);
        let history = a["status"]["history"].as_array_mut().unwrap();
        let mut entry = history.last().unwrap().clone();
        entry["id"] = (entry["id"].as_i64().unwrap() + 1).into();
        entry["revision"] = revision.into();
        history.push(entry);
    });
}

/// Frames until one of `kind` comes; the notifications seen on the way are collected.
async fn until(host: &mut HostProc, kind: &str, notes: &mut Vec<Value>) -> Value {
    loop {
        let v = host.recv().await;
        if v["type"] == "notification" {
            notes.push(v.clone());
        }
        if v["type"] == kind {
            return v;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_host_answers_envs_acts_on_listed_apps_only_and_notifies_a_redeploy_once() {
    let world = World::start(environments::demo(None)).await;
    let sb = Sandbox::new();
    world.config(&sb);
    let dev = world.fake("dev");
    let dev_url = world.fakes[0].2.url();
    let mut host = HostProc::spawn(&sb, &["host"], &[]);

    host.send(json!({"id": 1, "type": "envs", "service": "search-ui"}))
        .await;
    let reply = host.reply(1).await;
    assert_eq!(reply["type"], "envs", "{reply:#}");
    assert_eq!(reply["services"].as_array().unwrap().len(), 1);
    assert_eq!(
        env(&reply["services"], "search-ui", "prod")["went_backwards"],
        true
    );

    // Only what it listed: an app it never showed is refused before Argo CD is asked.
    host.send(json!({"id": 2, "type": "sync_app", "server": dev_url, "namespace": "argocd", "app": "argocd-server"}))
        .await;
    let refused = host.reply(2).await;
    assert_eq!(refused["code"], "not_found", "{refused:#}");
    assert!(dev.syncs().is_empty());

    // Subscribed, a redeploy of PR 123 is one notification naming the new commit.
    let mut notes = Vec::new();
    host.send(json!({"id": 3, "type": "subscribe"})).await;
    until(&mut host, "previews_changed", &mut notes).await;
    assert!(
        notes.is_empty(),
        "the first sight notifies nothing: {notes:#?}"
    );
    let revision = "5e6f708d5e6f708192a3b4c5d6e7f8091a2b3c4d";
    dev.set_revision_metadata(
        "https://github.com/example-org/courses-fe.git",
        revision,
        &[],
        "Fix enrolment button\n\nOn small screens the button was hidden.",
    );
    redeploy(dev, "courses-fe-pr-123", revision);
    let note = until(&mut host, "notification", &mut notes).await;
    assert_eq!(note["kind"], "deployed");
    assert_eq!(note["revision"], revision);
    assert_eq!(
        note["message"],
        "courses-fe PR 123 now runs 5e6f708: Fix enrolment button"
    );
    assert!(
        note["link"]
            .as_str()
            .unwrap()
            .ends_with("/applications/argocd/courses-fe-pr-123")
    );

    // Refresh through the host reaches Argo CD, and repeats nothing.
    host.send(json!({"id": 4, "type": "refresh_app", "server": dev_url, "namespace": "argocd", "app": "courses-fe-pr-123"}))
        .await;
    let done = until(&mut host, "app_action", &mut notes).await;
    assert_eq!(done["action"], "refresh", "{done:#}");
    assert_eq!(dev.refresh_count("courses-fe-pr-123"), 1);
    // Deep links of a listed preview.
    host.send(json!({"id": 5, "type": "app_links", "server": dev_url, "namespace": "argocd", "app": "courses-fe-pr-123"}))
        .await;
    let links = until(&mut host, "app_links", &mut notes).await;
    assert_eq!(
        links["links"][0]["url"],
        "https://grafana.example.org/d/apps?var-app=courses-fe-pr-123"
    );
    // A sync the role may not do names the permission, typed.
    dev.accept_token_as(TOKEN, "viewer", None);
    dev.limit_sync("viewer", &[]);
    host.send(json!({"id": 6, "type": "sync_app", "server": dev_url, "namespace": "argocd", "app": "courses-fe-pr-123"}))
        .await;
    let denied = until(&mut host, "error", &mut notes).await;
    assert_eq!(denied["code"], "permission_missing", "{denied:#}");
    assert!(
        denied["message"]
            .as_str()
            .unwrap()
            .contains("lacks `applications, sync` on default/courses-fe-pr-123"),
        "{denied:#}"
    );
    assert_eq!(notes.len(), 1, "exactly one notification: {notes:#?}");
    assert_eq!(host.close().await, 0);

    // A new host (the browser restarted) subscribes again: nothing is replayed.
    let mut host = HostProc::spawn(&sb, &["host"], &[]);
    host.send(json!({"id": 1, "type": "subscribe"})).await;
    let mut again = Vec::new();
    until(&mut host, "subscribed", &mut again).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    host.send(json!({"id": 2, "type": "hello", "protocol": 1}))
        .await;
    until(&mut host, "hello", &mut again).await;
    assert!(again.is_empty(), "replayed: {again:#?}");
    assert_eq!(host.close().await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn watched_environments_notify_a_deploy_and_others_stay_quiet() {
    let world = World::start(environments::demo(None)).await;
    let sb = Sandbox::new();
    world.config(&sb);
    let prod = world.fake("prod");
    let mut host = HostProc::spawn(&sb, &["host"], &[]);
    let mut notes = Vec::new();
    host.send(json!({"id": 1, "type": "subscribe"})).await;
    until(&mut host, "subscribed", &mut notes).await;
    host.send(json!({"id": 2, "type": "watch_envs", "services": ["search-ui"]}))
        .await;
    let watching = until(&mut host, "watching_envs", &mut notes).await;
    assert_eq!(watching["services"], json!(["search-ui"]));
    // The first read of the environments only records them.
    let whole_lists = |f: &FakeArgo| {
        f.requests()
            .iter()
            .filter(|r| {
                r.path == "/api/v1/applications" && r.query.as_deref().unwrap_or("").is_empty()
            })
            .count()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while whole_lists(prod) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "prod's environments were never read"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;

    // Controller reconciles (`status.reconciledAt` on every app, every ~3 min each) change
    // nothing anyone sees: the watch leaves that field out, the server drops those events,
    // and nothing is read again (each would cost an environments read otherwise).
    while prod.request_count("/api/v1/stream/applications") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "prod was never watched"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The watch's opening replay (every app ADDED) is one more read, and so is the first
    // reconcile after it: the server compares whole frames, type included, and MODIFIED is
    // not the ADDED it last sent. Let both settle; from then on reconciles are dropped.
    prod.reconcile_all();
    // Settled: no new read for three seconds running (one quiet second was not enough on a
    // loaded 2-core machine, where that re-read can start late).
    let mut before = whole_lists(prod);
    let mut quiet = 0;
    while quiet < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        let now = whole_lists(prod);
        quiet = if now == before { quiet + 1 } else { 0 };
        before = now;
    }
    for _ in 0..3 {
        prod.reconcile_all();
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert_eq!(
        whole_lists(prod),
        before,
        "a reconcile-only change re-read the environments"
    );

    // prod goes back to 5.33.0; checkout-api (not watched) moves too.
    let fixed = environments::commit("search-ui", "v5.33.0");
    prod.update_app("search-ui", |a| {
        a["status"]["sync"]["revision"] = fixed.clone().into();
        a["status"]["summary"]["images"] = json!(["registry.example.test/web/search-ui:5.33.0"]);
    });
    prod.update_app("checkout-api", |a| {
        a["status"]["sync"]["revision"] = environments::commit("checkout-api", "v2.8.0").into();
    });
    let note = until(&mut host, "notification", &mut notes).await;
    assert_eq!(
        (
            note["kind"].as_str(),
            note["service"].as_str(),
            note["env"].as_str(),
            note["pr"].is_null()
        ),
        (Some("deployed"), Some("search-ui"), Some("prod"), true)
    );
    assert_eq!(
        note["message"],
        format!(
            "search-ui in prod now runs {}: Release v5.33.0",
            &fixed[..7]
        )
    );
    // Nothing else: the unwatched service changed too, but is not notified.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    host.send(json!({"id": 3, "type": "hello", "protocol": 1}))
        .await;
    until(&mut host, "hello", &mut notes).await;
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(host.close().await, 0);
}
