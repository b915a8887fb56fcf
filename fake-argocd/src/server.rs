//! The fake Argo CD's HTTP surface: routes, auth, RBAC filtering, list and watch bodies,
//! and the fault middleware. Status codes and error bodies are the ones grpc-gateway
//! writes for the gRPC codes Argo CD returns (16 → 401, 7 → 403, 5 → 404, 2 → 500).
//!
//! Helpers return `Result<_, Response>`: the error *is* the HTTP answer, built once per
//! request, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::faults::{self, Fault};
use super::fields::{self, Fields};
use super::selector::Selector;
use super::{Bus, DEFAULT_APP_NAMESPACE, FakeArgo, Grant, StoredApp};

pub(crate) fn router(state: FakeArgo) -> Router {
    Router::new()
        .route("/api/version", get(version))
        .route("/api/v1/session/userinfo", get(userinfo))
        .route("/api/v1/applications", get(list))
        .route("/api/v1/applications/{name}", get(get_app))
        .route(
            "/api/v1/applications/{name}/managed-resources",
            get(managed_resources),
        )
        .route("/api/v1/stream/applications", get(watch))
        .route("/api/v1/applicationsets", get(applicationsets))
        .route(
            "/api/v1/applications/{name}/revisions/{revision}/metadata",
            get(super::envs::revision_metadata),
        )
        .route("/api/v1/applications/{name}/links", get(super::envs::links))
        .route(
            "/api/v1/applications/{name}/resource-tree",
            get(super::envs::resource_tree),
        )
        .route(
            "/api/v1/applications/{name}/sync",
            axum::routing::post(super::envs::sync),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not Found") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::envs::refresh_layer,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), fault_layer))
        .with_state(state)
}

// --- responses ----------------------------------------------------------------------------

pub(crate) fn json_body(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

/// grpc-gateway's error body: `{"error": msg, "code": grpc_code, "message": msg}`.
pub(crate) fn error(status: StatusCode, code: u8, message: &str) -> Response {
    let body = json!({"error": message, "code": code, "message": message});
    json_body(status, body.to_string())
}

fn permission_denied() -> Response {
    error(StatusCode::FORBIDDEN, 7, "permission denied")
}

fn not_found(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        5,
        &format!("applications.argoproj.io \"{name}\" not found"),
    )
}

// --- auth ---------------------------------------------------------------------------------

/// The token from `Authorization: Bearer`, else the `argocd.token` cookie (or its
/// `argocd.token-1`, `-2`... pieces, joined in order, as the UI splits large tokens).
fn bearer(headers: &HeaderMap) -> Option<String> {
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(token) = auth.and_then(|a| a.strip_prefix("Bearer ")) {
        return Some(token.trim().to_owned());
    }
    let mut whole = None;
    let mut pieces = Vec::new();
    for value in headers.get_all(header::COOKIE) {
        let Ok(value) = value.to_str() else { continue };
        for pair in value.split(';') {
            let Some((name, v)) = pair.trim().split_once('=') else {
                continue;
            };
            if name == "argocd.token" {
                whole = Some(v.to_owned());
            } else if let Some(n) = name
                .strip_prefix("argocd.token-")
                .and_then(|n| n.parse::<u32>().ok())
            {
                pieces.push((n, v.to_owned()));
            }
        }
    }
    if whole.is_some() {
        return whole;
    }
    pieces.sort();
    (!pieces.is_empty()).then(|| pieces.into_iter().map(|(_, v)| v).collect())
}

pub(crate) fn authorize(fake: &FakeArgo, headers: &HeaderMap) -> Result<Grant, Response> {
    let Some(token) = bearer(headers) else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            16,
            "no session information",
        ));
    };
    fake.lock().tokens.get(&token).cloned().ok_or_else(|| {
        error(
            StatusCode::UNAUTHORIZED,
            16,
            "invalid session: token signature is invalid",
        )
    })
}

// --- query --------------------------------------------------------------------------------

#[derive(Default)]
pub(crate) struct Query {
    pub(crate) params: Vec<(String, String)>,
}

impl Query {
    pub(crate) fn parse(raw: Option<String>) -> Query {
        let params = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default();
        Query { params }
    }

