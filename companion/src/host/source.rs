//! Where the host gets previews from: the [`Source`] trait (fetch a listing, open a live
//! change feed per server), the real adapter over [`crate::listing`] and
//! [`crate::argocd::client::Client`], and the one function mapping [`crate::error::Error`]
//! to a wire [`ErrorBody`]. Tests implement [`Source`] with fakes, so the whole host runs
//! in-process without Argo CD.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use protocol::Preview;
use protocol::messages::{ErrorBody, ErrorCode, ServerFailure, ServerInfo};

use protocol::envs::{DeepLink, Rollout, ServiceEnvs};
use protocol::messages::{AppAction, AppActionReply, AppRef};

use crate::argocd::apps::AppId;
use crate::argocd::client::{Client, ListQuery};
use crate::argocd::model::Application;
use crate::argocd::watch::WatchEvent;
use crate::error::{Error, Surface};
use crate::listing::{Listed, as_compared};
use crate::server::{ServerTarget, url_key};

/// One fetch over every configured server.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub previews: Vec<Preview>,
    /// Servers that failed; `server` is the server's base URL (a preview's `server`), so the
    /// host can keep that server's previous previews instead of reporting them deleted.
    pub failures: Vec<ServerFailure>,
}

/// A live feed of "something changed on this server". An `Err` item or the end of the
/// stream means the watch broke: the host backs off, re-lists and reopens it.
pub type ChangeFeed = BoxStream<'static, Result<(), ErrorBody>>;

/// One fetch of every server's environments.
#[derive(Debug, Clone, Default)]
pub struct EnvsFetched {
    pub services: Vec<ServiceEnvs>,
    pub failures: Vec<ServerFailure>,
}

/// What a notification needs beyond a preview's list entry: its Rollout (when its health
/// says one may be paused or aborted), and the revision it runs with that commit's subject
/// (when it just deployed).
#[derive(Debug, Clone, Default)]
pub struct Inspected {
    pub rollout: Option<Rollout>,
    pub revision: Option<String>,
    pub subject: Option<String>,
}

/// Why a source cannot do what the host asked (a test source, a broken config).
fn unsupported(what: &str) -> ErrorBody {
    ErrorBody {
        code: ErrorCode::Internal,
        message: format!("this companion cannot {what}"),
        fix: "check the companion's configuration with `preview-switch doctor`".to_owned(),
    }
}

/// What the host needs from the outside world.
pub trait Source: Send + Sync + 'static {
    /// The configured servers for `hello` and the cache key; never a token.
    fn servers(&self) -> Vec<ServerInfo>;
    /// Lists every server (concurrently) and derives the previews.
    fn fetch(&self) -> impl Future<Output = Fetched> + Send;
    /// Opens the change feed of server `index` (into [`Source::servers`]).
    fn watch(&self, index: usize) -> impl Future<Output = Result<ChangeFeed, ErrorBody>> + Send;

    /// Reads every server's environments (`envs`).
    fn envs(&self) -> impl Future<Output = EnvsFetched> + Send {
        let servers = self.servers();
        async move {
            EnvsFetched {
                services: Vec::new(),
                failures: servers
                    .into_iter()
                    .map(|s| ServerFailure {
                        server: s.url,
                        error: unsupported("read environments"),
                    })
                    .collect(),
            }
        }
    }

    /// Refreshes or syncs one app with the user's token.
    fn act(
        &self,
        app: &AppRef,
        action: AppAction,
    ) -> impl Future<Output = Result<AppActionReply, ErrorBody>> + Send {
        let _ = (app, action);
        async { Err(unsupported("refresh or sync")) }
    }

    /// One app's deep links.
    fn app_links(
        &self,
        app: &AppRef,
    ) -> impl Future<Output = Result<Vec<DeepLink>, ErrorBody>> + Send {
        let _ = app;
        async { Ok(Vec::new()) }
    }

    /// What a notification about `app` needs (best effort: parts that fail are left out).
    fn inspect(
        &self,
        app: &AppRef,
        rollout: bool,
        subject: bool,
    ) -> impl Future<Output = Inspected> + Send {
        let _ = (app, rollout, subject);
        async { Inspected::default() }
    }

    /// A change feed of every application of server `index`, previews or not (for
    /// `watch_envs`).
    fn watch_all(
        &self,
        index: usize,
    ) -> impl Future<Output = Result<ChangeFeed, ErrorBody>> + Send {
        let _ = index;
        async { Err(unsupported("watch environments")) }
    }
}

