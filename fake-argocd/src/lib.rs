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
mod serving;

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
pub use serving::{TlsIdentity, under_root_path};

/// The version string a fresh fake reports (`GET /api/version`).
pub const DEFAULT_VERSION: &str = "v3.1.5+e8b6e8b";

/// The control-plane namespace: apps without `metadata.namespace` live here, and it is the
/// only namespace served unless others are enabled ([`FakeArgo::set_application_namespaces`]).
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
    /// The gRPC stream behind every open watch fails with this code and message.
    Fail(u8, String),
}

/// One Application with what every request needs precomputed, including its serialised
/// bytes, so a 10,000-app list is a concatenation rather than 10,000 serialisations.
pub(crate) struct StoredApp {
    pub(crate) name: String,
    pub(crate) namespace: String,
    pub(crate) project: String,
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) resource_version: u64,
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
            resource_version,
            value,
            bytes,
        }
    }
}

/// Who a caller is and what RBAC lets it `get`: applications and ApplicationSets by
/// project, each `None` for all. Argo CD checks `applications, get` and `applicationsets,
/// get` separately (`util/rbac/rbac.go` :: `Enforcer.Enforce` with
/// `rbac.ResourceApplications` / `rbac.ResourceApplicationSets`), so a role may have one
/// without the other.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    /// Empty for the anonymous caller (`claims == ""` upstream).
    pub(crate) username: String,
    pub(crate) projects: Option<Vec<String>>,
    pub(crate) appset_projects: Option<Vec<String>>,
}

fn allows(projects: Option<&Vec<String>>, project: &str) -> bool {
    projects.is_none_or(|ps| ps.iter().any(|p| p == project || p == "*"))
}

impl Grant {
    pub(crate) fn can_read(&self, project: &str) -> bool {
        allows(self.projects.as_ref(), project)
    }

    pub(crate) fn can_read_appset(&self, project: &str) -> bool {
        allows(self.appset_projects.as_ref(), project)
    }

