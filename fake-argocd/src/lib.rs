//! The fake Argo CD API that `preview-switch demo` and every test talk to: an axum
//! [`router`] over a cheap-clone [`FakeArgo`] handle that tests mutate while it serves (apps,
//! managed resources, tokens, version, faults) and that counts requests per path.
//!
//! It follows the real server's rules (PLATFORM.md D) rather than being friendly: auth on
//! everything but `/api/version`, RBAC that silently drops apps from lists and answers 403
//! (not 404) for a missing app, the `fields` allow-list ([`fields`]), `items: null`,
//! `managed-resources` states as JSON strings, and the NDJSON / SSE watch stream. Each
//! behaviour and the upstream function it copies is listed in `BEHAVIOURS.md`.
//!
//! It depends on no product crate (neither the companion nor `protocol`): it speaks Argo
//! CD's JSON, so a client bug cannot leak into it through shared code. For the same reason
//! its label-selector parser ([`selector`]) is its own, a deliberate independent oracle for
//! the companion's `core::selector`, not a duplicate to merge.

pub mod environments;
mod envs;
mod faults;
pub mod fields;
pub mod generate;
pub mod scenario;
pub mod selector;
mod server;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;

pub use faults::{Fault, FaultRule};
pub use generate::{generated, write_list};
pub use scenario::{Scenario, SiteRoute, demo_scenario};

/// The version string a fresh fake reports (`GET /api/version`).
pub const DEFAULT_VERSION: &str = "v3.1.5+e8b6e8b";

/// The Argo CD namespace apps live in unless they say otherwise.
const DEFAULT_APP_NAMESPACE: &str = "argocd";

/// A handle on the fake server's state; clones share it.
#[derive(Clone)]
pub struct FakeArgo {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for FakeArgo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("FakeArgo")
            .field("apps", &st.apps.len())
            .field("version", &st.version)
            .finish_non_exhaustive()
    }
}

struct Inner {
    state: Mutex<State>,
    bus: broadcast::Sender<Bus>,
}

/// What the watch streams hear.
#[derive(Clone)]
pub(crate) enum Bus {
    Event(&'static str, Arc<StoredApp>),
    End,
}

/// One Application with what every request needs precomputed, including its serialised
/// bytes, so a 10,000-app list is a concatenation rather than 10,000 serialisations.
pub(crate) struct StoredApp {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) project: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) value: Value,
    pub(crate) bytes: Bytes,
}

impl StoredApp {
    fn new(mut value: Value, resource_version: u64) -> StoredApp {
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert(
                "resourceVersion".into(),
                Value::String(resource_version.to_string()),
            );
        }
        let str_at = |path: &[&str]| -> String {
            path.iter()
                .try_fold(&value, |v, p| v.get(*p))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let name = str_at(&["metadata", "name"]);
        let namespace = match str_at(&["metadata", "namespace"]) {
            ns if ns.is_empty() => DEFAULT_APP_NAMESPACE.to_owned(),
            ns => ns,
        };
        let project = str_at(&["spec", "project"]);
        let labels = string_labels(&value);
        let bytes = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        StoredApp {
            name,
            namespace,
            project,
            labels,
            value,
            bytes,
        }
    }
}

/// Who a token is and which projects it may read (`None`: all).
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) username: String,
    pub(crate) projects: Option<Vec<String>>,
}

impl Grant {
    pub(crate) fn can_read(&self, project: &str) -> bool {
        self.projects
            .as_ref()
            .is_none_or(|ps| ps.iter().any(|p| p == project || p == "*"))
    }
}

/// One request as the fake saw it (never its credentials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub path: String,
    pub query: Option<String>,
}