/// The real source: [`crate::listing::list`] for fetches, `Client::watch_applications` for
/// the feed. A watch event only triggers a re-list (debounced by the host), so previews are
/// derived by exactly the same code as `preview-switch list`; and only an event that
/// changes what the list showed does: the watch starts at the last list's
/// `resourceVersion` with its `fields` projection, and an event whose Application equals
/// the listed one (a reconcile that only moved `status.reconciledAt`, which the server's
/// de-duplication lets through once per watch) is dropped here.
#[derive(Debug, Clone)]
pub struct ListingSource {
    pub targets: Vec<ServerTarget>,
    /// Per server (by `url_key`): what the last list showed, kept up to date by the watch.
    listed: Arc<Mutex<HashMap<String, Seen>>>,
}

/// One server's last list, as the watch compares events with it.
#[derive(Debug, Default)]
struct Seen {
    resource_version: Option<String>,
    fields: Option<String>,
    apps: HashMap<(String, String), Application>,
}

impl Seen {
    fn from(listed: Listed) -> Seen {
        let apps = listed
            .apps
            .iter()
            .map(|a| (app_key(a), as_compared(a)))
            .collect();
        Seen {
            resource_version: listed.resource_version,
            fields: listed.fields,
            apps,
        }
    }

    /// Whether `event` changes anything the list showed; remembers what it shows now. A
    /// reconcile moves `status.reconciledAt`, which no listing reads, and the
    /// resourceVersion, which is left out of the comparison (whole, unprojected items from
    /// servers before 2.6 carry it).
    fn changes(&mut self, event: WatchEvent) -> bool {
        match event {
            WatchEvent::Added(app) | WatchEvent::Modified(app) => {
                let key = app_key(&app);
                let now = as_compared(&app);
                if self.apps.get(&key) == Some(&now) {
                    return false;
                }
                self.apps.insert(key, now);
                true
            }
            WatchEvent::Deleted(app) => self.apps.remove(&app_key(&app)).is_some(),
        }
    }
}

fn app_key(app: &Application) -> (String, String) {
    (
        app.metadata.namespace_or_default().to_owned(),
        app.metadata.name.clone(),
    )
}

impl ListingSource {
    pub fn new(targets: Vec<ServerTarget>) -> ListingSource {
        ListingSource {
            targets,
            listed: Arc::default(),
        }
    }
}

impl ListingSource {
    fn target(&self, server: &str) -> Result<&ServerTarget, ErrorBody> {
        crate::actions::target_for(&self.targets, server).map_err(|e| to_wire(&e))
    }

    fn client(&self, target: &ServerTarget) -> Result<Client, ErrorBody> {
        let refreshed = crate::argocd::refresh::with_refreshed_token(target);
        Client::new(refreshed.as_ref().unwrap_or(target)).map_err(|e| to_wire(&e))
    }

    /// A feed of every app's changes on server `index` (no selector), without the ones only
    /// a controller reconcile makes: the watch leaves out the fields a reconcile moves, so
    /// the server's per-app de-duplication (argoproj/pkg `NewStreamForwarder`) drops those
    /// events instead of each one costing an environments read.
    async fn watch_unfiltered(&self, index: usize) -> Result<ChangeFeed, ErrorBody> {
        let target = self.targets.get(index).ok_or_else(|| ErrorBody {
            code: ErrorCode::Internal,
            message: format!("no configured server number {index} to watch"),
            fix: "report this bug".to_owned(),
        })?;
        let client = self.client(target)?;
        let stream = client
            .watch_applications(
                &ListQuery {
                    fields: Some(RECONCILE_ONLY.to_owned()),
                    ..ListQuery::default()
                },
                None,
            )
            .await
            .map_err(|e| to_wire(&e))?;
        Ok(stream
            .map(|event| event.map(|_| ()).map_err(|e| to_wire(&e)))
            .boxed())
    }
}

