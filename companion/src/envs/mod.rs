//! What runs where, the shell: every configured server concurrently, its non-preview
//! Applications (those the server's preview selector does not match), and per app, with a
//! bounded number of requests in flight per server, what the core needs: the revision
//! metadata of the deployed and the previous commit (from [`revisions`], the disk cache,
//! else Argo CD), the live Argo Rollout where `status.resources` lists one, and the deep
//! links. [`crate::core::envs`] decides the rest. One server failing does not hide the
//! others.
//!
//! Why these sources: `status.history` and `status.resources` are not in the list
//! endpoint's `fields` allow-list, so the list is read whole (one request per server, the
//! decoder streams it); Argo CD's resource tree gives a Rollout only its health
//! (`Suspended` / `CanaryPauseStep`), so step and weight come from its live object, which
//! `managed-resources?group=argoproj.io&kind=Rollout` carries as `liveState` (one request
//! per app that has a Rollout, nothing else in the answer).

pub mod revisions;

use std::path::PathBuf;

use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use protocol::envs::{DeepLink, EnvStatus, Rollout, ServiceEnvs};

use crate::argocd::apps::AppId;
use crate::argocd::client::{Client, ListQuery};
use crate::argocd::model::{Application, RevisionMetadata};
use crate::argocd::refresh;
use crate::core::envs::{self as core_envs, EnvPattern, Gathered};
use crate::core::selector::Selector;
use crate::error::{Error, Problem};
use crate::listing::ServerFailure;
use crate::server::ServerTarget;
use revisions::RevisionCache;

/// Requests in flight per server for the per-app calls.
const CONCURRENCY: usize = 8;

/// How to read environments.
#[derive(Debug, Clone, Default)]
pub struct EnvsOptions {
    pub pattern: EnvPattern,
    /// Where the revision metadata cache lives; `None` keeps it in memory.
    pub cache_dir: Option<PathBuf>,
    /// Also read each app's deep links (one request per app).
    pub links: bool,
    /// Only this service.
    pub service: Option<String>,
}

/// Every server's environments, grouped by service.
#[derive(Debug, Default)]
pub struct EnvsReport {
    pub services: Vec<ServiceEnvs>,
    pub failures: Vec<ServerFailure>,
}

/// Reads every target concurrently and groups the result.
pub async fn collect(targets: &[ServerTarget], opts: &EnvsOptions) -> EnvsReport {
    let cache = RevisionCache::open(opts.cache_dir.as_deref());
    let results = join_all(targets.iter().map(|t| one_server(t, opts, &cache))).await;
    cache.save();
    let mut envs = Vec::new();
    let mut failures = Vec::new();
    for (target, result) in targets.iter().zip(results) {
        match result {
            Ok(found) => envs.extend(found),
            Err(error) => failures.push(ServerFailure {
                name: target.name.clone(),
                url: target.url.as_str().trim_end_matches('/').to_owned(),
                error,
            }),
        }
    }
    EnvsReport {
        services: core_envs::group(envs),
        failures,
    }
}

/// The apps of one server that are environments, in list (name) order.
async fn one_server(
    target: &ServerTarget,
    opts: &EnvsOptions,
    cache: &RevisionCache,
) -> Result<Vec<(String, EnvStatus)>, Error> {
    let selector = Selector::parse(&target.selector).map_err(|why| {
        Error::Usage(Problem::new(
            why,
            format!("fix the selector from {}", target.origin),
        ))
    })?;
    let refreshed = refresh::with_refreshed_token(target);
    let target = refreshed.as_ref().unwrap_or(target);
    let client = Client::new(target)?;
    let deadline = tokio::time::Instant::now() + target.timeout;
    let timed_out = || Error::Timeout {
        server: client.server().to_owned(),
        after_secs: target.timeout.as_secs_f64(),
    };
    // Whole items: `status.history` and `status.resources` are outside the projection.
    let list = tokio::time::timeout_at(deadline, client.list_applications(&ListQuery::default()))
        .await
        .map_err(|_| timed_out())??;
    let apps: Vec<Application> = list
        .items
        .into_iter()
        .filter(|a| !selector.matches(&a.metadata.labels))
        .filter(|a| {
            opts.service
                .as_deref()
                .is_none_or(|s| core_envs::service_and_env(a, &opts.pattern, &target.name).0 == s)
        })
        .collect();
    tracing::debug!(server = %client.server(), apps = apps.len(), "environments listed");
    // By index: a closure taking `&Application` would make the future not `Send`.
    let apps_ref = &apps;
    let client_ref = &client;
    let gathered: Vec<Extra> = stream::iter(0..apps.len())
        .map(|i| gather(client_ref, &apps_ref[i], cache, opts.links, deadline))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    Ok(apps
        .iter()
        .zip(gathered)
        .map(|(app, extra)| {
            core_envs::env_status(
                app,
                client.server(),
                &target.name,
                &opts.pattern,
                Gathered {
                    metadata: extra.metadata.as_ref(),
                    previous_metadata: extra.previous_metadata.as_ref(),
                    rollout: extra.rollout,
                    deep_links: extra.deep_links,
                },
            )
        })
        .collect())
}