    pub(crate) fn one(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The filters shared by list and watch (`ApplicationQuery`).
struct AppFilter {
    name: Option<String>,
    projects: Vec<String>,
    namespace: Option<String>,
    selector: Selector,
    grant: Grant,
}

impl AppFilter {
    fn from_query(q: &Query, grant: Grant) -> Result<AppFilter, Response> {
        let selector = Selector::parse(q.one("selector").unwrap_or("")).map_err(|e| {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                2,
                &format!("error parsing the selector: {e}"),
            )
        })?;
        let mut projects: Vec<String> = q.all("projects").into_iter().map(str::to_owned).collect();
        projects.extend(q.all("project").into_iter().map(str::to_owned));
        Ok(AppFilter {
            name: q.one("name").map(str::to_owned),
            projects,
            namespace: q.one("appNamespace").map(str::to_owned),
            selector,
            grant,
        })
    }

    fn keeps(&self, app: &StoredApp) -> bool {
        self.grant.can_read(&app.project)
            && self.name.as_ref().is_none_or(|n| *n == app.name)
            && self.namespace.as_ref().is_none_or(|n| *n == app.namespace)
            && (self.projects.is_empty() || self.projects.contains(&app.project))
            && self.selector.matches(&app.labels)
    }
}

// --- handlers -----------------------------------------------------------------------------

async fn version(State(fake): State<FakeArgo>) -> Response {
    let v = fake.version();
    let body = json!({
        "Version": v,
        "BuildDate": "2025-06-27T14:06:26Z",
        "GitCommit": "e8b6e8b5b8a5d3f7c0b3a1e2d4f6a8c0e2b4d6f8",
        "GitTreeState": "clean",
        "GoVersion": "go1.24.4",
        "Compiler": "gc",
        "Platform": "linux/amd64",
        "KustomizeVersion": "v5.6.0 2025-01-14T15:12:15Z",
        "HelmVersion": "v3.17.3+ge4da497",
        "KubectlVersion": "v0.33.1",
        "JsonnetVersion": "v0.21.0"
    });
    json_body(StatusCode::OK, body.to_string())
}

/// Upstream authenticates but ignores the error here, and Go's `omitempty` then writes
/// `{}` for a bad or missing token (server/session/session.go `GetUserInfo`).
async fn userinfo(State(fake): State<FakeArgo>, headers: HeaderMap) -> Response {
    let body = match authorize(&fake, &headers) {
        Ok(grant) => json!({"loggedIn": true, "username": grant.username, "iss": "argocd"}),
        Err(_) => json!({}),
    };
    json_body(StatusCode::OK, body.to_string())
}

async fn list(
    State(fake): State<FakeArgo>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let grant = match authorize(&fake, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let q = Query::parse(raw);
    let filter = match AppFilter::from_query(&q, grant) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let fields = Fields::parse(q.one("fields"));
    let (apps, rv, version) = {
        let st = fake.lock();
        let apps: Vec<Arc<StoredApp>> = st
            .apps
            .values()
            .filter(|a| filter.keeps(a))
            .cloned()
            .collect();
        (apps, st.resource_version, st.version.clone())
    };
    let sync_revision = fields::version_has_sync_revision(&version);
    let mut chunks: Vec<Bytes> = Vec::with_capacity(apps.len() * 2 + 2);
    chunks.push(Bytes::from(format!(
        r#"{{"metadata":{{"resourceVersion":"{rv}"}},"items":"#
    )));
    if apps.is_empty() {
        // Go encodes the nil slice of an empty result as null.
        chunks.push(Bytes::from_static(b"null}"));
    } else {
        for (i, app) in apps.iter().enumerate() {
            chunks.push(Bytes::from_static(if i == 0 { b"[" } else { b"," }));
            chunks.push(match &fields {
                Some(f) => {
                    Bytes::from(fields::project_list_item(&app.value, f, sync_revision).to_string())
                }
                None => app.bytes.clone(),
            });
        }
        chunks.push(Bytes::from_static(b"]}"));
    }
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>));
    json_body(StatusCode::OK, Body::from_stream(stream))
}

/// Finds the app a single-app request names, applying Argo CD's rules: without
/// `project=`, a missing or unreadable app is 403 (so names cannot be probed); with it,
/// a missing app or one in another project is 404.
pub(crate) fn find_app(
    fake: &FakeArgo,
    name: &str,
    q: &Query,
    grant: &Grant,
) -> Result<Arc<StoredApp>, Response> {
    let namespace = q.one("appNamespace");
    let found = fake
        .lock()
        .apps
        .values()
        .find(|a| a.name == name && namespace.is_none_or(|ns| ns == a.namespace))
        .cloned();
    match (found, q.one("project")) {
        (Some(app), None) if grant.can_read(&app.project) => Ok(app),
        (Some(app), Some(p)) if p == app.project && grant.can_read(&app.project) => Ok(app),
        (Some(_) | None, None) => Err(permission_denied()),
        (Some(app), Some(p)) if p == app.project => Err(permission_denied()),
        (_, Some(_)) => Err(not_found(name)),
    }
}