impl Source for ListingSource {
    fn servers(&self) -> Vec<ServerInfo> {
        self.targets
            .iter()
            .map(|t| ServerInfo {
                name: t.name.clone(),
                url: t.url.as_str().trim_end_matches('/').to_owned(),
                selector: t.selector.clone(),
            })
            .collect()
    }

    async fn fetch(&self) -> Fetched {
        let listing = crate::listing::list(&self.targets).await;
        {
            let mut seen = self.listed.lock().unwrap_or_else(|e| e.into_inner());
            for (url, listed) in listing.listed {
                if let Ok(u) = url::Url::parse(&url) {
                    seen.insert(url_key(&u), Seen::from(listed));
                }
            }
        }
        let failures = listing
            .failures
            .iter()
            .map(|f| ServerFailure {
                server: f.url.clone(),
                error: to_wire(&f.error),
            })
            .collect();
        Fetched {
            previews: listing.previews,
            failures,
        }
    }

    async fn watch(&self, index: usize) -> Result<ChangeFeed, ErrorBody> {
        let target = self.targets.get(index).ok_or_else(|| ErrorBody {
            code: ErrorCode::Internal,
            message: format!("no configured server number {index} to watch"),
            fix: "report this bug".to_owned(),
        })?;
        // A token the listing refreshed through the argocd CLI after a 401 (the watch's own
        // 401 ends the feed; the re-list that follows refreshes it, and the reopened watch
        // picks the fresh token up here).
        let refreshed = crate::argocd::refresh::with_refreshed_token(target);
        let target = refreshed.as_ref().unwrap_or(target);
        let client = Client::new(target).map_err(|e| to_wire(&e))?;
        let key = url_key(&target.url);
        let (resource_version, fields) = {
            let seen = self.listed.lock().unwrap_or_else(|e| e.into_inner());
            seen.get(&key)
                .map(|s| (s.resource_version.clone(), s.fields.clone()))
                .unwrap_or_default()
        };
        let query = ListQuery {
            selector: Some(target.selector.clone()),
            name: None,
            fields,
        };
        // Upstream sends no header before the first event, and it has no history: a change
        // between the list and the moment the server subscribes this watch is never sent.
        // So once the request has had time to arrive (or the first event came), the feed
        // signals one change, and the host's re-list covers that gap.
        let mut opening = Box::pin(async move {
            client
                .watch_applications(&query, resource_version.as_deref())
                .await
        });
        let opened = tokio::select! {
            result = &mut opening => Some(result.map_err(|e| to_wire(&e))?),
            () = tokio::time::sleep(WATCH_SETTLE) => None,
        };
        let events = match opened {
            Some(stream) => stream,
            None => futures_util::stream::once(opening)
                .flat_map(|result| match result {
                    Ok(stream) => stream,
                    Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
                })
                .boxed(),
        };
        let listed = self.listed.clone();
        let changes = events.filter_map(move |event| {
            let signal = match event {
                Ok(event) => {
                    let mut seen = listed.lock().unwrap_or_else(|e| e.into_inner());
                    seen.entry(key.clone())
                        .or_default()
                        .changes(event)
                        .then_some(Ok(()))
                }
                Err(e) => Some(Err(to_wire(&e))),
            };
            std::future::ready(signal)
        });
        Ok(futures_util::stream::once(async { Ok(()) })
            .chain(changes)
            .boxed())
    }

    async fn envs(&self) -> EnvsFetched {
        // The host is started by a browser with no flags: config.toml's env_pattern, as
        // the environment names the file.
        let pattern = crate::config::env_pattern(&crate::config::ConnectionArgs::default(), &|k| {
            std::env::var(k).ok()
        })
        .unwrap_or_default();
        let opts = crate::envs::EnvsOptions {
            pattern,
            cache_dir: super::cache::default_dir(),
            links: true,
            service: None,
        };
        let report = crate::envs::collect(&self.targets, &opts).await;
        EnvsFetched {
            services: report.services,
            failures: report
                .failures
                .iter()
                .map(|f| ServerFailure {
                    server: f.url.clone(),
                    error: to_wire(&f.error),
                })
                .collect(),
        }
    }

