//! The fake Argo CD's HTTP surface: routes, auth, RBAC filtering, list and watch bodies,
//! and the fault middleware. Status codes and error bodies are the ones grpc-gateway
//! writes for the gRPC codes Argo CD returns (16 → 401, 7 → 403, 5 → 404, 2 → 500).

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
use super::{Bus, FakeArgo, Grant, StoredApp};

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
        .fallback(|| async { (StatusCode::NOT_FOUND, "Not Found") })
        .layer(middleware::from_fn_with_state(state.clone(), fault_layer))
        .with_state(state)
}

// --- responses ----------------------------------------------------------------------------

fn json_body(status: StatusCode, body: impl Into<Body>) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
}

/// grpc-gateway's error body: `{"error": msg, "code": grpc_code, "message": msg}`.
fn error(status: StatusCode, code: u8, message: &str) -> Response {
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
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
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

fn authorize(fake: &FakeArgo, headers: &HeaderMap) -> Result<Grant, Response> {
    let Some(token) = bearer(headers) else {
        return Err(error(StatusCode::UNAUTHORIZED, 16, "no session information"));
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
struct Query {
    params: Vec<(String, String)>,
}

impl Query {
    fn parse(raw: Option<String>) -> Query {
        let params = raw
            .map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        Query { params }
    }

    fn one(&self, key: &str) -> Option<&str> {
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
                Some(f) => Bytes::from(
                    fields::project_list_item(&app.value, f, sync_revision).to_string(),
                ),
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
fn find_app(fake: &FakeArgo, name: &str, q: &Query, grant: &Grant) -> Result<Arc<StoredApp>, Response> {
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

async fn applicationsets(State(fake): State<FakeArgo>, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&fake, &headers) {
        return r;
    }
    let appsets = fake.lock().appsets.clone();
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
    if let Some(resp) = faults::replacement(fault, &fake.resource_version()) {
        return resp;
    }
    let resp = next.run(req).await;
    faults::wrap(fault, resp).await
}
