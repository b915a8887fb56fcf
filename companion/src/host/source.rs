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

/// What the host needs from the outside world.
pub trait Source: Send + Sync + 'static {
    /// The configured servers for `hello` and the cache key; never a token.
    fn servers(&self) -> Vec<ServerInfo>;
    /// Lists every server (concurrently) and derives the previews.
    fn fetch(&self) -> impl Future<Output = Fetched> + Send;
    /// Opens the change feed of server `index` (into [`Source::servers`]).
    fn watch(&self, index: usize) -> impl Future<Output = Result<ChangeFeed, ErrorBody>> + Send;
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
}

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
