//! The fake's per-application endpoints for "what runs where" and for acting on an app:
//! revision metadata (a commit's tags), the admin-defined deep links, the resource tree
//! (Argo Rollouts' health from their live objects), `POST …/sync` with its own RBAC grant,
//! and `?refresh=normal` on a single-app GET. Each follows the upstream function named on
//! it (rows in `BEHAVIOURS.md`); the per-app 403/404 rules are the fake's one `get_app_enforce_rbac` (through `find_app`).
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::FakeArgo;
use super::server::{Query, authorize, error, find_app, json_body};

impl Query {
    /// A query of these key/value pairs (for calls whose app lookup keys differ).
    fn of<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Query {
        Query {
            params: pairs
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }
}

/// What the fake knows beyond the apps: commits, links, who may sync, what was asked.
#[derive(Default)]
pub(crate) struct EnvsState {
    /// `(repoURL, revision)` → `RevisionMetadata` JSON.
    revisions: HashMap<(String, String), Value>,
    /// The deep links every app gets (argocd-cm `application.links`, already evaluated),
    /// with `{name}` replaced by the app's name.
    links: Vec<Value>,
    /// username → the projects whose apps it may sync; absent: the projects it may read
    /// (Argo CD's built-in `role:admin`).
    sync_grants: HashMap<String, Vec<String>>,
    /// Apps whose sync a sync window blocks.
    sync_windows: HashSet<String>,
    /// Every sync started: (app name, username).
    syncs: Vec<(String, String)>,
    /// Refreshes per app name.
    refreshes: HashMap<String, u64>,
}

impl FakeArgo {
    /// The commit `revision` of `repo`: its tags and message, as the repo server reads them.
    pub fn set_revision_metadata(&self, repo: &str, revision: &str, tags: &[&str], message: &str) {
        let meta = json!({
            "author": "Ada Lovelace <ada@example.org>",
            "date": "2026-11-19T14:00:00Z",
            "tags": tags,
            "message": message,
        });
        let mut st = self.lock();
        let meta = match meta {
            // `tags` is `omitempty` upstream.
            Value::Object(mut m) if tags.is_empty() => {
                m.remove("tags");
                Value::Object(m)
            }
            other => other,
        };
        st.envs
            .revisions
            .insert((repo.to_owned(), revision.to_owned()), meta);
    }

    /// The deep links every app lists (`title`, `url` with `{name}` for the app's name).
    pub fn set_deep_links(&self, links: &[(&str, &str)]) {
        self.lock().envs.links = links
            .iter()
            .map(|(title, url)| json!({"title": title, "url": url}))
            .collect();
    }

    /// Limits `username`'s `applications, sync` grant to `projects` (empty: none), apart
    /// from what it may read.
    pub fn limit_sync(&self, username: &str, projects: &[&str]) {
        self.lock().envs.sync_grants.insert(
            username.to_owned(),
            projects.iter().map(|p| (*p).to_owned()).collect(),
        );
    }

    /// A sync window now blocks syncing `app`.
    pub fn block_sync(&self, app: &str) {
        self.lock().envs.sync_windows.insert(app.to_owned());
    }

    /// Every sync started so far: (app, username).
    pub fn syncs(&self) -> Vec<(String, String)> {
        self.lock().envs.syncs.clone()
    }