    async fn act(&self, app: &AppRef, action: AppAction) -> Result<AppActionReply, ErrorBody> {
        let target = self.target(&app.server)?;
        let done = crate::actions::act(target, &app.namespace, &app.app, action)
            .await
            .map_err(|e| to_wire(&e))?;
        let status = &done.app.status;
        Ok(AppActionReply {
            id: 0,
            action,
            server: app.server.clone(),
            namespace: app.namespace.clone(),
            app: app.app.clone(),
            sync: status.sync.status.clone(),
            health: status.health.status.clone(),
            revision: match action {
                AppAction::Sync => crate::actions::sync_revision(&done.app).map(str::to_owned),
                AppAction::Refresh => status.sync.revision.clone(),
            },
            message: done.message,
        })
    }

    async fn app_links(&self, app: &AppRef) -> Result<Vec<DeepLink>, ErrorBody> {
        let client = self.client(self.target(&app.server)?)?;
        let id = AppId {
            name: &app.app,
            namespace: &app.namespace,
            project: "",
        };
        let links = client.app_links(id).await.map_err(|e| to_wire(&e))?;
        Ok(crate::core::envs::deep_links(links))
    }

    async fn inspect(&self, app: &AppRef, rollout: bool, subject: bool) -> Inspected {
        let mut out = Inspected::default();
        let Ok(target) = self.target(&app.server) else {
            return out;
        };
        let Ok(client) = self.client(target) else {
            return out;
        };
        let deadline = tokio::time::Instant::now() + target.timeout;
        let id = AppId {
            name: &app.app,
            namespace: &app.namespace,
            project: "",
        };
        if rollout
            && let Ok(Ok(items)) = tokio::time::timeout_at(deadline, client.rollouts(id)).await
        {
            out.rollout = crate::core::envs::rollout_of(&items);
        }
        if subject
            && let Ok(Ok(Some(full))) =
                tokio::time::timeout_at(deadline, client.get_application(id)).await
        {
            out.revision = crate::core::envs::current_revision(&full);
            let cache =
                crate::envs::revisions::RevisionCache::open(super::cache::default_dir().as_deref());
            let meta =
                crate::envs::metadata(&client, &full, out.revision.as_deref(), &cache, deadline)
                    .await;
            cache.save();
            out.subject = meta
                .and_then(|m| m.message)
                .and_then(|m| crate::core::envs::subject(&m));
        }
        out
    }

    async fn watch_all(&self, index: usize) -> Result<ChangeFeed, ErrorBody> {
        self.watch_unfiltered(index).await
    }
}

/// What a controller reconcile alone moves on every app (about every 3 minutes each,
/// `ApplicationController.processAppRefreshQueueItem`): `status.reconciledAt`
/// (`status.observedAt` on servers that still set it), and with any write the object's
/// `resourceVersion`, its `generation` (the Application CRD has no status subresource) and
/// its `managedFields` times. None of them is shown.
const RECONCILE_ONLY: &str = "-items.status.reconciledAt,items.status.observedAt,\
     items.metadata.resourceVersion,items.metadata.generation,items.metadata.managedFields";

/// How long a new watch request is given to reach the server before the one re-list that
/// covers changes made while it was on its way.
const WATCH_SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

/// A source that only reports one error: the host still starts when the configuration is
/// broken, so the popup shows the `config` error and its fix instead of "host exited".
#[derive(Debug, Clone)]
pub struct FailingSource {
    pub error: ErrorBody,
}

impl FailingSource {
    pub fn new(error: &Error) -> FailingSource {
        FailingSource {
            error: to_wire(error),
        }
    }
}

impl Source for FailingSource {
    fn servers(&self) -> Vec<ServerInfo> {
        Vec::new()
    }

    async fn fetch(&self) -> Fetched {
        Fetched {
            previews: Vec::new(),
            failures: vec![ServerFailure {
                server: String::new(),
                error: self.error.clone(),
            }],
        }
    }

    async fn watch(&self, _index: usize) -> Result<ChangeFeed, ErrorBody> {
        Err(self.error.clone())
    }
}

