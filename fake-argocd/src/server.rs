//! The fake Argo CD's HTTP surface: routes, auth, RBAC, list and watch bodies, and the
//! fault middleware. Status codes and error bodies are the ones grpc-gateway writes for the
//! gRPC codes Argo CD returns (16 → 401, 7 → 403, 5 → 404, 2 → 500): unary answers as
//! `{"error","code","message"}`, the watch stream as `{"error":{"grpc_code",…}}`.
//!
//! Every per-application route reads its app through [`get_app_enforce_rbac`], the one
//! copy of upstream's 403/404 rule.

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
use super::{Bus, DEFAULT_APP_NAMESPACE, FakeArgo, Grant, State as FakeState, StoredApp};

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
        .layer(middleware::from_fn_with_state(
            state.clone(),
            super::serving::compress,
        ))
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

/// grpc-gateway's error body with an explicit status: `{"error": msg, "code": grpc_code,
/// "message": msg}` (grpc-gateway v1 `runtime/errors.go` :: `DefaultHTTPError`).
pub(crate) fn error(status: StatusCode, code: u8, message: &str) -> Response {
    let body = json!({"error": message, "code": code, "message": message});
    json_body(status, body.to_string())
}

/// A gRPC status as Argo CD returns it; how it is written depends on the route (unary or
/// stream).
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl ApiError {
    pub(crate) fn new(code: u8, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            message: message.into(),
        }
    }

    fn permission_denied() -> ApiError {
        ApiError::new(7, "permission denied")
    }

    /// `status.Error(codes.NotFound, apierrors.NewNotFound(…applications…, name).Error())`.
    fn app_not_found(name: &str) -> ApiError {
        ApiError::new(5, format!("applications.argoproj.io \"{name}\" not found"))
    }

    /// grpc-gateway v1 `runtime/errors.go` :: `HTTPStatusFromCode`.
    pub(crate) fn status(&self) -> StatusCode {
        match self.code {
            1 => StatusCode::REQUEST_TIMEOUT,
            3 | 9 | 11 => StatusCode::BAD_REQUEST,
            4 => StatusCode::GATEWAY_TIMEOUT,
            5 => StatusCode::NOT_FOUND,
            6 | 10 => StatusCode::CONFLICT,
            7 => StatusCode::FORBIDDEN,
            8 => StatusCode::TOO_MANY_REQUESTS,
            12 => StatusCode::NOT_IMPLEMENTED,
            14 => StatusCode::SERVICE_UNAVAILABLE,
            16 => StatusCode::UNAUTHORIZED,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A unary route's error: grpc-gateway v1 `runtime/errors.go` :: `DefaultHTTPError`,
    /// `{"error": msg, "code": grpc_code, "message": msg}`.
    fn unary(&self) -> Response {
        let body = json!({"error": self.message, "code": self.code, "message": self.message});
        json_body(self.status(), body.to_string())
    }

    /// A stream refused before its first event: the status is `http_code` and the body the
    /// stream error chunk (grpc-gateway v1 `runtime/handler.go` ::
    /// `handleForwardResponseStreamError`), through the stream's own marshaler, so a
    /// `fields` projection that does not name `error` turns it into `{}`.
    fn stream(&self, fields: Option<&Fields>, sse: bool) -> Response {
        let status = self.status();
        let body = stream_error_body(self.code, status, &self.message, fields, sse);
        let content_type = if sse {
            "text/event-stream"
        } else {
            "application/json"
        };
        (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.unary()
    }
}

/// The stream error chunk `{"error":{"grpc_code","http_code","message","http_status"}}`
/// (grpc-gateway v1 `runtime/proto_errors.go` :: `DefaultHTTPStreamErrorHandler`; the
/// fields are `omitempty`), marshalled by argoproj/pkg `grpc/http/forwarders.go` ::
/// `messageMarshaler.Marshal`: filtered by `fields` like any message, SSE-framed as
/// `data: … \n\n`, and written without the newline delimiter of events.
pub(crate) fn stream_error_body(
    grpc_code: u8,
    status: StatusCode,
    message: &str,
    fields: Option<&Fields>,
    sse: bool,
) -> String {
    let mut chunk = json!({"error": {
        "grpc_code": grpc_code,
        "http_code": status.as_u16(),
        "message": message,
        "http_status": status.canonical_reason().unwrap_or(""),
    }});
    if let Some(f) = fields {
        fields::generic(&mut chunk, f);
    }
    if sse {
        format!("data: {chunk} \n\n")
    } else {
        chunk.to_string()
    }
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

/// The caller: the token's grant; else, with anonymous access enabled, the anonymous
/// caller (`server/server.go` :: `ArgoCDServer.Authenticate`: a claims error is dropped
/// when `users.anonymous.enabled`); else the 401 `getClaims` returns.
pub(crate) fn authorize(fake: &FakeArgo, headers: &HeaderMap) -> Result<Grant, ApiError> {
    let token = bearer(headers);
    let st = fake.lock();
    if let Some(grant) = token.as_ref().and_then(|t| st.tokens.get(t)) {
        return Ok(grant.clone());
    }
    if let Some(anonymous) = &st.anonymous {
        return Ok(anonymous.clone());
    }
    Err(match token {
        None => ApiError::new(16, "no session information"),
        Some(_) => ApiError::new(16, "invalid session: token signature is invalid"),
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

    /// `getProjectsFromApplicationQuery` (`server/application/application.go`): the
    /// legacy `project` when given, else `projects`; never both.
    fn projects(&self) -> Vec<String> {
        let legacy = self.all("project");
        let chosen = if legacy.is_empty() {
            self.all("projects")
        } else {
            legacy
        };
        chosen.into_iter().map(str::to_owned).collect()
    }
}

// --- namespaces ---------------------------------------------------------------------------

impl FakeState {
    /// `util/security/application_namespaces.go` :: `IsNamespaceEnabled`: the control
    /// plane's namespace, or one matching an `--application-namespaces` pattern (a glob, or
    /// a regex between slashes: `util/glob` :: `MatchStringInList` with `REGEXP`).
    pub(crate) fn is_namespace_enabled(&self, namespace: &str) -> bool {
        namespace == DEFAULT_APP_NAMESPACE
            || self
                .app_namespaces
                .iter()
                .any(|p| namespace_pattern_matches(p, namespace))
    }
}

fn namespace_pattern_matches(pattern: &str, namespace: &str) -> bool {
    let regex = match pattern.strip_prefix('/').and_then(|p| p.strip_suffix('/')) {
        Some(re) => re.to_owned(),
        None => {
            let mut re = String::from("^");
            for c in pattern.chars() {
                match c {
                    '*' => re.push_str(".*"),
                    '?' => re.push('.'),
                    c => re.push_str(&regex::escape(&c.to_string())),
                }
            }
            re.push('$');
            re
        }
    };
    regex::Regex::new(&regex).is_ok_and(|r| r.is_match(namespace))
}

/// `appNamespaceOrDefault`: an empty `appNamespace` is the control plane's.
fn app_namespace_or_default(q: &Query) -> String {
    q.one("appNamespace")
        .unwrap_or(DEFAULT_APP_NAMESPACE)
        .to_owned()
}

fn parse_selector(q: &Query, what: &str) -> Result<Selector, ApiError> {
    Selector::parse(q.one("selector").unwrap_or(""))
        .map_err(|e| ApiError::new(2, format!("{what}: {e}")))
}

// --- per-app RBAC -------------------------------------------------------------------------

/// The app a per-application route names, or the error upstream answers instead: the one
/// place this rule lives (`server/application/application.go` :: `Server.getAppEnforceRBAC`,
/// v2.8+), called by every per-app handler.
///
/// - with `project=P`: a caller who may not `get` `P/name` is refused 403 first;
/// - the app is read from `appNamespace` (default: the control plane's); a namespace that
///   is not enabled is an error other than NotFound, so 403 with or without `project`;
/// - a missing app is 404 with `project`, 403 without (no probing names);
/// - an app whose real project the caller may not read is 404 with `project` (its
///   existence hidden), 403 without; an app in another project than `P` is 404.
pub(crate) fn get_app_enforce_rbac(
    fake: &FakeArgo,
    grant: &Grant,
    name: &str,
    app_namespace: Option<&str>,
    project: Option<&str>,
) -> Result<Arc<StoredApp>, ApiError> {
    let namespace = app_namespace.unwrap_or(DEFAULT_APP_NAMESPACE);
    if let Some(p) = project
        && !grant.can_read(p)
    {
        return Err(ApiError::permission_denied());
    }
    let found = {
        let st = fake.lock();
        if !st.is_namespace_enabled(namespace) {
            return Err(ApiError::permission_denied());
        }
        st.apps
            .get(&(name.to_owned(), namespace.to_owned()))
            .cloned()
    };
    let hidden = || match project {
        Some(_) => ApiError::app_not_found(name),
        None => ApiError::permission_denied(),
    };
    let app = found.ok_or_else(hidden)?;
    if !grant.can_read(&app.project) {
        return Err(hidden());
    }
    if project.is_some_and(|p| p != app.project) {
        return Err(ApiError::app_not_found(name));
    }
    Ok(app)
}

// --- handlers -----------------------------------------------------------------------------

/// `server/version/version.go` :: `Server.Version`: an anonymous caller gets the version
/// only; the build details need a logged-in caller.
async fn version(State(fake): State<FakeArgo>, headers: HeaderMap) -> Response {
    let v = fake.version();
    let logged_in = authorize(&fake, &headers).is_ok_and(|g| g.logged_in());
    let body = if logged_in {
        json!({
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
        })
    } else {
        json!({"Version": v})
    };
    json_body(StatusCode::OK, body.to_string())
}

/// Upstream authenticates but ignores the error here, and Go's `omitempty` then writes
/// `{}` for a bad or missing token and for the anonymous caller
/// (server/session/session.go `GetUserInfo`).
async fn userinfo(State(fake): State<FakeArgo>, headers: HeaderMap) -> Response {
    let body = match authorize(&fake, &headers) {
        Ok(grant) if grant.logged_in() => {
            json!({"loggedIn": true, "username": grant.username, "iss": "argocd"})
        }
        _ => json!({}),
    };
    json_body(StatusCode::OK, body.to_string())
}

/// `Server.List`: the apps of every enabled namespace (or of `appNamespace`), filtered by
/// `name`, projects and RBAC, sorted by name.
async fn list(
    State(fake): State<FakeArgo>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let grant = authorize(&fake, &headers)?;
    let q = Query::parse(raw);
    let selector = parse_selector(&q, "error parsing the selector")?;
    let projects = q.projects();
    let name = q.one("name");
    let namespace = q.one("appNamespace");
    let fields = Fields::parse(q.one("fields"));
    let (apps, rv, version) = {
        let st = fake.lock();
        let apps: Vec<Arc<StoredApp>> = st
            .apps
            .values()
            .filter(|a| {
                namespace.is_none_or(|ns| ns == a.namespace)
                    && name.is_none_or(|n| n == a.name)
                    && (projects.is_empty() || projects.contains(&a.project))
                    && selector.matches(&a.labels)
                    && st.is_namespace_enabled(&a.namespace)
                    && grant.can_read(&a.project)
            })
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
    Ok(json_body(StatusCode::OK, Body::from_stream(stream)))
}

/// [`get_app_enforce_rbac`] for a single-app request's `appNamespace` and `project`, its
/// refusal as the response (for the routes in `envs.rs`).
#[allow(clippy::result_large_err)] // axum's Response, which the handlers return as is
pub(crate) fn find_app(
    fake: &FakeArgo,
    name: &str,
    q: &Query,
    grant: &Grant,
) -> Result<Arc<StoredApp>, Response> {
    get_app_enforce_rbac(fake, grant, name, q.one("appNamespace"), q.one("project"))
        .map_err(IntoResponse::into_response)
}

/// `Server.Get`: the whole object. No forwarder override exists for it, so `fields` is
/// ignored (`util/grpc/json.go` :: `JSONMarshaler` is a plain `json.Marshal`).
async fn get_app(
    State(fake): State<FakeArgo>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let grant = authorize(&fake, &headers)?;
    let q = Query::parse(raw);
    let projects = q.projects();
    if projects.len() > 1 {
        return Err(ApiError::new(
            3,
            "multiple projects specified - the get endpoint accepts either zero or one project",
        ));
    }
    let app = get_app_enforce_rbac(
        &fake,
        &grant,
        &name,
        q.one("appNamespace"),
        projects.first().map(String::as_str),
    )?;
    Ok(json_body(StatusCode::OK, app.bytes.clone()))
}

/// `Server.ManagedResources`: the app's cached resource diffs, keyed by its instance name;
/// hooks left out; `name`, `namespace`, `group` and `kind` filter exactly
/// (`isMatchingResource`); `fields` is the generic projection (`http.UnaryForwarder`).
async fn managed_resources(
    State(fake): State<FakeArgo>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let grant = authorize(&fake, &headers)?;
    let q = Query::parse(raw);
    let app = get_app_enforce_rbac(
        &fake,
        &grant,
        &name,
        q.one("appNamespace"),
        q.one("project"),
    )?;
    let key = super::instance_name(&app.name, &app.namespace);
    let items: Vec<Value> = fake
        .lock()
        .managed
        .get(&key)
        .map(|items| {
            items
                .iter()
                .filter(|item| item["hook"] != true)
                .filter(|item| {
                    ["group", "kind", "namespace", "name"]
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
    Ok(json_body(StatusCode::OK, body.to_string()))
}

/// `GET /api/v1/applicationsets` (`server/applicationset/applicationset.go` ::
/// `Server.List`; `ApplicationSetListQuery`: `projects`, `selector`, `appsetNamespace`; no
/// `fields`): every enabled namespace unless `appsetNamespace` names one; sets the caller
/// may not `applicationsets, get` are dropped silently; sorted by name. `status.resources`
/// exists from v2.12 only (`applicationset_types.go`).
async fn applicationsets(
    State(fake): State<FakeArgo>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let grant = authorize(&fake, &headers)?;
    let q = Query::parse(raw);
    let selector = parse_selector(&q, "error parsing the selector")?;
    let projects = q.all("projects");
    let namespace = q.one("appsetNamespace");
    let (mut appsets, rv, version) = {
        let st = fake.lock();
        let sets: Vec<Value> = st
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
                namespace.is_none_or(|ns| ns == set_ns)
                    && selector.matches(&labels)
                    && st.is_namespace_enabled(set_ns)
                    && grant.can_read_appset(project)
                    && (projects.is_empty() || projects.contains(&project))
            })
            .cloned()
            .collect();
        (sets, st.resource_version, st.version.clone())
    };
    let name = |s: &Value| {
        s.pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    appsets.sort_by_key(name);
    if !version_at_least(&version, (2, 12)) {
        for set in &mut appsets {
            if let Some(status) = set.get_mut("status").and_then(Value::as_object_mut) {
                status.remove("resources");
            }
        }
    }
    // The gateway's gRPC round trip turns an empty repeated field into nil: `null`.
    let items = if appsets.is_empty() {
        Value::Null
    } else {
        Value::Array(appsets)
    };
    let body = json!({"metadata": {"resourceVersion": rv.to_string()}, "items": items});
    Ok(json_body(StatusCode::OK, body.to_string()))
}

/// Whether a version such as `v2.12.3+abc` is at least `(major, minor)`.
pub(crate) fn version_at_least(version: &str, want: (u64, u64)) -> bool {
    let v = version.trim().trim_start_matches('v');
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= want
}

// --- watch --------------------------------------------------------------------------------

/// What one watch request lets through (`Server.isApplicationPermitted`).
struct WatchFilter {
    /// `name` with `appNamespace` (default: the control plane's); `appNamespace` alone is
    /// ignored by the watch.
    name: Option<(String, String)>,
    projects: Vec<String>,
    selector: Selector,
    /// `resourceVersion` as a number; apps below it are dropped (0 when it does not parse).
    min_version: u64,
    grant: Grant,
}

impl WatchFilter {
    fn permits(&self, fake: &FakeArgo, app: &StoredApp) -> bool {
        (self.projects.is_empty() || self.projects.contains(&app.project))
            && app.resource_version >= self.min_version
            && self
                .name
                .as_ref()
                .is_none_or(|(n, ns)| *n == app.name && *ns == app.namespace)
            && self.selector.matches(&app.labels)
            && fake.lock().is_namespace_enabled(&app.namespace)
            && self.grant.can_read(&app.project)
    }
}

struct Watch {
    fake: FakeArgo,
    rx: broadcast::Receiver<Bus>,
    initial: VecDeque<Arc<StoredApp>>,
    filter: WatchFilter,
    fields: Option<Fields>,
    sse: bool,
    keepalive: tokio::time::Interval,
    /// Whether an event was sent: the SSE keepalive starts with the forwarder, after it.
    started: bool,
    /// Upstream drops a frame identical to the last one sent for the same app name.
    last: HashMap<String, Bytes>,
    /// The stream failed ([`FakeArgo::fail_streams`]) before its first event: the response
    /// is this error with its own status.
    failed: Option<ApiError>,
    /// The stream failed after its first event and its error chunk went out.
    ended: bool,
}

impl Watch {
    /// The frame for one event, or `None` when it is filtered out or a repeat.
    fn frame(&mut self, kind: &str, app: &StoredApp) -> Option<Bytes> {
        if !self.filter.permits(&self.fake, app) {
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
        // argoproj/pkg `NewStreamForwarder`: the whole projected frame, type included, is
        // compared with the last one sent under the app's name (not its namespace).
        let json = Bytes::from(json);
        if self.last.get(&app.name) == Some(&json) {
            return None;
        }
        self.last.insert(app.name.clone(), json.clone());
        let mut out = Vec::with_capacity(json.len() + 10);
        if self.sse {
            // argoproj/pkg writes "data: %s \n\n" (with that space), then
            // ForwardResponseStream its "\n" delimiter.
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(&json);
            out.extend_from_slice(b" \n\n\n");
        } else {
            out.extend_from_slice(&json);
            out.push(b'\n');
        }
        Some(Bytes::from(out))
    }

    async fn next_frame(&mut self) -> Option<Bytes> {
        if self.ended {
            return None;
        }
        loop {
            if let Some(app) = self.initial.pop_front() {
                if let Some(f) = self.frame("ADDED", &app) {
                    self.started = true;
                    return Some(f);
                }
                continue;
            }
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Ok(Bus::Event(kind, app)) => {
                        if let Some(f) = self.frame(kind, &app) {
                            if !self.started {
                                self.started = true;
                                self.keepalive.reset();
                            }
                            return Some(f);
                        }
                    }
                    Ok(Bus::End) | Err(broadcast::error::RecvError::Closed) => return None,
                    Ok(Bus::Fail(code, message)) => {
                        let e = ApiError::new(code, message);
                        self.ended = true;
                        if !self.started {
                            self.failed = Some(e);
                            return None;
                        }
                        let body = stream_error_body(
                            e.code, e.status(), &e.message, self.fields.as_ref(), self.sse,
                        );
                        return Some(Bytes::from(body));
                    }
                    // Upstream's broadcaster drops events for a subscriber that is full.
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                },
                _ = self.keepalive.tick(), if self.sse && self.started => {
                    return Some(Bytes::from_static(b":\n"));
                }
            }
        }
    }
}

/// `GET /api/v1/stream/applications`: `Server.Watch` behind argo's stream forwarder.
///
/// No status line and no header is sent until the first event: the gateway's generated
/// handler blocks in `stream.Header()` until the gRPC server's first `Send`
/// (`application.pb.gw.go` :: `request_ApplicationService_Watch_0`), so a watch that
/// matches nothing never starts its response. Errors before that (auth, a bad selector)
/// come back as the stream error chunk with their HTTP status.
async fn watch(
    State(fake): State<FakeArgo>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = Query::parse(raw);
    let fields = Fields::parse(q.one("fields"));
    // argoproj/pkg `NewStreamForwarder`: SSE only for exactly this Accept value.
    let sse = headers
        .get(header::ACCEPT)
        .is_some_and(|a| a.as_bytes() == b"text/event-stream");
    let grant = match authorize(&fake, &headers) {
        Ok(g) => g,
        Err(e) => return e.stream(fields.as_ref(), sse),
    };
    let selector = match parse_selector(&q, "error parsing labels with selectors") {
        Ok(s) => s,
        Err(e) => return e.stream(fields.as_ref(), sse),
    };
    let resource_version = q.one("resourceVersion");
    let name = q.one("name").map(str::to_owned);
    let filter = WatchFilter {
        name: name.clone().map(|n| (n, app_namespace_or_default(&q))),
        projects: q.projects(),
        selector,
        min_version: resource_version.and_then(|v| v.parse().ok()).unwrap_or(0),
        grant,
    };
    // Subscribe before the snapshot so no change falls between the two.
    let rx = fake.subscribe();
    let (initial, period) = {
        let st = fake.lock();
        // The replay of ADDED: without a resourceVersion, or for a single app's watch.
        let initial = if resource_version.is_none() || name.is_some() {
            let mut apps: Vec<Arc<StoredApp>> = st.apps.values().cloned().collect();
            apps.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
            apps.into()
        } else {
            VecDeque::new()
        };
        (initial, st.keepalive)
    };
    let mut watch = Watch {
        fake: fake.clone(),
        rx,
        initial,
        filter,
        fields,
        sse,
        keepalive: tokio::time::interval_at(tokio::time::Instant::now() + period, period),
        started: false,
        last: HashMap::new(),
        failed: None,
        ended: false,
    };
    // Hold the response head until there is an event to send.
    let first = watch.next_frame().await;
    if let Some(e) = watch.failed.take() {
        return e.stream(watch.fields.as_ref(), sse);
    }
    let stream = futures_util::stream::unfold((first, watch), |(pending, mut w)| async move {
        let frame = match pending {
            Some(f) => f,
            None if !w.started => return None,
            None => w.next_frame().await?,
        };
        Some((Ok::<_, Infallible>(frame), (None, w)))
    });
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    if sse {
        h.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("text/event-stream"),
        );
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            header::HeaderValue::from_static("nosniff"),
        );
    } else {
        h.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
    }
    resp
}

// --- faults -------------------------------------------------------------------------------

async fn fault_layer(State(fake): State<FakeArgo>, req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    fake.record(&path, query.as_deref());
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
    let fields = Fields::parse(
        Query::parse(query)
            .one("fields")
            .map(str::to_owned)
            .as_deref(),
    );
    if let Some(resp) = faults::replacement(fault, &fake.resource_version(), fields.as_ref()) {
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

    /// `fake` served on a free loopback port, for the tests that need real HTTP.
    async fn on_loopback(fake: &FakeArgo) -> crate::Running {
        serve(fake.clone(), ([127, 0, 0, 1], 0).into())
            .await
            .unwrap()
    }

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
        // The rest of `getAppEnforceRBAC`'s table, per-app route by route.
        let code = |path: &'static str, token: &'static str| {
            let fake = fake.clone();
            async move {
                let auth = format!("Bearer {token}");
                call_with(&fake, path, &[("authorization", &auth)]).await.0
            }
        };
        let mr = "/api/v1/applications/checkout-api-pr-2/managed-resources";
        // Exists, but not readable by the caller: its existence hidden behind a 404.
        assert_eq!(
            code(
                "/api/v1/applications/checkout-api-pr-2/managed-resources?project=team-b",
                "limited"
            )
            .await,
            StatusCode::FORBIDDEN,
            "no right on the named project: 403 first"
        );
        assert_eq!(
            code(
                "/api/v1/applications/checkout-api-pr-2?project=team-a",
                "limited"
            )
            .await,
            StatusCode::NOT_FOUND,
            "exists in another project"
        );
        assert_eq!(code(mr, TOKEN).await, StatusCode::OK);
        assert_eq!(
            code(
                "/api/v1/applications/checkout-api-pr-2?project=team-a",
                TOKEN
            )
            .await,
            StatusCode::NOT_FOUND
        );
        // A namespace that is not enabled: 403 with or without a project.
        assert_eq!(
            code(
                "/api/v1/applications/checkout-api-pr-2?appNamespace=team-b&project=team-b",
                TOKEN
            )
            .await,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            code(
                "/api/v1/applications/checkout-api-pr-2?projects=a&projects=b",
                TOKEN
            )
            .await,
            StatusCode::BAD_REQUEST,
            "Get takes at most one project"
        );
    }

    #[tokio::test]
    async fn namespaces_outside_the_control_plane_need_enabling_and_keep_their_own_resources() {
        let mut a = AppBuilder::preview("courses-fe", 1, 1);
        a.project = "default".into();
        let plane = a.build();
        let mut other = plane.clone();
        other["metadata"]["namespace"] = json!("team-a");
        let fake = FakeArgo::with_apps(TOKEN, vec![plane, other]);
        fake.set_managed_items(
            "courses-fe-pr-1",
            vec![json!({"kind": "Service", "name": "plane"})],
        );
        fake.set_managed_resources_in(
            "team-a",
            "courses-fe-pr-1",
            vec![json!({"kind": "Service", "apiVersion": "v1", "metadata": {"name": "team"}})],
        );
        // Without --application-namespaces only the control plane's apps exist.
        let (_, v) = call(&fake, "/api/v1/applications").await;
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
        let (status, _) = call(
            &fake,
            "/api/v1/applications/courses-fe-pr-1/managed-resources?appNamespace=team-a",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        fake.set_application_namespaces(&["team-*"]);
        // Without appNamespace: every enabled namespace.
        let (_, v) = call(&fake, "/api/v1/applications").await;
        let namespaces: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["namespace"].as_str().unwrap())
            .collect();
        assert_eq!(namespaces.len(), 2, "{v}");
        assert!(namespaces.contains(&"team-a") && namespaces.contains(&"argocd"));
        let (_, v) = call(&fake, "/api/v1/applications?appNamespace=team-a").await;
        assert_eq!(v["items"].as_array().unwrap().len(), 1);
        // Managed resources are the named namespace's own (keyed by instance name).
        let (_, plane) = call(
            &fake,
            "/api/v1/applications/courses-fe-pr-1/managed-resources",
        )
        .await;
        assert_eq!(plane["items"][0]["name"], "plane");
        let (_, team) = call(
            &fake,
            "/api/v1/applications/courses-fe-pr-1/managed-resources?appNamespace=team-a",
        )
        .await;
        assert_eq!(team["items"][0]["name"], "team");
    }

    #[tokio::test]
    async fn anonymous_access_turns_a_bad_token_into_the_default_role() {
        let fake = rbac_fake();
        fake.set_anonymous(Some(Some(&[])));
        let auth = [("authorization", "Bearer expired-or-revoked")];
        let (status, _, body) = call_with(&fake, "/api/v1/applications", &auth).await;
        assert_eq!(status, StatusCode::OK, "not 401: anonymous");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert!(v["items"].is_null(), "policy.default grants nothing: {v}");
        let (_, _, body) = call_with(&fake, "/api/v1/session/userinfo", &auth).await;
        assert_eq!(body, b"{}");
        let (_, _, body) = call_with(&fake, "/api/version", &auth).await;
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v.as_object().unwrap().len(),
            1,
            "only Version for anonymous: {v}"
        );
        fake.set_anonymous(Some(Some(&["team-a"])));
        let (_, _, body) = call_with(&fake, "/api/v1/applications", &auth).await;
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(names(&v), ["courses-fe-pr-1"], "a reduced list");
        fake.set_anonymous(None);
        let (status, _, _) = call_with(&fake, "/api/v1/applications", &auth).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
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
        let fake = demo();
        let (status, v) = call(&fake, "/api/v1/applicationsets").await;
        assert_eq!(status, StatusCode::OK);
        let names: Vec<&str> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["metadata"]["name"].as_str().unwrap())
            .collect();
        // Sorted by name, with the list's resourceVersion.
        assert_eq!(
            names,
            [
                "checkout-api-previews",
                "courses-fe-previews",
                "search-ui-previews"
            ]
        );
        assert!(v["metadata"]["resourceVersion"].is_string());
        // The generated apps are in the sets' status (Argo CD 2.12+), except search-ui's.
        assert_eq!(
            v["items"][1]["status"]["resources"][0]["name"],
            "courses-fe-pr-123"
        );
        fake.set_version("v2.11.4+abc");
        let (_, old) = call(&fake, "/api/v1/applicationsets").await;
        assert!(
            old["items"][1]["status"].get("resources").is_none(),
            "{old}"
        );
        let (_, other) = call(&fake, "/api/v1/applicationsets?projects=other").await;
        assert_eq!(other["items"], Value::Null);
        let (_, elsewhere) = call(&fake, "/api/v1/applicationsets?appsetNamespace=team").await;
        assert_eq!(elsewhere["items"], Value::Null);
    }

    #[tokio::test]
    async fn applicationsets_need_their_own_permission_and_every_enabled_namespace_is_listed() {
        let fake = demo();
        fake.accept_token_as("apps-only", "alice", None);
        fake.limit_applicationsets("apps-only", Some(&[]));
        let auth = [("authorization", "Bearer apps-only")];
        let (status, _, body) = call_with(&fake, "/api/v1/applicationsets", &auth).await;
        assert_eq!(status, StatusCode::OK, "refused silently, not 403");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["items"], Value::Null);
        let (status, _, _) = call_with(&fake, "/api/v1/applications", &auth).await;
        assert_eq!(status, StatusCode::OK);

        let mut sets = fake.lock().appsets.clone();
        let mut team = sets[0].clone();
        team["metadata"]["name"] = json!("aaa-team-previews");
        team["metadata"]["namespace"] = json!("team-a");
        sets.push(team);
        fake.set_applicationsets(sets);
        let (_, v) = call(&fake, "/api/v1/applicationsets").await;
        assert_eq!(
            v["items"].as_array().unwrap().len(),
            3,
            "team-a is not enabled"
        );
        fake.set_application_namespaces(&["team-*"]);
        let (_, v) = call(&fake, "/api/v1/applicationsets").await;
        assert_eq!(v["items"][0]["metadata"]["name"], "aaa-team-previews");
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
        let server = on_loopback(&fake).await;
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

    /// A watch request in flight: the response (head included) once it arrives.
    fn watch_request(
        url: String,
        sse: bool,
        token: &str,
    ) -> tokio::task::JoinHandle<reqwest::Result<reqwest::Response>> {
        let mut req = client().get(url).bearer_auth(token);
        if sse {
            req = req.header("accept", "text/event-stream");
        }
        tokio::spawn(req.send())
    }

    #[tokio::test]
    async fn watch_sends_no_response_head_until_the_first_event() {
        for sse in [false, true] {
            let fake = demo();
            fake.set_keepalive(Duration::from_millis(20));
            let server = on_loopback(&fake).await;
            let rv = fake.resource_version();
            let pending = watch_request(
                format!(
                    "{}/api/v1/stream/applications?selector=type%3Dpr&resourceVersion={rv}\
                     &fields=result.type,result.application.metadata.name",
                    server.url()
                ),
                sse,
                TOKEN,
            );
            // No event matches: no status line, no header, not even an SSE keepalive.
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert!(
                !pending.is_finished(),
                "a quiet watch answered (sse: {sse})"
            );
            fake.update_app("courses-fe-pr-123", |a| {
                a["status"]["sync"]["status"] = json!("OutOfSync")
            });
            let resp = tokio::time::timeout(Duration::from_secs(5), pending)
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            assert_eq!(resp.status(), 200);
            let mut stream = resp.bytes_stream();
            let mut buf = String::new();
            let got = frames(&mut stream, &mut buf, if sse { 3 } else { 1 }, "\n").await;
            let json = if sse {
                // `data: <json> \n\n` from the marshaler, then the stream's `\n`.
                assert_eq!(got[1..3], ["\n", "\n"], "three newlines end an SSE frame");
                got[0]
                    .strip_prefix("data: ")
                    .unwrap()
                    .strip_suffix(" \n")
                    .unwrap()
                    .to_owned()
            } else {
                got[0].trim_end().to_owned()
            };
            let v: Value = serde_json::from_str(&json).unwrap();
            assert_eq!(
                v,
                json!({"result": {"type": "MODIFIED", "application": {"metadata": {"name": "courses-fe-pr-123"}}}})
            );
            if sse {
                // After the first event the keepalive runs.
                let next = frames(&mut stream, &mut buf, 1, "\n").await;
                assert_eq!(next[0], ":\n");
            }
            server.shutdown().await;
        }
    }

    #[tokio::test]
    async fn a_watch_refused_before_its_first_event_is_the_stream_error_chunk() {
        let fake = demo();
        let server = on_loopback(&fake).await;
        let get = |query: &str, token: &str| {
            let url = format!("{}/api/v1/stream/applications?{query}", server.url());
            let token = token.to_owned();
            async move {
                let resp = client().get(url).bearer_auth(token).send().await.unwrap();
                (resp.status().as_u16(), resp.text().await.unwrap())
            }
        };
        assert_eq!(
            get("selector=type%3Dpr", "revoked").await,
            (
                401,
                r#"{"error":{"grpc_code":16,"http_code":401,"http_status":"Unauthorized","message":"invalid session: token signature is invalid"}}"#
                    .to_owned()
            )
        );
        // The projection filters the error chunk too: `{}` unless it names `error`.
        assert_eq!(
            get(
                "fields=result.type,result.application.metadata.name",
                "revoked"
            )
            .await,
            (401, "{}".to_owned())
        );
        let (status, body) = get("fields=result.type,error", "revoked").await;
        assert_eq!(status, 401);
        assert!(body.contains(r#""message":"invalid session"#), "{body}");
        let (status, body) = get("selector=type+in+pr", TOKEN).await;
        assert_eq!(status, 500);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["grpc_code"], 2);
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("error parsing labels with selectors: "),
            "{body}"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn watch_replay_and_resource_version_rules() {
        let fake = demo();
        let server = on_loopback(&fake).await;
        let rv = fake.resource_version();
        // `name` replays even with a resourceVersion (single-app watches).
        let resp = watch_request(
            format!(
                "{}/api/v1/stream/applications?name=courses-fe-pr-123&resourceVersion={rv}",
                server.url()
            ),
            false,
            TOKEN,
        )
        .await
        .unwrap()
        .unwrap();
        let mut stream = resp.bytes_stream();
        let mut buf = String::new();
        let v: Value =
            serde_json::from_str(&frames(&mut stream, &mut buf, 1, "\n").await[0]).unwrap();
        assert_eq!(v["result"]["type"], "ADDED");
        drop(stream);

        // An app whose resourceVersion is below the requested one is dropped; a deletion
        // carries the resource version of the delete, so it passes.
        let future = (rv.parse::<u64>().unwrap() + 2).to_string();
        let pending = watch_request(
            format!(
                "{}/api/v1/stream/applications?selector=type%3Dpr&resourceVersion={future}",
                server.url()
            ),
            false,
            TOKEN,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        fake.update_app("courses-fe-pr-130", |a| a["spec"]["x"] = json!(1)); // rv + 1: dropped
        fake.remove_app("search-ui-pr-9"); // rv + 2
        let resp = pending.await.unwrap().unwrap();
        let mut stream = resp.bytes_stream();
        let mut buf = String::new();
        let v: Value =
            serde_json::from_str(&frames(&mut stream, &mut buf, 1, "\n").await[0]).unwrap();
        assert_eq!(v["result"]["type"], "DELETED");
        assert_eq!(
            v["result"]["application"]["metadata"]["name"],
            "search-ui-pr-9"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn reconcile_only_changes_are_dropped_by_a_projection_without_reconciled_at() {
        let fake = demo();
        let server = on_loopback(&fake).await;
        let rv = fake.resource_version();
        let url = |fields: &str| {
            format!(
                "{}/api/v1/stream/applications?name=courses-fe-pr-123&resourceVersion={rv}{fields}",
                server.url()
            )
        };
        let projected = watch_request(
            url("&fields=result.type,result.application.metadata.name,result.application.status.health"),
            false,
            TOKEN,
        )
        .await
        .unwrap()
        .unwrap();
        let whole = watch_request(url(""), false, TOKEN).await.unwrap().unwrap();
        let (mut projected, mut whole) = (projected.bytes_stream(), whole.bytes_stream());
        let (mut pbuf, mut wbuf) = (String::new(), String::new());
        assert_eq!(frames(&mut projected, &mut pbuf, 1, "\n").await.len(), 1); // the ADDED
        frames(&mut whole, &mut wbuf, 1, "\n").await;
        for _ in 0..3 {
            fake.reconcile_all();
        }
        fake.update_app("courses-fe-pr-123", |a| {
            a["status"]["health"]["status"] = json!("Degraded")
        });
        // Without a projection every reconcile is a new frame.
        let all = frames(&mut whole, &mut wbuf, 4, "\n").await;
        let reconciled: Value = serde_json::from_str(&all[0]).unwrap();
        assert_eq!(reconciled["result"]["type"], "MODIFIED");
        assert!(reconciled["result"]["application"]["status"]["reconciledAt"].is_string());
        // With one, the first MODIFIED (type changed from ADDED) is new, the others are
        // the same frame again and dropped; the health change comes through.
        let got = frames(&mut projected, &mut pbuf, 2, "\n").await;
        let last: Value = serde_json::from_str(&got[1]).unwrap();
        assert_eq!(
            last["result"]["application"]["status"]["health"]["status"],
            "Degraded"
        );
        server.shutdown().await;
    }

    /// Reads raw (still compressed) chunks until the gzip stream decoded so far holds `n`
    /// complete lines.
    async fn gunzip_lines(resp: reqwest::Response, n: usize) -> Vec<String> {
        use std::io::Write as _;
        let mut stream = resp.bytes_stream();
        let mut decoder = flate2::write::GzDecoder::new(Vec::new());
        loop {
            let text = String::from_utf8_lossy(decoder.get_ref()).into_owned();
            let lines: Vec<String> = text.lines().map(str::to_owned).collect();
            if lines.len() >= n && text.ends_with('\n') {
                return lines;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(5), stream.next())
                .await
                .expect("each event is flushed through gzip")
                .expect("stream open")
                .unwrap();
            decoder.write_all(&chunk).unwrap();
            decoder.flush().unwrap();
        }
    }

    #[tokio::test]
    async fn api_answers_are_gzipped_and_each_watch_event_is_flushed() {
        let fake = demo();
        let server = on_loopback(&fake).await;
        let raw = || {
            let _ = rustls::crypto::ring::default_provider().install_default();
            reqwest::Client::builder().no_gzip().build().unwrap()
        };
        let get = |path: &str, encoding: &str| {
            raw()
                .get(format!("{}{path}", server.url()))
                .bearer_auth(TOKEN)
                .header("accept-encoding", encoding)
                .send()
        };
        let list = get("/api/v1/applications", "gzip, deflate").await.unwrap();
        assert_eq!(list.headers()["content-encoding"], "gzip");
        assert_eq!(list.headers()["vary"], "Accept-Encoding");
        // Only an exact token counts (gorilla/handlers splits on commas and compares).
        let q = get("/api/v1/applications", "gzip;q=1").await.unwrap();
        assert!(q.headers().get("content-encoding").is_none());
        assert_eq!(q.headers()["vary"], "Accept-Encoding");
        let version = get("/api/version", "deflate").await.unwrap();
        assert_eq!(version.headers()["content-encoding"], "deflate");

        // The watch: one sync-flushed gzip block per event, readable before the stream ends.
        let watch = get("/api/v1/stream/applications?selector=type%3Dpr", "gzip")
            .await
            .unwrap();
        assert_eq!(watch.headers()["content-encoding"], "gzip");
        let replay = gunzip_lines(watch, 7).await;
        assert_eq!(replay.len(), 7);
        // SSE is never compressed.
        let sse = raw()
            .get(format!("{}/api/v1/stream/applications", server.url()))
            .bearer_auth(TOKEN)
            .header("accept", "text/event-stream")
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert!(sse.headers().get("content-encoding").is_none());
        fake.set_gzip(false);
        let off = get("/api/v1/applications", "gzip").await.unwrap();
        assert!(off.headers().get("content-encoding").is_none());
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_root_path_moves_the_api_under_its_prefix() {
        let fake = demo();
        let server = crate::serve_under(fake.clone(), ([127, 0, 0, 1], 0).into(), "/argocd/")
            .await
            .unwrap();
        let get = |path: &str| {
            client()
                .get(format!("{}{path}", server.url()))
                .bearer_auth(TOKEN)
                .send()
        };
        assert_eq!(
            get("/argocd/api/v1/applications").await.unwrap().status(),
            200
        );
        let bare = get("/api/v1/applications").await.unwrap();
        assert_eq!(bare.status(), 404);
        assert_eq!(bare.text().await.unwrap(), "404 page not found\n");
        assert_eq!(get("/healthz").await.unwrap().text().await.unwrap(), "ok\n");
        assert_eq!(
            fake.request_count("/api/v1/applications"),
            1,
            "counted without the prefix"
        );
        server.shutdown().await;
    }

    #[tokio::test]
    async fn end_streams_closes_the_watch() {
        let fake = demo();
        let server = on_loopback(&fake).await;
        let pending = watch_request(
            format!(
                "{}/api/v1/stream/applications?resourceVersion=1",
                server.url()
            ),
            false,
            TOKEN,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        fake.end_streams();
        let resp = tokio::time::timeout(Duration::from_secs(5), pending)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.bytes().await.unwrap().is_empty());
    }

    /// The rest of a stream, until it ends.
    async fn rest(
        stream: &mut (impl futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Unpin),
        mut buf: String,
    ) -> String {
        while let Some(chunk) = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("stream stalled")
        {
            buf.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
        }
        buf
    }

    #[tokio::test]
    async fn a_failed_stream_ends_with_its_error_chunk() {
        let fake = demo();
        let server = on_loopback(&fake).await;
        let chunk = r#"{"error":{"grpc_code":14,"http_code":503,"http_status":"Service Unavailable","message":"transport is closing"}}"#;
        // After the first event the status is already 200: the chunk ends the body, `{}`
        // through a projection that does not name `error`.
        for (fields, want) in [("result.type", "{}"), ("result.type,error", chunk)] {
            let resp = client()
                .get(format!(
                    "{}/api/v1/stream/applications?selector=type%3Dpr&fields={fields}",
                    server.url()
                ))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            let mut stream = resp.bytes_stream();
            let mut buf = String::new();
            frames(&mut stream, &mut buf, 7, "\n").await;
            fake.fail_streams(14, "transport is closing");
            let tail = rest(&mut stream, buf).await;
            let tail: Value = serde_json::from_str(&tail).unwrap();
            assert_eq!(tail, serde_json::from_str::<Value>(want).unwrap());
        }
        // Before the first event: the error's own status.
        let rv = fake.resource_version();
        let pending = watch_request(
            format!(
                "{}/api/v1/stream/applications?resourceVersion={rv}",
                server.url()
            ),
            false,
            TOKEN,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        fake.fail_streams(14, "transport is closing");
        let resp = tokio::time::timeout(Duration::from_secs(5), pending)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(resp.status(), 503);
        let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert_eq!(body, serde_json::from_str::<Value>(chunk).unwrap());
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
        let server = on_loopback(&fake).await;
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
        let server = on_loopback(&fake).await;
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