    /// How many `?refresh=` GETs reached `app`.
    pub fn refresh_count(&self, app: &str) -> u64 {
        self.lock().envs.refreshes.get(app).copied().unwrap_or(0)
    }
}

/// The app a per-app GET names, once its caller is signed in and may read it (the get
/// check every handler here starts with: `authorize`, then `find_app` on `lookup`), or the
/// refusal as the response.
#[allow(clippy::result_large_err)] // axum's Response, which the handlers return as is
fn readable_app(
    fake: &FakeArgo,
    headers: &HeaderMap,
    name: &str,
    lookup: &Query,
) -> Result<std::sync::Arc<crate::StoredApp>, Response> {
    let grant = authorize(fake, headers).map_err(IntoResponse::into_response)?;
    find_app(fake, name, lookup, &grant)
}

/// `GET /api/v1/applications/{name}/revisions/{revision}/metadata`
/// (server/application/application.go :: `Server.RevisionMetadata`: the get check, then
/// the repo server's reposerver/repository/repository.go :: `GetRevisionMetadata`, which
/// wants a resolved commit and answers `tags` only when the commit has some).
pub(crate) async fn revision_metadata(
    State(fake): State<FakeArgo>,
    Path((name, revision)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let app = match readable_app(&fake, &headers, &name, &Query::parse(raw)) {
        Ok(a) => a,
        Err(r) => return r,
    };
    if revision.len() != 40 || !revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            2,
            &format!("revision {revision} must be resolved"),
        );
    }
    let repo = app
        .value
        .pointer("/spec/source/repoURL")
        .or_else(|| app.value.pointer("/spec/sources/0/repoURL"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let meta = fake
        .lock()
        .envs
        .revisions
        .get(&(repo, revision.clone()))
        .cloned();
    match meta {
        Some(m) => json_body(StatusCode::OK, m.to_string()),
        None => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            2,
            &format!(
                "rpc error: code = Unknown desc = unable to resolve git revision {revision}: object not found"
            ),
        ),
    }
}

/// `GET /api/v1/applications/{name}/links` (server/application/application.go ::
/// `Server.ListLinks`: the get check with `namespace`, not `appNamespace`, then
/// server/deeplinks/deeplinks.go :: `EvaluateDeepLinksResponse`; no links is `{}`).
pub(crate) async fn links(
    State(fake): State<FakeArgo>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw);
    let lookup = Query::of(
        q.one("namespace")
            .map(|ns| ("appNamespace", ns))
            .into_iter()
            .chain(q.one("project").map(|p| ("project", p))),
    );
    if let Err(r) = readable_app(&fake, &headers, &name, &lookup) {
        return r;
    }
    let items: Vec<Value> = fake
        .lock()
        .envs
        .links
        .iter()
        .map(|l| {
            let mut l = l.clone();
            if let Some(url) = l["url"].as_str() {
                l["url"] = Value::String(url.replace("{name}", &name));
            }
            l
        })
        .collect();
    let body = if items.is_empty() {
        json!({})
    } else {
        json!({ "items": items })
    };
    json_body(StatusCode::OK, body.to_string())
}

/// `GET /api/v1/applications/{name}/resource-tree` (server/application/application.go ::
/// `Server.ResourceTree`; nodes from controller/cache/cache.go :: `asResourceNode`). A
/// Rollout's only info item is `Revision` (util/resource/revision.go :: `GetRevision`,
/// from `rollout.argoproj.io/revision`); its health is the built-in
/// resource_customizations/argoproj.io/Rollout/health.lua: `status.phase`, with `Paused`
/// read as `Suspended`, and `status.message`.
pub(crate) async fn resource_tree(
    State(fake): State<FakeArgo>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Err(r) = readable_app(&fake, &headers, &name, &Query::parse(raw)) {
        return r;
    }
    let items = fake.lock().managed.get(&name).cloned().unwrap_or_default();
    let nodes: Vec<Value> = items
        .iter()
        .filter_map(|item| {
            let live: Value = serde_json::from_str(item["liveState"].as_str()?).ok()?;
            let mut node = json!({
                "group": item["group"], "version": item["version"], "kind": item["kind"],
                "namespace": item["namespace"], "name": item["name"],
                "uid": live.pointer("/metadata/uid").cloned().unwrap_or(json!("")),
                "resourceVersion": live.pointer("/metadata/resourceVersion").cloned().unwrap_or(json!("1")),
            });
            if item["kind"] == "Rollout" {
                if let Some(rev) = live
                    .pointer("/metadata/annotations/rollout.argoproj.io~1revision")
                    .and_then(Value::as_str)
                {
                    node["info"] = json!([{"name": "Revision", "value": format!("Rev:{rev}")}]);
                }
                node["health"] = rollout_health(&live);
            }
            Some(node)
        })
        .collect();
    let body = if nodes.is_empty() {
        json!({})
    } else {
        json!({ "nodes": nodes })
    };
    json_body(StatusCode::OK, body.to_string())
}

/// resource_customizations/argoproj.io/Rollout/health.lua for a Rollout with a phase.
fn rollout_health(live: &Value) -> Value {
    match live.pointer("/status/phase").and_then(Value::as_str) {
        Some(phase) => {
            let status = if phase == "Paused" {
                "Suspended"
            } else {
                phase
            };
            let mut h = json!({ "status": status });
            if let Some(m) = live.pointer("/status/message").and_then(Value::as_str) {
                h["message"] = json!(m);
            }
            h
        }
        None => {
            json!({"status": "Progressing", "message": "Waiting for rollout spec update to be observed"})
        }
    }
}