/// What one app needs beyond its list item.
#[derive(Default)]
struct Extra {
    metadata: Option<RevisionMetadata>,
    previous_metadata: Option<RevisionMetadata>,
    rollout: Option<Rollout>,
    deep_links: Vec<DeepLink>,
}

/// The repository the app deploys from (its first source).
pub fn repo_of(app: &Application) -> Option<&str> {
    app.spec
        .all_sources()
        .find_map(|s| s.repo_url.as_deref())
        .filter(|r| !r.is_empty())
}

/// Best effort, each part on its own: a part that fails or runs past the deadline is
/// left out (the version then falls back to the image tag), never the whole app.
async fn gather(
    client: &Client,
    app: &Application,
    cache: &RevisionCache,
    links: bool,
    deadline: tokio::time::Instant,
) -> Extra {
    let id = AppId::of(app);
    let current = core_envs::current_revision(app);
    let previous = core_envs::previous_revision(app, current.as_deref());
    let has_rollout =
        app.status.resources.iter().any(|r| {
            r.kind.as_deref() == Some("Rollout") && r.group.as_deref() == Some("argoproj.io")
        });
    let (metadata, previous_metadata, rollout, deep_links) = tokio::join!(
        metadata(client, app, current.as_deref(), cache, deadline),
        metadata(client, app, previous.as_deref(), cache, deadline),
        async {
            if !has_rollout {
                return None;
            }
            let found = tokio::time::timeout_at(deadline, client.rollouts(id)).await;
            match found {
                Ok(Ok(items)) => core_envs::rollout_of(&items),
                Ok(Err(e)) => {
                    tracing::debug!(app = %id.name, error = %e, "no Rollout read");
                    None
                }
                Err(_) => None,
            }
        },
        async {
            if !links {
                return Vec::new();
            }
            match tokio::time::timeout_at(deadline, client.app_links(id)).await {
                Ok(Ok(items)) => core_envs::deep_links(items),
                Ok(Err(e)) => {
                    tracing::debug!(app = %id.name, error = %e, "no deep links read");
                    Vec::new()
                }
                Err(_) => Vec::new(),
            }
        },
    );
    Extra {
        metadata,
        previous_metadata,
        rollout,
        deep_links,
    }
}

/// A revision's metadata from the cache, else from Argo CD (then cached).
pub async fn metadata(
    client: &Client,
    app: &Application,
    revision: Option<&str>,
    cache: &RevisionCache,
    deadline: tokio::time::Instant,
) -> Option<RevisionMetadata> {
    let revision = revision?;
    let repo = repo_of(app);
    if let Some(hit) = repo.and_then(|r| cache.get(r, revision)) {
        return Some(hit);
    }
    let fetched =
        tokio::time::timeout_at(deadline, client.revision_metadata(AppId::of(app), revision)).await;
    match fetched {
        Ok(Ok(meta)) => {
            if let Some(repo) = repo {
                cache.insert(repo, revision, meta.clone());
            }
            Some(meta)
        }
        Ok(Err(e)) => {
            tracing::debug!(app = %app.metadata.name, revision, error = %e, "no revision metadata");
            None
        }
        Err(_) => None,
    }
}