pub(crate) struct State {
    /// Keyed by (name, namespace) so iteration is the sorted-by-name order Argo CD returns.
    pub(crate) apps: BTreeMap<(String, String), Arc<StoredApp>>,
    pub(crate) resource_version: u64,
    /// `managed-resources` items per app name, already in the wire shape.
    pub(crate) managed: HashMap<String, Vec<Value>>,
    pub(crate) tokens: HashMap<String, Grant>,
    pub(crate) version: String,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) keepalive: Duration,
    pub(crate) appsets: Vec<Value>,
    pub(crate) counts: BTreeMap<String, u64>,
    pub(crate) log: Vec<RecordedRequest>,
    /// Revision metadata, deep links, sync grants and the syncs and refreshes seen.
    pub(crate) envs: envs::EnvsState,
}

impl Default for FakeArgo {
    fn default() -> Self {
        FakeArgo::new()
    }
}

impl FakeArgo {
    /// An empty server reporting [`DEFAULT_VERSION`] that accepts no token yet.
    pub fn new() -> FakeArgo {
        let (bus, _) = broadcast::channel(4096);
        FakeArgo {
            inner: Arc::new(Inner {
                state: Mutex::new(State {
                    apps: BTreeMap::new(),
                    resource_version: 1000,
                    managed: HashMap::new(),
                    tokens: HashMap::new(),
                    version: DEFAULT_VERSION.to_owned(),
                    faults: Vec::new(),
                    keepalive: Duration::from_secs(15),
                    appsets: Vec::new(),
                    counts: BTreeMap::new(),
                    log: Vec::new(),
                    envs: envs::EnvsState::default(),
                }),
                bus,
            }),
        }
    }