/// `POST /api/v1/applications/{name}/sync` (server/application/application.go ::
/// `Server.Sync`): the body is the whole `ApplicationSyncRequest`; first the get check
/// (`getApplicationEnforceRBACClient`, plain `permission denied`), then sync windows
/// (`cannot sync: blocked by sync window`, 403), then `applications, sync` on the app
/// (util/rbac/rbac.go :: `EnforceErr`: `permission denied: applications, sync,
/// <project>/<name>, sub: <user>`); then it sets the app's `operation` and answers the
/// updated Application.
pub(crate) async fn sync(
    State(fake): State<FakeArgo>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let grant = match authorize(&fake, &headers) {
        Ok(g) => g,
        Err(e) => return e.into_response(),
    };
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                3,
                &format!("invalid character in the request body: {e}"),
            );
        }
    };
    let str_of = |k: &str| req.get(k).and_then(Value::as_str).unwrap_or_default();
    let lookup = Query::of(
        [
            ("appNamespace", str_of("appNamespace")),
            ("project", str_of("project")),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty()),
    );
    let app = match find_app(&fake, &name, &lookup, &grant) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let (blocked, may_sync) = {
        let st = fake.lock();
        let may = match st.envs.sync_grants.get(&grant.username) {
            Some(projects) => projects.iter().any(|p| *p == app.project || p == "*"),
            None => grant.can_read(&app.project),
        };
        (st.envs.sync_windows.contains(&name), may)
    };
    if blocked {
        return error(
            StatusCode::FORBIDDEN,
            7,
            "cannot sync: blocked by sync window",
        );
    }
    if !may_sync {
        return error(
            StatusCode::FORBIDDEN,
            7,
            &format!(
                "permission denied: applications, sync, {}/{name}, sub: {}, iat: 2026-11-20T08:00:00Z",
                app.project, grant.username
            ),
        );
    }
    let revision = match str_of("revision") {
        "" => app
            .value
            .pointer("/spec/source/targetRevision")
            .and_then(Value::as_str)
            .unwrap_or("HEAD")
            .to_owned(),
        r => r.to_owned(),
    };
    fake.lock()
        .envs
        .syncs
        .push((name.clone(), grant.username.clone()));
    let mut updated = app.value.clone();
    updated["operation"] = json!({
        "sync": {"revision": revision, "prune": req.get("prune").and_then(Value::as_bool).unwrap_or(false)},
        "initiatedBy": {"username": grant.username},
    });
    fake.upsert_app(updated);
    let stored = fake.app(&name).unwrap_or_default();
    json_body(StatusCode::OK, stored.to_string())
}

