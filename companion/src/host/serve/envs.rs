//! The host's side of "what runs where" and of acting on an app: `envs` (answered from the
//! last result, in memory and on disk, like `list`), `refresh_app` / `sync_app` and
//! `app_links` (only for an app the companion listed: a preview, or an environment from
//! `envs`), and deploy notifications. Notifications are computed on the subscription:
//! each preview change the watch brings, and each environment of the services named by
//! `watch_envs`, is observed by the pure [`crate::core::transitions`]; what was notified is
//! kept on disk, so a restart of the companion or the browser sends nothing twice.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use protocol::Preview;
use protocol::envs::{EnvStatus, NotificationKind, ServiceEnvs};
use protocol::messages::{
    AppAction, AppLinksReply, AppRef, Change, ChangeKind, EnvsReply, ErrorCode, MAX_FRAME_BYTES,
    Reply, ServerFailure, WatchingEnvs,
};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::{Host, Port, error_reply, now_ms, send_on};
use crate::core::transitions::{self, Observation, Seen};
use crate::host::source::{EnvsFetched, Source};

/// The last environments fetched, as kept in memory and on disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct EnvsSnapshot {
    pub fetched_at_ms: u64,
    pub services: Vec<ServiceEnvs>,
    pub failures: Vec<ServerFailure>,
}

/// Bumped when a file's layout changes; other versions are ignored.
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct EnvsFile {
    format: u32,
    #[serde(flatten)]
    snapshot: EnvsSnapshot,
}

#[derive(Serialize, Deserialize, Default)]
struct NotifiedFile {
    format: u32,
    /// `server|namespace|app` → what was notified.
    apps: HashMap<String, Seen>,
}

type EnvsOutcome = Arc<EnvsSnapshot>;

/// The host's envs and notification state.
#[derive(Default)]
pub(super) struct Extra {
    envs_file: Option<PathBuf>,
    notified_file: Option<PathBuf>,
    envs: Mutex<Option<Arc<EnvsSnapshot>>>,
    inflight: Mutex<Option<Shared<BoxFuture<'static, EnvsOutcome>>>>,
    notified: Mutex<Option<HashMap<String, Seen>>>,
}

impl Extra {
    /// Files beside the listing cache, named after it (`listing-<hash>.json`).
    pub(super) fn new(listing_file: Option<&std::path::Path>) -> Extra {
        let beside = |prefix: &str| {
            listing_file.map(|p| {
                let name = p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("listing.json");
                p.with_file_name(name.replacen("listing", prefix, 1))
            })
        };
        let envs_file = beside("envs");
        let cached = envs_file
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<EnvsFile>(&b).ok())
            .filter(|f| f.format == FORMAT)
            .map(|f| Arc::new(f.snapshot));
        Extra {
            envs_file,
            notified_file: beside("notified"),
            envs: Mutex::new(cached),
            inflight: Mutex::new(None),
            notified: Mutex::new(None),
        }
    }
}

/// The key an app is known and notified by.
fn app_key(server: &str, namespace: &str, app: &str) -> String {
    transitions::key(server, namespace, app)
}

impl<S: Source> Host<S> {
    fn envs_snapshot(&self) -> Option<Arc<EnvsSnapshot>> {
        self.extra.envs.lock().expect("lock").clone()
    }