    /// A server holding `apps` that accepts `token` with access to every project.
    pub fn with_apps(token: &str, apps: Vec<Value>) -> FakeArgo {
        let fake = FakeArgo::new();
        fake.accept_token(token);
        fake.replace_apps(apps);
        fake
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock must not hide its own failure.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Bus> {
        self.inner.bus.subscribe()
    }

    fn publish(&self, kind: &'static str, app: Arc<StoredApp>) {
        // No receiver is fine: nobody is watching.
        let _ = self.inner.bus.send(Bus::Event(kind, app));
    }

    // --- apps ---------------------------------------------------------------------------

    /// Adds or replaces an Application (by name and namespace); watchers get ADDED or
    /// MODIFIED. Its `metadata.resourceVersion` is set to the new list version.
    pub fn upsert_app(&self, app: Value) {
        let (kind, stored) = {
            let mut st = self.lock();
            st.resource_version += 1;
            let stored = Arc::new(StoredApp::new(app, st.resource_version));
            let key = (stored.name.clone(), stored.namespace.clone());
            let kind = match st.apps.insert(key, stored.clone()) {
                Some(_) => "MODIFIED",
                None => "ADDED",
            };
            (kind, stored)
        };
        self.publish(kind, stored);
    }

    /// Edits an Application in place (e.g. its health); watchers get MODIFIED.
    /// Returns false when no app has that name.
    pub fn update_app(&self, name: &str, edit: impl FnOnce(&mut Value)) -> bool {
        let Some(mut value) = self.app(name) else {
            return false;
        };
        edit(&mut value);
        self.upsert_app(value);
        true
    }

    /// Removes every Application with this name; watchers get DELETED. False if none.
    pub fn remove_app(&self, name: &str) -> bool {
        let removed: Vec<Arc<StoredApp>> = {
            let mut st = self.lock();
            let keys: Vec<_> = st.apps.keys().filter(|k| k.0 == name).cloned().collect();
            let removed = keys.iter().filter_map(|k| st.apps.remove(k)).collect();
            st.resource_version += 1;
            st.managed.remove(name);
            removed
        };
        let found = !removed.is_empty();
        for app in removed {
            self.publish("DELETED", app);
        }
        found
    }

    /// Replaces the whole set. Watchers get DELETED for apps that went away and
    /// ADDED/MODIFIED for the rest.
    pub fn replace_apps(&self, apps: Vec<Value>) {
        let mut events = Vec::new();
        {
            let mut st = self.lock();
            st.resource_version += 1;
            let rv = st.resource_version;
            let mut next = BTreeMap::new();
            for app in apps {
                let stored = Arc::new(StoredApp::new(app, rv));
                next.insert((stored.name.clone(), stored.namespace.clone()), stored);
            }
            let old = std::mem::replace(&mut st.apps, next);
            for (key, app) in &old {
                if !st.apps.contains_key(key) {
                    events.push(("DELETED", app.clone()));
                }
            }
            for (key, app) in &st.apps {
                let kind = if old.contains_key(key) {
                    "MODIFIED"
                } else {
                    "ADDED"
                };
                events.push((kind, app.clone()));
            }
        }
        if self.inner.bus.receiver_count() > 0 {
            for (kind, app) in events {
                self.publish(kind, app);
            }
        }
    }

    /// One Application by name (the first namespace when several hold it).
    pub fn app(&self, name: &str) -> Option<Value> {
        let st = self.lock();
        st.apps
            .values()
            .find(|a| a.name == name)
            .map(|a| a.value.clone())
    }

    /// Every Application, sorted by name.
    pub fn apps(&self) -> Vec<Value> {
        self.lock().apps.values().map(|a| a.value.clone()).collect()
    }

    /// The list's current `metadata.resourceVersion`.
    pub fn resource_version(&self) -> String {
        self.lock().resource_version.to_string()
    }

    // --- managed resources ----------------------------------------------------------------

    /// Sets the live objects (Kubernetes manifests as JSON) the app manages; each becomes a
    /// `managed-resources` item whose `liveState` and `targetState` are JSON strings.
    pub fn set_managed_resources(&self, app: &str, objects: Vec<Value>) {
        let items = objects.iter().map(managed_item).collect();
        self.set_managed_items(app, items);
    }

    /// Sets raw `managed-resources` items (for odd shapes, e.g. `liveState: "null"`).
    pub fn set_managed_items(&self, app: &str, items: Vec<Value>) {
        self.lock().managed.insert(app.to_owned(), items);
    }

    // --- tokens ---------------------------------------------------------------------------

    /// Accepts `token` for user `admin` with access to every project.
    pub fn accept_token(&self, token: &str) {
        self.accept_token_as(token, "admin", None);
    }

    /// Accepts `token` as `username`, limited to `projects` when given (RBAC: other apps
    /// vanish from lists and read as 403).
    pub fn accept_token_as(&self, token: &str, username: &str, projects: Option<&[&str]>) {
        let grant = Grant {
            username: username.to_owned(),
            projects: projects.map(|ps| ps.iter().map(|p| (*p).to_owned()).collect()),
        };
        self.lock().tokens.insert(token.to_owned(), grant);
    }

    /// Stops accepting `token` (as an expired or revoked one).
    pub fn revoke_token(&self, token: &str) {
        self.lock().tokens.remove(token);
    }

    // --- server settings ------------------------------------------------------------------

    /// The `Version` reported by `/api/version`; also decides whether
    /// `items.status.sync.revision` is projectable (from v3.5).
    pub fn set_version(&self, version: &str) {
        self.lock().version = version.to_owned();
    }

    pub fn version(&self) -> String {
        self.lock().version.clone()
    }

    /// The SSE keepalive period (15 s like Argo CD; shorten it in tests).
    pub fn set_keepalive(&self, every: Duration) {
        // A zero period would make tokio's interval panic.
        self.lock().keepalive = every.max(Duration::from_millis(1));
    }

    /// The ApplicationSets served by `GET /api/v1/applicationsets`.
    pub fn set_applicationsets(&self, appsets: Vec<Value>) {
        self.lock().appsets = appsets;
    }

    /// Ends every open watch stream cleanly (as a server restart or proxy timeout does).
    pub fn end_streams(&self) {
        let _ = self.inner.bus.send(Bus::End);
    }

    // --- faults ---------------------------------------------------------------------------

    pub fn add_fault(&self, rule: FaultRule) {
        self.lock().faults.push(rule);
    }

    /// Shorthand: `fault` on every request until cleared.
    pub fn set_fault(&self, fault: Fault) {
        self.add_fault(FaultRule::new(fault));
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// The faults that apply to this request, consuming one use of counted rules.
    pub(crate) fn take_faults(&self, path: &str) -> Vec<Fault> {
        let mut st = self.lock();
        let mut out = Vec::new();
        st.faults.retain_mut(|rule| {
            if !rule.matches(path) {
                return true;
            }
            out.push(rule.fault.clone());
            match &mut rule.times {
                Some(n) => {
                    *n = n.saturating_sub(1);
                    *n > 0
                }
                None => true,
            }
        });
        out
    }

    // --- request accounting ---------------------------------------------------------------

    pub(crate) fn record(&self, path: &str, query: Option<&str>) {
        let mut st = self.lock();
        *st.counts.entry(path.to_owned()).or_default() += 1;
        st.log.push(RecordedRequest {
            path: path.to_owned(),
            query: query.map(str::to_owned),
        });
    }

    /// How many requests reached `path` (exact, without query), faults included.
    pub fn request_count(&self, path: &str) -> u64 {
        self.lock().counts.get(path).copied().unwrap_or(0)
    }

    /// How many requests reached a path ending with `suffix`, e.g. `/managed-resources`
    /// (every app's), faults included.
    pub fn request_count_ending(&self, suffix: &str) -> u64 {
        let st = self.lock();
        st.counts
            .iter()
            .filter(|(path, _)| path.ends_with(suffix))
            .map(|(_, n)| n)
            .sum()
    }

    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.lock().counts.clone()
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().log.clone()
    }

    pub fn reset_requests(&self) {
        let mut st = self.lock();
        st.counts.clear();
        st.log.clear();
    }
}

/// A live object as a `managed-resources` item; states are JSON **strings**.
/// An object's `metadata.labels` with string values (what a label selector matches on).
pub(crate) fn string_labels(object: &Value) -> BTreeMap<String, String> {
    object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

fn managed_item(object: &Value) -> Value {
    let api_version = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let str_at = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
    let state = object.to_string();
    serde_json::json!({
        "group": group,
        "version": version,
        "kind": str_at("/kind"),
        "namespace": str_at("/metadata/namespace"),
        "name": str_at("/metadata/name"),
        "liveState": state,
        "targetState": state,
        "normalizedLiveState": state,
        "predictedLiveState": state,
        "hook": false,
        "modified": false,
    })
}

/// The fake Argo CD API as a router (for in-process `oneshot` tests or your own server).
pub fn router(state: FakeArgo) -> Router {
    server::router(state)
}

/// A server running on a local port; stopped on drop or by [`Running::shutdown`].
pub struct Running {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// Ends the fake's open watch streams so a graceful shutdown can finish.
    on_stop: Option<FakeArgo>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("addr", &self.addr).finish()
    }
}

impl Running {
    /// A handle on nothing (lets an owner move a real server out before shutting it down).
    pub fn stopped() -> Running {
        Running {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stop: None,
            task: None,
            on_stop: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, ends watch streams, and waits (at most 2 s) for open requests.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(fake) = &self.on_stop {
            fake.end_streams();
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(fake) = &self.on_stop {
            fake.end_streams();
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Serves any router on `addr` (use port 0 for a free one) until the handle is dropped.
pub async fn serve_router(router: Router, addr: SocketAddr) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    Ok(spawn(router, listener, None))
}

/// Serves `router` on an already bound `listener` (so a caller can report a busy port
/// itself); `on_stop` is a fake whose watch streams end when the server stops.
pub fn spawn(
    router: Router,
    listener: tokio::net::TcpListener,
    on_stop: Option<FakeArgo>,
) -> Running {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });
    Running {
        addr,
        stop: Some(stop),
        task: Some(task),
        on_stop,
    }
}

/// Serves the fake Argo CD API on `addr` (e.g. `127.0.0.1:0`).
pub async fn serve(state: FakeArgo, addr: SocketAddr) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    Ok(spawn(router(state.clone()), listener, Some(state)))
}