/// `?refresh=normal|hard` on `GET /api/v1/applications/{name}` (server/application/
/// application.go :: `Server.Get` → util/argo/argo.go :: `RefreshApp`): after the get
/// check it patches the refresh annotation and waits until the controller has reconciled
/// the app, then answers it. The fake's controller is instant: the app gets a new
/// resourceVersion (watchers see MODIFIED) before the GET handler answers it.
pub(crate) async fn refresh_layer(
    State(fake): State<FakeArgo>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_owned();
    let single = path
        .strip_prefix("/api/v1/applications/")
        .filter(|rest| !rest.is_empty() && !rest.contains('/'));
    if req.method() == Method::GET
        && let Some(name) = single
    {
        let q = Query::parse(req.uri().query().map(str::to_owned));
        if q.one("refresh").is_some() && readable_app(&fake, req.headers(), name, &q).is_ok() {
            let name = name.to_owned();
            *fake.lock().envs.refreshes.entry(name.clone()).or_default() += 1;
            fake.update_app(&name, |app| {
                if let Some(status) = app.get_mut("status").and_then(Value::as_object_mut) {
                    status.insert("reconciledAt".into(), json!("2026-11-22T10:05:00Z"));
                }
            });
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use crate::FakeArgo;
    use crate::generate::AppBuilder;

    const REPO: &str = "https://github.com/example-org/web.git";

    fn fake() -> (FakeArgo, String) {
        let mut b = AppBuilder::base("web", 1);
        b.project = "shop".into();
        let app = b.build();
        let rev = app["status"]["sync"]["revision"]
            .as_str()
            .unwrap()
            .to_owned();
        let fake = FakeArgo::with_apps("admin", vec![app]);
        fake.accept_token_as("viewer", "viewer", None);
        fake.limit_sync("viewer", &[]);
        (fake, rev)
    }

    async fn call(
        fake: &FakeArgo,
        method: &str,
        uri: &str,
        token: &str,
        body: &str,
    ) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body.to_owned()))
            .unwrap();
        let resp = crate::router(fake.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn revision_metadata_has_tags_only_when_the_commit_has_some() {
        let (fake, rev) = fake();
        let repo = "https://github.com/example-org/web.git";
        fake.set_revision_metadata(repo, &rev, &["v1.2.0"], "Release 1.2.0\n\nnotes");
        let uri = format!("/api/v1/applications/web/revisions/{rev}/metadata");
        let (status, body) = call(&fake, "GET", &uri, "admin", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["tags"], json!(["v1.2.0"]));
        assert_eq!(body["message"], "Release 1.2.0\n\nnotes");
        fake.set_revision_metadata(repo, &rev, &[], "untagged");
        let (_, body) = call(&fake, "GET", &uri, "admin", "").await;
        assert!(body.get("tags").is_none(), "{body}");
        let (status, body) = call(
            &fake,
            "GET",
            "/api/v1/applications/web/revisions/main/metadata",
            "admin",
            "",
        )
        .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["message"], "revision main must be resolved");
        let (status, _) = call(
            &fake,
            "GET",
            &format!("/api/v1/applications/nope/revisions/{rev}/metadata"),
            "admin",
            "",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(REPO, repo);
    }

    #[tokio::test]
    async fn links_take_namespace_and_are_an_empty_object_without_any() {
        let (fake, _) = fake();
        let (status, body) = call(
            &fake,
            "GET",
            "/api/v1/applications/web/links?namespace=argocd",
            "admin",
            "",
        )
        .await;
        assert_eq!((status, body), (StatusCode::OK, json!({})));
        fake.set_deep_links(&[("Logs", "https://logs.example.org/{name}")]);
        let (_, body) = call(&fake, "GET", "/api/v1/applications/web/links", "admin", "").await;
        assert_eq!(body["items"][0]["url"], "https://logs.example.org/web");
        let (status, _) = call(
            &fake,
            "GET",
            "/api/v1/applications/web/links?namespace=other",
            "admin",
            "",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn sync_needs_its_own_grant_and_names_it_when_missing() {
        let (fake, _) = fake();
        let body = r#"{"appNamespace":"argocd"}"#;
        let (status, err) = call(
            &fake,
            "POST",
            "/api/v1/applications/web/sync",
            "viewer",
            body,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(err["code"], 7);
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .starts_with("permission denied: applications, sync, shop/web, sub: viewer"),
            "{err}"
        );
        // The get check comes first, with its bare message (a missing app reads the same).
        let (status, err) = call(
            &fake,
            "POST",
            "/api/v1/applications/nope/sync",
            "viewer",
            body,
        )
        .await;
        assert_eq!(
            (status, err["message"].as_str()),
            (StatusCode::FORBIDDEN, Some("permission denied"))
        );
        let (status, app) = call(
            &fake,
            "POST",
            "/api/v1/applications/web/sync",
            "admin",
            body,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(app["operation"]["initiatedBy"]["username"], "admin");
        assert_eq!(fake.syncs(), [("web".to_owned(), "admin".to_owned())]);
        fake.block_sync("web");
        let (status, err) = call(
            &fake,
            "POST",
            "/api/v1/applications/web/sync",
            "admin",
            body,
        )
        .await;
        assert_eq!(
            (status, err["message"].as_str()),
            (
                StatusCode::FORBIDDEN,
                Some("cannot sync: blocked by sync window")
            )
        );
    }

    #[tokio::test]
    async fn refresh_reconciles_before_the_get_answers() {
        let (fake, _) = fake();
        let before = fake.resource_version();
        let (status, app) = call(
            &fake,
            "GET",
            "/api/v1/applications/web?refresh=normal",
            "admin",
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(fake.refresh_count("web"), 1);
        assert_ne!(
            app["metadata"]["resourceVersion"].as_str(),
            Some(before.as_str())
        );
        assert_eq!(app["status"]["reconciledAt"], "2026-11-22T10:05:00Z");
        let (status, _) = call(
            &fake,
            "GET",
            "/api/v1/applications/nope?refresh=normal",
            "admin",
            "",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(fake.refresh_count("nope"), 0);
    }

    #[tokio::test]
    async fn a_paused_rollout_shows_suspended_in_the_tree() {
        let (fake, _) = fake();
        fake.set_managed_resources(
            "web",
            vec![json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
                "metadata": {"name": "web", "namespace": "web", "annotations": {"rollout.argoproj.io/revision": "7"}},
                "status": {"phase": "Paused", "message": "CanaryPauseStep", "currentStepIndex": 1}})],
        );
        let (_, tree) = call(
            &fake,
            "GET",
            "/api/v1/applications/web/resource-tree",
            "admin",
            "",
        )
        .await;
        let node = &tree["nodes"][0];
        assert_eq!(
            node["health"],
            json!({"status": "Suspended", "message": "CanaryPauseStep"})
        );
        assert_eq!(
            node["info"],
            json!([{"name": "Revision", "value": "Rev:7"}])
        );
        assert!(
            node.get("status").is_none(),
            "no phase, step or weight in the tree"
        );
    }
}