    /// Starts an envs fetch unless one runs, and returns a handle on it.
    fn refresh_envs(self: &Arc<Self>) -> Shared<BoxFuture<'static, EnvsOutcome>> {
        let mut inflight = self.extra.inflight.lock().expect("lock");
        if let Some(running) = &*inflight {
            return running.clone();
        }
        let me = self.clone();
        let fut = async move {
            let fetched = match tokio::time::timeout(me.opts.fetch_timeout, me.live.source().envs())
                .await
            {
                Ok(f) => f,
                Err(_) => EnvsFetched {
                    services: Vec::new(),
                    failures: me
                        .live
                        .servers()
                        .iter()
                        .map(|s| ServerFailure {
                            server: s.url.clone(),
                            error: protocol::messages::ErrorBody {
                                code: ErrorCode::Timeout,
                                message: format!(
                                    "Argo CD did not answer within {} s",
                                    me.opts.fetch_timeout.as_secs_f64()
                                ),
                                fix: "check your network/VPN, or raise the timeout in config.toml"
                                    .to_owned(),
                            },
                        })
                        .collect(),
                },
            };
            let snap = Arc::new(EnvsSnapshot {
                fetched_at_ms: now_ms(),
                services: fetched.services,
                failures: fetched.failures,
            });
            me.store_envs(&snap);
            *me.extra.inflight.lock().expect("lock") = None;
            snap
        }
        .boxed()
        .shared();
        *inflight = Some(fut.clone());
        tokio::spawn(fut.clone());
        fut
    }

    fn store_envs(&self, snap: &Arc<EnvsSnapshot>) {
        *self.extra.envs.lock().expect("lock") = Some(snap.clone());
        if let Some(path) = &self.extra.envs_file {
            let file = EnvsFile {
                format: FORMAT,
                snapshot: (**snap).clone(),
            };
            crate::store::store_json(path, &file, "the envs cache");
        }
    }

    /// `envs`: the last result when there is one (a stale one also starts a refresh),
    /// else (or with `refresh`) a fetch.
    pub(super) async fn envs(
        self: &Arc<Self>,
        id: u64,
        service: Option<String>,
        refresh: bool,
    ) -> Reply {
        let fresh_for = u64::try_from(self.opts.fresh_for.as_millis()).unwrap_or(u64::MAX);
        let snap = match (self.envs_snapshot(), refresh) {
            (Some(snap), false) => {
                if now_ms().saturating_sub(snap.fetched_at_ms) >= fresh_for {
                    drop(self.refresh_envs());
                }
                snap
            }
            _ => self.refresh_envs().await,
        };
        if snap.services.is_empty()
            && let Some(first) = snap.failures.first()
        {
            return Reply::Error(protocol::messages::ErrorReply {
                id: Some(id),
                error: first.error.clone(),
            });
        }
        let mut services: Vec<ServiceEnvs> = snap
            .services
            .iter()
            .filter(|s| service.as_deref().is_none_or(|want| s.service == want))
            .cloned()
            .collect();
        let mut reply = EnvsReply {
            id,
            services: Vec::new(),
            fetched_at_ms: snap.fetched_at_ms,
            stale: now_ms().saturating_sub(snap.fetched_at_ms) >= fresh_for,
            failures: snap.failures.clone(),
            omitted: 0,
        };
        // As many services as fit in one frame; the rest are counted.
        let base = serde_json::to_vec(&Reply::Envs(reply.clone())).map_or(0, |b| b.len()) + 64;
        let mut size = base;
        let mut kept = Vec::new();
        for s in services.drain(..) {
            let len = serde_json::to_vec(&s).map_or(usize::MAX, |b| b.len() + 1);
            if size.saturating_add(len) > MAX_FRAME_BYTES {
                reply.omitted += 1;
                continue;
            }
            size += len;
            kept.push(s);
        }
        reply.services = kept;
        Reply::Envs(reply)
    }

    /// Whether `app` is one the companion listed: a preview of the current snapshot, or
    /// an environment of the last `envs` result. Nothing else is acted on.
    fn listed(&self, app: &AppRef) -> bool {
        let key = app_key(&app.server, &app.namespace, &app.app);
        let preview = self.live.current().is_some_and(|s| {
            s.previews
                .iter()
                .any(|p| app_key(&p.server, &p.namespace, &p.app) == key)
        });
        preview
            || self.envs_snapshot().is_some_and(|s| {
                s.services
                    .iter()
                    .flat_map(|s| &s.envs)
                    .any(|e| app_key(&e.server, &e.namespace, &e.app) == key)
            })
    }

    fn not_listed(id: u64, app: &AppRef) -> Reply {
        error_reply(
            Some(id),
            ErrorCode::NotFound,
            format!(
                "{} in {} on {} is not an application the companion listed",
                app.app, app.namespace, app.server
            ),
            "reopen the popup to list again",
        )
    }

    /// `refresh_app` / `sync_app`.
    pub(super) async fn act(self: &Arc<Self>, id: u64, app: AppRef, action: AppAction) -> Reply {
        if !self.listed(&app) {
            return Self::not_listed(id, &app);
        }
        match self.live.source().act(&app, action).await {
            Ok(mut done) => {
                done.id = id;
                // The change shows in the listing: subscribers get it as an event.
                drop(self.live.refresh(true));
                Reply::AppAction(Box::new(done))
            }
            Err(error) => Reply::Error(protocol::messages::ErrorReply {
                id: Some(id),
                error,
            }),
        }
    }

    /// `app_links`.
    pub(super) async fn app_links(self: &Arc<Self>, id: u64, app: AppRef) -> Reply {
        if !self.listed(&app) {
            return Self::not_listed(id, &app);
        }
        match self.live.source().app_links(&app).await {
            Ok(links) => Reply::AppLinks(AppLinksReply { id, links }),
            Err(error) => Reply::Error(protocol::messages::ErrorReply {
                id: Some(id),
                error,
            }),
        }
    }

    /// `watch_envs`: (re)starts this port's environment watch for `services`.
    pub(super) fn watch_envs(
        self: &Arc<Self>,
        id: u64,
        services: Vec<String>,
        port: &Port,
    ) -> Reply {
        let subscription = port
            .subscription
            .lock()
            .expect("lock")
            .as_ref()
            .map(|s| s.id);
        let Some(subscription) = subscription else {
            return error_reply(
                Some(id),
                ErrorCode::BadRequest,
                "watch_envs needs a subscription on this port".to_owned(),
                "send subscribe first, on the same port",
            );
        };
        let mut slot = port.envs_watch.lock().expect("lock");
        if let Some(old) = slot.take() {
            old.abort();
        }
        if !services.is_empty() {
            let task = tokio::spawn(self.clone().env_watch(
                subscription,
                services.clone(),
                port.tx.clone(),
            ));
            *slot = Some(task.abort_handle());
        }
        Reply::WatchingEnvs(WatchingEnvs { id, services })
    }

    /// Watches every server's apps; after each burst of changes, reads the environments
    /// again and notifies the changes of `services`' environments.
    async fn env_watch(
        self: Arc<Self>,
        subscription: u64,
        services: Vec<String>,
        tx: mpsc::Sender<Vec<u8>>,
    ) {
        let (kick, mut kicked) = mpsc::channel::<()>(1);
        let mut watchers = tokio::task::JoinSet::new();
        for index in 0..self.live.servers().len() {
            let (me, kick) = (self.clone(), kick.clone());
            watchers.spawn(async move {
                let mut backoff = me.opts.backoff_min;
                loop {
                    if let Ok(mut feed) = me.live.source().watch_all(index).await {
                        while let Some(Ok(())) = feed.next().await {
                            backoff = me.opts.backoff_min;
                            let _ = kick.try_send(());
                        }
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(me.opts.backoff_max);
                    let _ = kick.try_send(());
                }
            });
        }
        drop(kick);
        // The first read records what runs now; later ones notify what changed.
        let _ = self.observe_envs(subscription, &services, &tx, true).await;
        while kicked.recv().await.is_some() {
            // A burst (a sync touches an app several times) becomes one read.
            tokio::time::sleep(Duration::from_millis(300)).await;
            while kicked.try_recv().is_ok() {}
            if !self.observe_envs(subscription, &services, &tx, false).await {
                return;
            }
        }
    }

    /// Reads the environments now and sends the notifications their changes make.
    async fn observe_envs(
        self: &Arc<Self>,
        subscription: u64,
        services: &[String],
        tx: &mpsc::Sender<Vec<u8>>,
        first: bool,
    ) -> bool {
        let snap = if first && let Some(s) = self.envs_snapshot() {
            s
        } else {
            self.refresh_envs().await
        };
        let envs: Vec<(String, &EnvStatus)> = snap
            .services
            .iter()
            .filter(|s| services.contains(&s.service))
            .flat_map(|s| s.envs.iter().map(move |e| (s.service.clone(), e)))
            .collect();
        let mut out = Vec::new();
        for (service, e) in envs {
            let obs = Observation {
                server: e.server.clone(),
                namespace: e.namespace.clone(),
                app: e.app.clone(),
                service,
                pr: None,
                env: e.env.clone(),
                runs: e.revision.clone().or_else(|| e.image_tag.clone()),
                sync: e.sync.clone(),
                health: e.health.clone(),
                phase: e.phase.clone(),
                operation_message: e
                    .notes
                    .iter()
                    .find_map(|n| n.strip_prefix("sync failed: "))
                    .map(str::to_owned),
                rollout: e.rollout.clone(),
                link: e.links.argocd.clone(),
            };
            for kind in self.note(&obs) {
                out.push(transitions::notification(
                    subscription,
                    kind,
                    &obs,
                    e.revision.as_deref(),
                    e.subject.as_deref(),
                ));
            }
        }
        self.save_notified();
        for n in out {
            if !send_on(tx, &Reply::Notification(Box::new(n))).await {
                return false;
            }
        }
        true
    }

    /// Observes one app against what was notified, remembering the new state.
    fn note(&self, obs: &Observation) -> Vec<NotificationKind> {
        let mut guard = self.extra.notified.lock().expect("lock");
        let notified = guard.get_or_insert_with(|| self.load_notified());
        let key = app_key(&obs.server, &obs.namespace, &obs.app);
        let (kinds, seen) = transitions::observe(notified.get(&key), obs);
        notified.insert(key, seen);
        kinds
    }

    fn load_notified(&self) -> HashMap<String, Seen> {
        self.extra
            .notified_file
            .as_deref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice::<NotifiedFile>(&b).ok())
            .filter(|f| f.format == FORMAT)
            .map(|f| f.apps)
            .unwrap_or_default()
    }

    fn save_notified(&self) {
        let Some(path) = &self.extra.notified_file else {
            return;
        };
        let file = {
            let guard = self.extra.notified.lock().expect("lock");
            let Some(apps) = guard.as_ref() else { return };
            NotifiedFile {
                format: FORMAT,
                apps: apps.clone(),
            }
        };
        crate::store::store_json(path, &file, "what was notified");
    }

    /// The notifications the preview changes of one snapshot make.
    pub(super) async fn notify_previews(
        self: &Arc<Self>,
        subscription: u64,
        changes: &[Change],
        tx: &mpsc::Sender<Vec<u8>>,
    ) -> bool {
        let mut out = Vec::new();
        for change in changes.iter().filter(|c| c.change != ChangeKind::Deleted) {
            let p = &change.preview;
            let mut obs = preview_observation(p);
            let app = AppRef {
                server: p.server.clone(),
                namespace: p.namespace.clone(),
                app: p.app.clone(),
            };
            // Only an unhealthy or suspended app can have a paused or aborted Rollout.
            if matches!(p.health.as_deref(), Some("Suspended" | "Degraded")) {
                obs.rollout = self.live.source().inspect(&app, true, false).await.rollout;
            }
            let kinds = self.note(&obs);
            for kind in kinds {
                let inspected = if kind == NotificationKind::Deployed {
                    self.live.source().inspect(&app, false, true).await
                } else {
                    Default::default()
                };
                let revision = inspected.revision.or_else(|| p.revision.clone());
                out.push(transitions::notification(
                    subscription,
                    kind,
                    &obs,
                    revision.as_deref(),
                    inspected.subject.as_deref(),
                ));
            }
        }
        self.save_notified();
        for n in out {
            if !send_on(tx, &Reply::Notification(Box::new(n))).await {
                return false;
            }
        }
        true
    }
}

/// A preview as the transitions see it: it runs its revision when the listing has one
/// (Argo CD 3.5+), else its image tag.
fn preview_observation(p: &Preview) -> Observation {
    Observation {
        server: p.server.clone(),
        namespace: p.namespace.clone(),
        app: p.app.clone(),
        service: p.service.clone(),
        pr: Some(p.pr),
        env: p.context.clone(),
        runs: p.revision.clone().or_else(|| p.image_tag.clone()),
        sync: p.sync.clone(),
        health: p.health.clone(),
        phase: p.phase.clone(),
        operation_message: None,
        rollout: None,
        link: p.links.argocd.clone(),
    }
}

/// Stops a port's environment watch (on disconnect).
pub(super) fn stop(slot: &Mutex<Option<AbortHandle>>) {
    if let Some(task) = slot.lock().expect("lock").take() {
        task.abort();
    }
}