/// A companion error as the wire carries it: its code, what failed and why, and the popup's
/// fix, all from [`Error`] itself (`error.rs` is the one place each is written).
pub fn to_wire(error: &Error) -> ErrorBody {
    ErrorBody {
        code: error.code(),
        message: error.to_string(),
        fix: error.fix(Surface::Popup),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(name: &str, url: &str) -> ServerTarget {
        ServerTarget {
            name: name.into(),
            url: url.parse().unwrap(),
            token: crate::token::Token::new("s3cr3t-token-value"),
            selector: "type=pr".into(),
            ca_cert: None,
            insecure: false,
            connect_timeout: std::time::Duration::from_secs(5),
            timeout: std::time::Duration::from_secs(30),
            route_template: None,
            origin: "env".into(),
        }
    }

    #[test]
    fn servers_for_hello_and_the_cache_key_carry_no_token() {
        let source = ListingSource::new(vec![
            target("dev", "https://argocd.dev/"),
            target("prod", "https://argocd.prod"),
        ]);
        let servers = source.servers();
        assert_eq!(servers[0].url, "https://argocd.dev");
        assert_eq!(servers[1].name, "prod");
        let json = serde_json::to_string(&servers).unwrap();
        assert!(!json.contains("s3cr3t"), "{json}");
    }

    #[tokio::test]
    async fn a_failed_server_is_named_by_the_base_url_its_previews_carry() {
        // A bad selector fails the server before any request is made.
        let mut prod = target("prod", "https://argocd.prod/");
        prod.selector = "type in (pr".into();
        let source = ListingSource::new(vec![prod]);
        let fetched = source.fetch().await;
        assert_eq!(fetched.failures[0].server, "https://argocd.prod");
    }

    #[test]
    fn only_events_that_change_what_a_listing_reads_trigger_a_relist() {
        let app = |rv: &str, health: &str| {
            let mut a = Application::default();
            a.metadata.name = "web-pr-1".into();
            a.metadata.namespace = "argocd".into();
            a.metadata.resource_version = Some(rv.into());
            a.status.health.status = Some(health.into());
            Box::new(a)
        };
        let mut seen = Seen::default();
        assert!(seen.changes(WatchEvent::Added(app("1", "Healthy"))));
        // A reconcile: a new resourceVersion, nothing else.
        assert!(!seen.changes(WatchEvent::Modified(app("2", "Healthy"))));
        assert!(seen.changes(WatchEvent::Modified(app("3", "Degraded"))));
        assert!(seen.changes(WatchEvent::Deleted(app("4", "Degraded"))));
        // Gone, then back as it was: news again.
        assert!(seen.changes(WatchEvent::Added(app("5", "Degraded"))));
        // What the list showed counts as seen: the same app again is no news.
        let mut seen = Seen::from(Listed {
            resource_version: Some("9".into()),
            fields: None,
            apps: vec![*app("8", "Healthy")],
            notes: Vec::new(),
        });
        assert!(!seen.changes(WatchEvent::Modified(app("10", "Healthy"))));
        assert!(seen.changes(WatchEvent::Modified(app("11", "Degraded"))));
    }

    #[test]
    fn the_wire_error_carries_the_popup_fix_once_and_never_a_flag() {
        let wire = to_wire(&Error::Tls {
            server: "https://argocd.dev".into(),
            cause: "invalid peer certificate: UnknownIssuer".into(),
        });
        assert_eq!(wire.code, ErrorCode::Tls);
        assert_eq!(
            wire.message,
            "TLS failure talking to https://argocd.dev: invalid peer certificate: UnknownIssuer"
        );
        assert!(wire.fix.contains("ca_cert in config.toml"), "{}", wire.fix);
        assert!(!wire.fix.contains("--"), "{}", wire.fix);
        let wire = to_wire(&Error::Unauthorized {
            server: "https://argocd.dev".into(),
            host: "argocd.dev".into(),
            detail: "token is expired".into(),
        });
        assert_eq!(wire.code, ErrorCode::ArgocdUnauthorized);
        assert!(!wire.message.contains("argocd login"), "{}", wire.message);
        assert!(
            wire.fix
                .starts_with("run `argocd login argocd.dev` in a terminal"),
            "{}",
            wire.fix
        );
    }
}