    pub(crate) fn logged_in(&self) -> bool {
        !self.username.is_empty()
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
    /// `managed-resources` items per app instance name (`name`, or `<namespace>_<name>`
    /// outside the control-plane namespace), already in the wire shape.
    pub(crate) managed: HashMap<String, Vec<Value>>,
    pub(crate) tokens: HashMap<String, Grant>,
    /// `users.anonymous.enabled` with `policy.default`'s projects: a missing or bad token
    /// reads as this caller instead of a 401.
    pub(crate) anonymous: Option<Grant>,
    /// `--application-namespaces`: patterns of namespaces served besides the control plane.
    pub(crate) app_namespaces: Vec<String>,
    /// How often the controller reconciles every app (moves `status.reconciledAt`).
    pub(crate) reconcile_every: Option<Duration>,
    /// `--enable-gzip` (default true since v2.8).
    pub(crate) gzip: bool,
    pub(crate) version: String,
    pub(crate) faults: Vec<FaultRule>,
    pub(crate) keepalive: Duration,
    pub(crate) appsets: Vec<Value>,
    pub(crate) counts: BTreeMap<String, u64>,
    /// Responses sent compressed, by path.
    pub(crate) compressed: BTreeMap<String, u64>,
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
                    anonymous: None,
                    app_namespaces: Vec::new(),
                    reconcile_every: None,
                    gzip: true,
                    version: DEFAULT_VERSION.to_owned(),
                    faults: Vec::new(),
                    keepalive: Duration::from_secs(15),
                    appsets: Vec::new(),
                    counts: BTreeMap::new(),
                    compressed: BTreeMap::new(),
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
    /// The deleted object carries the resource version of its deletion, as the Kubernetes
    /// watch delivers it (`k8s.io/apiserver` `pkg/storage/etcd3/watcher.go` ::
    /// `watchChan.transform`: the old object "with the etcd revision for the time at which
    /// it gets deleted"), so a watch started from an earlier list still sees it.
    pub fn remove_app(&self, name: &str) -> bool {
        let removed: Vec<Arc<StoredApp>> = {
            let mut st = self.lock();
            let keys: Vec<_> = st.apps.keys().filter(|k| k.0 == name).cloned().collect();
            st.resource_version += 1;
            let rv = st.resource_version;
            let mut removed = Vec::new();
            for key in keys {
                if let Some(app) = st.apps.remove(&key) {
                    st.managed.remove(&instance_name(&app.name, &app.namespace));
                    removed.push(Arc::new(StoredApp::new(app.value.clone(), rv)));
                }
            }
            removed
        };
        let found = !removed.is_empty();
        for app in removed {
            self.publish("DELETED", app);
        }
        found
    }

    /// One controller reconcile of every app: `status.reconciledAt` moves to now and the
    /// resource version goes up, nothing else changes; watchers get MODIFIED for each
    /// (`controller/appcontroller.go` :: `ApplicationController.processAppRefreshQueueItem`
    /// sets `app.Status.ReconciledAt = &now` on every refresh; the default
    /// `timeout.reconciliation` is 180 s).
    pub fn reconcile_all(&self) {
        let now = reconciled_at();
        let names: Vec<(String, String)> = self.lock().apps.keys().cloned().collect();
        for key in names {
            let edited = {
                let mut st = self.lock();
                let Some(app) = st.apps.get(&key) else {
                    continue;
                };
                let mut value = app.value.clone();
                if let Some(status) = value.get_mut("status").and_then(Value::as_object_mut) {
                    status.insert("reconciledAt".into(), Value::String(now.clone()));
                }
                st.resource_version += 1;
                let stored = Arc::new(StoredApp::new(value, st.resource_version));
                st.apps.insert(key, stored.clone());
                stored
            };
            self.publish("MODIFIED", edited);
        }
    }

    /// Reconciles every app this often while served ([`FakeArgo::reconcile_all`]); `None`
    /// (the default) never. Upstream reconciles every 180 s.
    pub fn set_reconcile_every(&self, every: Option<Duration>) {
        self.lock().reconcile_every = every.map(|d| d.max(Duration::from_millis(1)));
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

    /// Sets the live objects (Kubernetes manifests as JSON) the control-plane app `app`
    /// manages; each becomes a `managed-resources` item whose `liveState` and `targetState`
    /// are JSON strings.
    pub fn set_managed_resources(&self, app: &str, objects: Vec<Value>) {
        self.set_managed_resources_in(DEFAULT_APP_NAMESPACE, app, objects);
    }

    /// [`FakeArgo::set_managed_resources`] for the app `app` in `namespace`. Upstream keys
    /// the cache by `Application.InstanceName` (`<namespace>_<name>` outside the control
    /// plane: `server/application/application.go` :: `Server.ManagedResources`), so two
    /// apps of one name in two namespaces have their own resources.
    pub fn set_managed_resources_in(&self, namespace: &str, app: &str, objects: Vec<Value>) {
        let items = objects.iter().map(managed_item).collect();
        self.lock()
            .managed
            .insert(instance_name(app, namespace), items);
    }

    /// Sets raw `managed-resources` items of a control-plane app (for odd shapes, e.g.
    /// `liveState: "null"`).
    pub fn set_managed_items(&self, app: &str, items: Vec<Value>) {
        self.lock()
            .managed
            .insert(instance_name(app, DEFAULT_APP_NAMESPACE), items);
    }

    // --- tokens ---------------------------------------------------------------------------

    /// Accepts `token` for user `admin` with access to every project.
    pub fn accept_token(&self, token: &str) {
        self.accept_token_as(token, "admin", None);
    }

    /// Accepts `token` as `username`, limited to `projects` when given (RBAC: other apps
    /// and ApplicationSets vanish from lists and read as 403), like the built-in
    /// `role:readonly` narrowed to those projects.
    pub fn accept_token_as(&self, token: &str, username: &str, projects: Option<&[&str]>) {
        let projects = owned(projects);
        let grant = Grant {
            username: username.to_owned(),
            appset_projects: projects.clone(),
            projects,
        };
        self.lock().tokens.insert(token.to_owned(), grant);
    }

    /// Narrows what an accepted `token` may `get` of ApplicationSets (`applicationsets,
    /// get`) to `projects`, `Some(&[])` for none: the sets vanish silently from the list.
    pub fn limit_applicationsets(&self, token: &str, projects: Option<&[&str]>) {
        if let Some(grant) = self.lock().tokens.get_mut(token) {
            grant.appset_projects = owned(projects);
        }
    }

    /// `users.anonymous.enabled: "true"`: a missing, expired or revoked token is not a 401
    /// but the anonymous caller, who may `get` what `policy.default` grants: the apps of
    /// `projects` (`Some(&[])`: none, `None`: all). `userinfo` answers `{}` for it.
    /// (`server/server.go` :: `ArgoCDServer.Authenticate`.) `None` turns it off again.
    pub fn set_anonymous(&self, projects: Option<Option<&[&str]>>) {
        self.lock().anonymous = projects.map(|ps| {
            let ps = owned(ps);
            Grant {
                username: String::new(),
                appset_projects: ps.clone(),
                projects: ps,
            }
        });
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

    /// `--application-namespaces`: namespaces (globs such as `team-*`, or `/regex/`) whose
    /// apps the server serves besides the control plane's. Without any, only the control
    /// plane's apps exist for the API (`server/server.go` scopes the informer to it).
    pub fn set_application_namespaces(&self, patterns: &[&str]) {
        self.lock().app_namespaces = patterns.iter().map(|p| (*p).to_owned()).collect();
    }

    /// `--enable-gzip` (on by default since v2.8, off in v2.6 and v2.7).
    pub fn set_gzip(&self, on: bool) {
        self.lock().gzip = on;
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

    /// Fails the gRPC stream behind every open watch with `grpc_code` and `message` (e.g.
    /// 14 `transport is closing` while argocd-server shuts down). grpc-gateway v1
    /// `runtime/handler.go` :: `ForwardResponseStream` hands the error to
    /// `handleForwardResponseStreamError`, which writes the stream error chunk (through
    /// the request's `fields` filter, so `{}` unless `fields` names `error`) and returns:
    /// after an event the status is already 200 and the chunk ends the body; before one,
    /// the chunk comes with the error's own status.
    pub fn fail_streams(&self, grpc_code: u8, message: &str) {
        let _ = self
            .inner
            .bus
            .send(Bus::Fail(grpc_code, message.to_owned()));
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

    /// How many label-selector lists of applications it answered: the previews' list (the
    /// base-app lookups share the path but name an app instead).
    pub fn selector_lists(&self) -> usize {
        self.lock()
            .log
            .iter()
            .filter(|r| {
                r.path == "/api/v1/applications"
                    && r.query.as_deref().is_some_and(|q| q.contains("selector="))
            })
            .count()
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

    /// How many answers to `path` (exact, without query) went out gzip- or
    /// deflate-compressed since the server started ([`FakeArgo::reset_requests`] keeps
    /// them: a watch is compressed once, when it opens).
    pub fn compressed_count(&self, path: &str) -> u64 {
        self.lock().compressed.get(path).copied().unwrap_or(0)
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

fn owned(projects: Option<&[&str]>) -> Option<Vec<String>> {
    projects.map(|ps| ps.iter().map(|p| (*p).to_owned()).collect())
}

/// `Application.InstanceName`: the bare name in the control-plane namespace, else
/// `<namespace>_<name>` (`pkg/apis/application/v1alpha1/types.go`).
pub(crate) fn instance_name(name: &str, namespace: &str) -> String {
    if namespace == DEFAULT_APP_NAMESPACE {
        name.to_owned()
    } else {
        format!("{namespace}_{name}")
    }
}

/// Now as Kubernetes writes a `metav1.Time` (RFC 3339, seconds, UTC).
fn reconciled_at() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

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

/// A live object as a `managed-resources` item; states are JSON **strings**; `hook` and
/// `modified` are `omitempty` upstream, so `false` is not written.
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
    })
}

/// The fake Argo CD API as a router (for in-process `oneshot` tests or your own server).
pub fn router(state: FakeArgo) -> Router {
    server::router(state)
}

/// A server running on a local port; stopped on drop or by [`Running::shutdown`].
pub struct Running {
    addr: SocketAddr,
    /// `http` or `https`.
    scheme: &'static str,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    /// Ends the fake's open watch streams so a graceful shutdown can finish.
    on_stop: Option<FakeArgo>,
    /// The controller's reconcile timer ([`FakeArgo::set_reconcile_every`]).
    reconciler: Option<JoinHandle<()>>,
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
            scheme: "http",
            stop: None,
            task: None,
            on_stop: None,
            reconciler: None,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://` from [`serve_tls`]; no trailing slash).
    pub fn url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// Stops accepting, ends watch streams, and waits (at most 2 s) for open requests.
    pub async fn shutdown(mut self) {
        if let Some(r) = self.reconciler.take() {
            r.abort();
        }
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
        if let Some(r) = self.reconciler.take() {
            r.abort();
        }
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
    spawn_on(router, listener, on_stop, "http")
}

fn spawn_on<L>(
    router: Router,
    listener: L,
    on_stop: Option<FakeArgo>,
    scheme: &'static str,
) -> Running
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
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
    let reconciler = on_stop
        .clone()
        .map(|fake| tokio::spawn(reconcile_loop(fake)));
    Running {
        addr,
        scheme,
        stop: Some(stop),
        task: Some(task),
        on_stop,
        reconciler,
    }
}

/// Reconciles every app at the configured period, re-read each round so a test can turn
/// it on or change it while the server runs.
async fn reconcile_loop(fake: FakeArgo) {
    loop {
        let every = fake.lock().reconcile_every;
        match every {
            Some(d) => {
                tokio::time::sleep(d).await;
                if fake.lock().reconcile_every.is_some() {
                    fake.reconcile_all();
                }
            }
            None => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Serves the fake Argo CD API over HTTPS on `addr` with `identity` (a certificate a test
/// made for `127.0.0.1`, e.g. signed by its own throwaway CA).
pub async fn serve_tls(
    state: FakeArgo,
    addr: SocketAddr,
    identity: &TlsIdentity,
) -> std::io::Result<Running> {
    let tcp = tokio::net::TcpListener::bind(addr).await?;
    let listener = serving::TlsListener::new(tcp, identity)?;
    Ok(spawn_on(
        router(state.clone()),
        listener,
        Some(state),
        "https",
    ))
}

/// Serves the fake Argo CD API under `--rootpath` `root` (e.g. `argocd`): everything at
/// `/argocd/api/...`, [`Running::url`] still the bare origin.
pub async fn serve_under(
    state: FakeArgo,
    addr: SocketAddr,
    root: &str,
) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let router = under_root_path(router(state.clone()), root);
    Ok(spawn(router, listener, Some(state)))
}

/// Serves the fake Argo CD API on `addr` (e.g. `127.0.0.1:0`).
pub async fn serve(state: FakeArgo, addr: SocketAddr) -> std::io::Result<Running> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    Ok(spawn(router(state.clone()), listener, Some(state)))
}