async fn get_app(
    State(fake): State<FakeArgo>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let grant = match authorize(&fake, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let q = Query::parse(raw);
    let app = match find_app(&fake, &name, &q, &grant) {
        Ok(a) => a,
        Err(r) => return r,
    };
    match Fields::parse(q.one("fields")) {
        None => json_body(StatusCode::OK, app.bytes.clone()),
        Some(f) => {
            let mut v = app.value.clone();
            fields::generic(&mut v, &f);
            json_body(StatusCode::OK, v.to_string())
        }
    }
}

async fn managed_resources(
    State(fake): State<FakeArgo>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let grant = match authorize(&fake, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let q = Query::parse(raw);
    if let Err(r) = find_app(&fake, &name, &q, &grant) {
        return r;
    }
    let items: Vec<Value> = fake
        .lock()
        .managed
        .get(&name)
        .map(|items| {
            items
                .iter()
                .filter(|item| {
                    ["group", "kind", "namespace", "name", "version"]
                        .iter()
                        .all(|k| q.one(k).is_none_or(|want| item[*k] == want))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    // `items` has `omitempty` upstream: an app without resources answers `{}`.
    let mut body = if items.is_empty() {
        json!({})
    } else {
        json!({ "items": items })
    };
    if let Some(f) = Fields::parse(q.one("fields")) {
        fields::generic(&mut body, &f);
    }
    json_body(StatusCode::OK, body.to_string())
}

/// `GET /api/v1/applicationsets` (`ApplicationSetListQuery`: `projects`, `selector`,
/// `appsetNamespace`; no `fields`).
async fn applicationsets(
    State(fake): State<FakeArgo>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let grant = match authorize(&fake, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let q = Query::parse(raw);
    let selector = match Selector::parse(q.one("selector").unwrap_or("")) {
        Ok(s) => s,
        Err(e) => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                2,
                &format!("error parsing the selector: {e}"),
            );
        }
    };
    let projects = q.all("projects");
    let namespace = q.one("appsetNamespace").unwrap_or(DEFAULT_APP_NAMESPACE);
    // Like the real list: sets whose template's project the caller cannot read are
    // dropped silently (RBAC `applicationsets, get, <project>/<name>`).
    let appsets: Vec<Value> = fake
        .lock()
        .appsets
        .iter()
        .filter(|set| {
            let project = set
                .pointer("/spec/template/spec/project")
                .and_then(Value::as_str)
                .unwrap_or("default");
            let set_ns = set
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .unwrap_or(DEFAULT_APP_NAMESPACE);
            let labels = super::string_labels(set);
            grant.can_read(project)
                && set_ns == namespace
                && (projects.is_empty() || projects.contains(&project))
                && selector.matches(&labels)
        })
        .cloned()
        .collect();
    let body = json!({"metadata": {}, "items": if appsets.is_empty() { Value::Null } else { Value::Array(appsets) }});
    json_body(StatusCode::OK, body.to_string())
}

// --- watch --------------------------------------------------------------------------------

struct Watch {
    rx: broadcast::Receiver<Bus>,
    initial: VecDeque<Arc<StoredApp>>,
    filter: AppFilter,
    fields: Option<Fields>,
    sse: bool,
    keepalive: tokio::time::Interval,
    /// Upstream drops a message identical to the last one sent for the same app.
    last: HashMap<String, Bytes>,
}

impl Watch {
    /// The frame for one event, or `None` when it is filtered out or a repeat.
    fn frame(&mut self, kind: &str, app: &StoredApp) -> Option<Bytes> {
        if !self.filter.keeps(app) {
            return None;
        }
        let json = match &self.fields {
            None => {
                let mut v = Vec::with_capacity(app.bytes.len() + 48);
                v.extend_from_slice(br#"{"result":{"type":""#);
                v.extend_from_slice(kind.as_bytes());
                v.extend_from_slice(br#"","application":"#);
                v.extend_from_slice(&app.bytes);
                v.extend_from_slice(b"}}");
                v
            }
            Some(f) => {
                let mut v = json!({"result": {"type": kind, "application": app.value}});
                fields::generic(&mut v, f);
                v.to_string().into_bytes()
            }
        };
        let json = Bytes::from(json);
        if self.last.get(&app.name) == Some(&json) {
            return None;
        }
        self.last.insert(app.name.clone(), json.clone());
        let mut out = Vec::with_capacity(json.len() + 10);
        if self.sse {
            // argoproj/pkg writes "data: %s \n\n" (with that space).
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&json);
            out.extend_from_slice(b" \n\n");
        } else {
            out.extend_from_slice(&json);
            out.push(b'\n');
        }
        Some(Bytes::from(out))
    }

    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            if let Some(app) = self.initial.pop_front() {
                if let Some(f) = self.frame("ADDED", &app) {
                    return Some(f);
                }
                continue;
            }
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Ok(Bus::Event(kind, app)) => {
                        if let Some(f) = self.frame(kind, &app) {
                            return Some(f);
                        }
                    }
                    Ok(Bus::End) | Err(broadcast::error::RecvError::Closed) => return None,
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                },
                _ = self.keepalive.tick(), if self.sse => return Some(Bytes::from_static(b":\n")),
            }
        }
    }
}

async fn watch(
    State(fake): State<FakeArgo>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let grant = match authorize(&fake, &headers) {
        Ok(g) => g,
        Err(r) => return r,
    };
    let q = Query::parse(raw);
    let filter = match AppFilter::from_query(&q, grant) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let sse = headers
        .get(header::ACCEPT)
        .is_some_and(|a| a.as_bytes() == b"text/event-stream");
    // Subscribe before the snapshot so no change falls between the two.
    let rx = fake.subscribe();
    let (initial, period) = {
        let st = fake.lock();
        let initial = if q.one("resourceVersion").is_none() {
            st.apps.values().cloned().collect()
        } else {
            VecDeque::new()
        };
        (initial, st.keepalive)
    };
    let start = tokio::time::Instant::now() + period;
    let watch = Watch {
        rx,
        initial,
        filter,
        fields: Fields::parse(q.one("fields")),
        sse,
        keepalive: tokio::time::interval_at(start, period),
        last: HashMap::new(),
    };
    let stream = futures_util::stream::unfold(watch, |mut w| async move {
        let frame = w.next_frame().await?;
        Some((Ok::<_, Infallible>(frame), w))
    });
    let content_type = if sse {
        "text/event-stream"
    } else {
        "application/json"
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

// --- faults -------------------------------------------------------------------------------

async fn fault_layer(State(fake): State<FakeArgo>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    fake.record(&path, req.uri().query());
    let faults = fake.take_faults(&path);
    for fault in &faults {
        if let Fault::Delay(d) = fault {
            tokio::time::sleep(*d).await;
        }
    }
    let Some(fault) = faults.iter().find(|f| !matches!(f, Fault::Delay(_))) else {
        return next.run(req).await;
    };
    if let Fault::EchoAuthorization(code) = fault {
        let auth = req.headers().get(header::AUTHORIZATION);
        return faults::echo_authorization(*code, auth.and_then(|v| v.to_str().ok()));
    }
    if let Some(resp) = faults::replacement(fault, &fake.resource_version()) {
        return resp;
    }
    let resp = next.run(req).await;
    faults::wrap(fault, resp).await
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use futures_util::StreamExt;
    use serde_json::{Value, json};
    use tower::ServiceExt;

    use crate::generate::AppBuilder;
    use crate::{FakeArgo, Fault, FaultRule, Scenario, serve};

    const TOKEN: &str = "demo-token";

    fn demo() -> FakeArgo {
        Scenario::demo(None).fake()
    }

    async fn call_with(
        fake: &FakeArgo,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut req = Request::get(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = super::router(fake.clone())
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, body.to_vec())
    }

    async fn call(fake: &FakeArgo, uri: &str) -> (StatusCode, Value) {
        let auth = format!("Bearer {TOKEN}");
        let (status, _, body) = call_with(fake, uri, &[("authorization", &auth)]).await;
        let json = serde_json::from_slice(&body)
            .unwrap_or_else(|e| panic!("{uri}: {e}: {}", String::from_utf8_lossy(&body)));
        (status, json)
    }

    fn names(list: &Value) -> Vec<String> {
        list["items"]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::new()
    }

    #[tokio::test]
    async fn version_needs_no_token_and_uses_pascal_case() {
        let fake = demo();
        fake.set_version("v3.5.1+abcdef0");
        let (status, _, body) = call_with(&fake, "/api/version", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Version"], "v3.5.1+abcdef0");
    }

    #[tokio::test]
    async fn missing_or_wrong_token_is_401_with_grpc_code_16() {
        let fake = demo();
        let (status, _, body) = call_with(&fake, "/api/v1/applications", &[]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], 16);
        let (status, _, body) = call_with(
            &fake,
            "/api/v1/applications",
            &[("authorization", "Bearer nope")],
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("invalid session")
        );
        assert_eq!(v["error"], v["message"]);
        fake.revoke_token(TOKEN);
        assert_eq!(
            call(&fake, "/api/v1/applications").await.0,
            StatusCode::UNAUTHORIZED
        );
    }

    #[tokio::test]
    async fn token_cookie_whole_or_split_is_accepted() {
        let fake = demo();
        let (status, _, _) = call_with(
            &fake,
            "/api/v1/applications",
            &[("cookie", "x=1; argocd.token=demo-token")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = call_with(
            &fake,
            "/api/v1/applications",
            &[("cookie", "argocd.token-2=token; argocd.token-1=demo-")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }

    #[tokio::test]
    async fn userinfo_says_logged_in_or_answers_empty() {
        let fake = demo();
        let (status, v) = call(&fake, "/api/v1/session/userinfo").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["loggedIn"], true);
        assert_eq!(v["username"], "admin");
        let (status, _, body) = call_with(
            &fake,
            "/api/v1/session/userinfo",
            &[("authorization", "Bearer expired")],
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, b"{}");
    }

    #[tokio::test]
    async fn list_is_sorted_and_filtered_by_selector() {
        let fake = demo();
        let (_, all) = call(&fake, "/api/v1/applications").await;
        let all_names = names(&all);
        let mut sorted = all_names.clone();
        sorted.sort();
        assert_eq!(all_names, sorted);
        assert_eq!(all_names.len(), 10);
        assert!(all["metadata"]["resourceVersion"].is_string());

        let (_, prs) = call(&fake, "/api/v1/applications?selector=type%3Dpr").await;
        assert_eq!(names(&prs).len(), 7);
        assert!(names(&prs).iter().all(|n| n.contains("-pr-")));
        let (_, not_pr) = call(&fake, "/api/v1/applications?selector=type!%3Dpr").await;
        assert_eq!(names(&not_pr), ["checkout-api", "courses-fe", "search-ui"]);
        let (_, svc) = call(
            &fake,
            "/api/v1/applications?selector=preview-switch.io/service+in+(search-ui),type%3D%3Dpr",
        )
        .await;
        assert_eq!(
            names(&svc),
            ["search-ui-pr-7", "search-ui-pr-8", "search-ui-pr-9"]
        );
        let (_, one) = call(&fake, "/api/v1/applications?name=courses-fe-pr-123").await;
        assert_eq!(names(&one), ["courses-fe-pr-123"]);
        let (status, err) = call(&fake, "/api/v1/applications?selector=type+in+pr").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err["code"], 2);
    }

    #[tokio::test]
    async fn empty_list_has_items_null() {
        let fake = demo();
        let (status, v) = call(&fake, "/api/v1/applications?selector=type%3Dnone").await;
        assert_eq!(status, StatusCode::OK);
        assert!(v["items"].is_null(), "{v}");
        let (_, v) = call(&fake, "/api/v1/applications?projects=nope").await;
        assert!(v["items"].is_null());
    }

    fn rbac_fake() -> FakeArgo {
        let mut a = AppBuilder::preview("courses-fe", 1, 1);
        a.project = "team-a".into();
        let mut b = AppBuilder::preview("checkout-api", 2, 2);
        b.project = "team-b".into();
        let fake = FakeArgo::with_apps(TOKEN, vec![a.build(), b.build()]);
        fake.accept_token_as("limited", "alice", Some(&["team-a"]));
        fake
    }

    #[tokio::test]
    async fn rbac_drops_unreadable_apps_silently() {
        let fake = rbac_fake();
        let auth = [("authorization", "Bearer limited")];
        let (status, _, body) = call_with(&fake, "/api/v1/applications", &auth).await;
        assert_eq!(status, StatusCode::OK);
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(names(&v), ["courses-fe-pr-1"]);
        let (_, _, body) = call_with(&fake, "/api/v1/applications?projects=team-b", &auth).await;
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(
            v["items"].is_null(),
            "RBAC makes an empty list, not an error"
        );
        let (_, all) = call(
            &fake,
            "/api/v1/applications?projects=team-a&projects=team-b",
        )
        .await;
        assert_eq!(names(&all).len(), 2);
    }

    #[tokio::test]
    async fn missing_or_forbidden_app_is_403_but_404_with_project() {
        let fake = rbac_fake();
        let (status, v) = call(&fake, "/api/v1/applications/nope").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(
            v,
            json!({"error": "permission denied", "code": 7, "message": "permission denied"})
        );
        let (status, v) = call(&fake, "/api/v1/applications/nope?project=team-a").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(v["code"], 5);
        let (status, v) = call(&fake, "/api/v1/applications/checkout-api-pr-2").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["metadata"]["name"], "checkout-api-pr-2");
        let auth = [("authorization", "Bearer limited")];
        let (status, _, _) =
            call_with(&fake, "/api/v1/applications/checkout-api-pr-2", &auth).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _, _) = call_with(
            &fake,
            "/api/v1/applications/checkout-api-pr-2/managed-resources",
            &auth,
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn fields_honour_only_the_allow_list() {
        let fake = demo();
        let (_, v) = call(
            &fake,
            "/api/v1/applications?selector=type%3Dpr&fields=metadata.resourceVersion,items.metadata.name,\
             items.metadata.ownerReferences,items.spec.source,items.status.health,items.status.history,\
             items.status.sync.revision",
        )
        .await;
        assert!(v["metadata"]["resourceVersion"].is_string());
        let first = &v["items"][0];
        assert_eq!(
            first,
            &json!({"metadata": {"name": "checkout-api-pr-45"},
                    "status": {"health": first["status"]["health"].clone()}})
        );
        assert_eq!(first["status"]["health"]["status"], "Healthy");

        fake.set_version("v3.5.1+abc");
        let (_, v) = call(
            &fake,
            "/api/v1/applications?name=checkout-api-pr-45&fields=items.status.sync.revision,items.spec",
        )
        .await;
        assert!(
            v["items"][0]["status"]["sync"]["revision"]
                .as_str()
                .unwrap()
                .starts_with("4f2c9a1")
        );
        assert_eq!(v["items"][0]["spec"]["project"], "default");
    }

    #[tokio::test]
    async fn managed_resource_states_are_json_strings() {
        let fake = demo();
        let (status, v) = call(
            &fake,
            "/api/v1/applications/courses-fe-pr-123/managed-resources",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let route = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["kind"] == "HTTPRoute")
            .unwrap();
        assert_eq!(route["group"], "policy.linkerd.io");
        assert_eq!(route["version"], "v1beta3");
        let live: Value = serde_json::from_str(route["liveState"].as_str().unwrap()).unwrap();
        assert_eq!(live["kind"], "HTTPRoute");
        assert!(route["targetState"].is_string());
        let (_, only) = call(
            &fake,
            "/api/v1/applications/courses-fe-pr-123/managed-resources?group=policy.linkerd.io&kind=HTTPRoute",
        )
        .await;
        assert_eq!(only["items"].as_array().unwrap().len(), 1);
        let (status, _) = call(&fake, "/api/v1/applications/ghost/managed-resources").await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        fake.set_managed_items("courses-fe-pr-123", vec![]);
        let (_, empty) = call(
            &fake,
            "/api/v1/applications/courses-fe-pr-123/managed-resources",
        )
        .await;
        assert_eq!(empty, json!({}));
    }

    #[tokio::test]
    async fn applicationsets_are_listed() {
        let (status, v) = call(&demo(), "/api/v1/applicationsets").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["items"].as_array().unwrap().len(), 3);
        // The generated apps are in the sets' status (Argo CD 2.8+), except search-ui's.
        assert_eq!(
            v["items"][0]["status"]["resources"][0]["name"],
            "courses-fe-pr-123"
        );
        let (_, other) = call(&demo(), "/api/v1/applicationsets?projects=other").await;
        assert_eq!(other["items"], Value::Null);
        let (_, elsewhere) = call(&demo(), "/api/v1/applicationsets?appsetNamespace=team").await;
        assert_eq!(elsewhere["items"], Value::Null);
    }

    #[tokio::test]
    async fn requests_are_counted_per_path() {
        let fake = demo();
        call(&fake, "/api/v1/applications?selector=type%3Dpr").await;
        call(&fake, "/api/v1/applications").await;
        call(&fake, "/api/v1/session/userinfo").await;
        assert_eq!(fake.request_count("/api/v1/applications"), 2);
        assert_eq!(fake.request_count("/api/v1/session/userinfo"), 1);
        assert_eq!(
            fake.requests()[0].query.as_deref(),
            Some("selector=type%3Dpr")
        );
        fake.reset_requests();
        assert_eq!(fake.request_count("/api/v1/applications"), 0);
    }

    /// Reads NDJSON/SSE frames from a live stream until `n` non-keepalive frames arrived.
    async fn frames(
        stream: &mut (impl futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Unpin),
        buf: &mut String,
        n: usize,
        sep: &str,
    ) -> Vec<String> {
        let mut out = Vec::new();
        while out.len() < n {
            while let Some(i) = buf.find(sep) {
                let frame: String = buf.drain(..i + sep.len()).collect();
                out.push(frame);
            }
            if out.len() >= n {
                break;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .expect("stream stalled")
                .expect("stream ended")
                .unwrap();
            buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        out
    }

    #[tokio::test]
    async fn watch_replays_then_streams_live_changes() {
        let fake = demo();
        let server = serve(fake.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        let resp = client()
            .get(format!(
                "{}/api/v1/stream/applications?selector=type%3Dpr",
                server.url()
            ))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut stream = resp.bytes_stream();
        let mut buf = String::new();
        let initial = frames(&mut stream, &mut buf, 7, "\n").await;
        for line in &initial {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["result"]["type"], "ADDED");
        }
        fake.update_app("search-ui-pr-9", |a| {
            a["status"]["health"]["status"] = json!("Healthy")
        });
        fake.update_app("courses-fe", |a| {
            a["status"]["health"]["status"] = json!("Degraded")
        });
        fake.remove_app("checkout-api-pr-51");
        let live = frames(&mut stream, &mut buf, 2, "\n").await;
        let v: Value = serde_json::from_str(&live[0]).unwrap();
        assert_eq!(v["result"]["type"], "MODIFIED");
        assert_eq!(
            v["result"]["application"]["metadata"]["name"],
            "search-ui-pr-9"
        );
        assert_eq!(
            v["result"]["application"]["status"]["health"]["status"],
            "Healthy"
        );
        let v: Value = serde_json::from_str(&live[1]).unwrap();
        assert_eq!(
            v["result"]["type"], "DELETED",
            "the base app change is filtered out"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn watch_with_resource_version_skips_replay_and_sse_has_keepalives() {
        let fake = demo();
        fake.set_keepalive(Duration::from_millis(50));
        let server = serve(fake.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        let rv = fake.resource_version();
        let resp = client()
            .get(format!(
                "{}/api/v1/stream/applications?selector=type%3Dpr&resourceVersion={rv}\
                 &fields=result.type,result.application.metadata.name",
                server.url()
            ))
            .header("accept", "text/event-stream")
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let mut stream = resp.bytes_stream();
        let mut buf = String::new();
        let first = frames(&mut stream, &mut buf, 1, "\n").await;
        assert_eq!(
            first[0], ":\n",
            "a keepalive comes before any event: no replay"
        );
        fake.update_app("courses-fe-pr-123", |a| {
            a["status"]["sync"]["status"] = json!("OutOfSync")
        });
        let event = loop {
            let f = frames(&mut stream, &mut buf, 1, "\n").await.remove(0);
            if f != ":\n" && f != "\n" {
                break f;
            }
        };
        let json = event.strip_prefix("data: ").unwrap().trim();
        let v: Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            v,
            json!({"result": {"type": "MODIFIED", "application": {"metadata": {"name": "courses-fe-pr-123"}}}})
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn end_streams_closes_the_watch() {
        let fake = demo();
        let server = serve(fake.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        let resp = client()
            .get(format!(
                "{}/api/v1/stream/applications?resourceVersion=1",
                server.url()
            ))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        fake.end_streams();
        let body = tokio::time::timeout(Duration::from_secs(5), resp.bytes())
            .await
            .unwrap()
            .unwrap();
        assert!(body.is_empty());
    }

    #[tokio::test]
    async fn delay_fault_holds_the_headers() {
        let fake = demo();
        fake.add_fault(
            FaultRule::new(Fault::Delay(Duration::from_millis(150))).on_path("/api/version"),
        );
        let start = Instant::now();
        let (status, _, _) = call_with(&fake, "/api/version", &[]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(start.elapsed() >= Duration::from_millis(150));
        let start = Instant::now();
        call(&fake, "/api/v1/session/userinfo").await;
        assert!(
            start.elapsed() < Duration::from_millis(150),
            "other paths are not delayed"
        );
    }

    #[tokio::test]
    async fn server_error_fault_is_an_html_5xx_once() {
        let fake = demo();
        fake.add_fault(FaultRule::new(Fault::ServerError(502)).times(1));
        let (status, headers, body) = call_with(&fake, "/api/version", &[]).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html");
        assert!(String::from_utf8_lossy(&body).contains("502 Bad Gateway"));
        let (status, _, _) = call_with(&fake, "/api/version", &[]).await;
        assert_eq!(status, StatusCode::OK, "times(1) lets the retry through");
    }

    #[tokio::test]
    async fn garbage_truncated_wrong_type_and_null_items_faults() {
        let fake = demo();
        let auth = format!("Bearer {TOKEN}");
        let auth = [("authorization", auth.as_str())];
        let list = "/api/v1/applications";
        let (_, _, real) = call_with(&fake, list, &auth).await;

        fake.set_fault(Fault::Garbage);
        let (status, headers, body) = call_with(&fake, list, &auth).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "application/json");
        assert!(serde_json::from_slice::<Value>(&body).is_err());
        fake.clear_faults();

        fake.set_fault(Fault::Truncated);
        let (_, _, body) = call_with(&fake, list, &auth).await;
        assert!(real.starts_with(&body) && body.len() < real.len());
        assert!(serde_json::from_slice::<Value>(&body).is_err());
        fake.clear_faults();

        fake.set_fault(Fault::WrongContentType);
        let (status, headers, body) = call_with(&fake, list, &auth).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(String::from_utf8_lossy(&body).contains("<title>Argo CD</title>"));
        fake.clear_faults();

        fake.set_fault(Fault::NullItems);
        let (_, _, body) = call_with(&fake, list, &auth).await;
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["items"].is_null());
    }

    #[tokio::test]
    async fn reset_fault_breaks_the_connection_mid_body() {
        let fake = demo();
        fake.add_fault(FaultRule::new(Fault::ResetAfter(100)).on_path("/api/v1/applications"));
        let server = serve(fake.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        let resp = client()
            .get(format!("{}/api/v1/applications", server.url()))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "headers arrive before the reset");
        assert!(resp.bytes().await.is_err());
    }

    #[tokio::test]
    async fn drip_fault_sends_one_byte_per_interval() {
        let fake = demo();
        fake.add_fault(
            FaultRule::new(Fault::Drip(Duration::from_millis(60)))
                .on_path("/api/v1/session/userinfo"),
        );
        let server = serve(fake.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .unwrap();
        let start = Instant::now();
        let body = client()
            .get(format!("{}/api/v1/session/userinfo", server.url()))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(&body[..], b"{}");
        assert!(start.elapsed() >= Duration::from_millis(120));
    }

    #[tokio::test]
    async fn large_lists_are_served_whole_and_projected() {
        // 1,000 keeps the debug-build test quick; the benchmarks use 10,000.
        let fake = FakeArgo::with_apps(TOKEN, crate::generated(1_000, 100));
        let (status, v) = call(
            &fake,
            "/api/v1/applications?selector=type%3Dpr&fields=items.metadata.name,items.status.health",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["items"].as_array().unwrap().len(), 100);
        let auth = format!("Bearer {TOKEN}");
        let start = Instant::now();
        let (_, _, body) =
            call_with(&fake, "/api/v1/applications", &[("authorization", &auth)]).await;
        let elapsed = start.elapsed();
        serde_json::from_slice::<serde::de::IgnoredAny>(&body).unwrap();
        let text = String::from_utf8(body).unwrap();
        assert_eq!(
            text.matches(r#""kind":"Application","metadata""#).count(),
            1_000
        );
        assert!(
            text.len() > 10_000_000,
            "unprojected list is {} bytes",
            text.len()
        );
        // Served from cached bytes: a copy, not a serialisation of 12 MB of JSON.
        assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
    }
}
