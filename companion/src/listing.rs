//! Listing orchestration: every configured server, concurrently, → previews with routes.
//! A thin shell over [`crate::core`]: it fetches what the core asks for (the applications,
//! then managed resources only for previews whose annotations give no route, then base
//! applications only for services whose route lacks hosts) and lets the core decide.
//! Discovered routes are remembered per Application `resourceVersion`, so a long-lived
//! host's re-list fetches the managed resources of changed previews only.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;

use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use protocol::Preview;

use crate::argocd::apps::AppId;
use crate::argocd::client::{Client, ListQuery};
use crate::argocd::model::{Application, OwnerReference};
use crate::argocd::refresh::{self, Refresh};
use crate::core::routes::{self, BaseHosts, Discovered, Gathered};
use crate::core::selector::Selector;
use crate::core::{keys, preview, scm};
use crate::error::{Error, Problem, Surface};
use crate::server::ServerTarget;

/// Requests in flight per server for managed resources and base apps: enough to hide
/// latency for hundreds of previews without hammering the API server.
const CONCURRENCY: usize = 8;

/// The merged result over all servers: one server failing does not hide the others.
#[derive(Debug, Default)]
pub struct Listing {
    /// Sorted by service, then PR number, then server.
    pub previews: Vec<Preview>,
    pub failures: Vec<ServerFailure>,
    /// What each server that answered listed, for its watch (by the server's base URL).
    pub listed: Vec<(String, Listed)>,
}

/// What one server's list returned besides the previews, for a watch that follows it: the
/// list's `resourceVersion` (the watch starts there, so nothing is replayed), the `fields`
/// projection it used (the watch asks for the same, so upstream's de-duplication drops
/// changes to anything else), and the preview Applications as that projection showed them
/// (a watch event equal to one of them changes nothing we read).
#[derive(Debug, Clone, Default)]
pub struct Listed {
    pub resource_version: Option<String>,
    pub fields: Option<String>,
    pub apps: Vec<Application>,
    /// What a person should know about this server's answer, once per server: no preview
    /// visible to the user, pull-request links missing for want of a permission.
    pub notes: Vec<String>,
}

#[derive(Debug)]
pub struct ServerFailure {
    /// The configured server or context name (may be the URL's host when none was given).
    pub name: String,
    /// The server's base URL without a trailing slash: what `Preview::server` holds.
    pub url: String,
    pub error: Error,
}

impl ServerFailure {
    /// `name (url)`, or the URL alone when the name is empty or is the URL.
    pub fn label(&self) -> String {
        if self.name.is_empty() || self.name == self.url {
            self.url.clone()
        } else {
            format!("{} ({})", self.name, self.url)
        }
    }
}

/// Lists the previews of every target concurrently and merges them.
pub async fn list(targets: &[ServerTarget]) -> Listing {
    let results = join_all(targets.iter().map(|t| list_one_listed(t, false))).await;
    let mut listing = Listing::default();
    for (target, result) in targets.iter().zip(results) {
        match result {
            Ok((previews, listed)) => {
                listing.previews.extend(previews);
                listing
                    .listed
                    .push((target.url.as_str().trim_end_matches('/').to_owned(), listed));
            }
            Err(error) => listing.failures.push(ServerFailure {
                name: target.name.clone(),
                url: target.url.as_str().trim_end_matches('/').to_owned(),
                error,
            }),
        }
    }
    preview::sort(&mut listing.previews);
    listing
}

/// Lists one server's previews, routes resolved, sorted. Fails as a whole only when the
/// server cannot be asked at all (bad selector, unreachable, 401/403 on any request);
/// other errors on one preview's extra requests make just that preview unroutable.
///
/// A 401 for a token from the `argocd` CLI's config is answered by refreshing it with the
/// CLI ([`refresh`]) and retrying once; when that is impossible the error names the
/// `argocd login` command to run.
pub async fn list_one(target: &ServerTarget) -> Result<Vec<Preview>, Error> {
    list_one_with(target, false).await
}

/// [`list_one`], optionally reading every preview's routing resources, even where the
/// annotations already give a route, so that disagreements show as warnings (`doctor`).
pub async fn list_one_with(
    target: &ServerTarget,
    discover_all: bool,
) -> Result<Vec<Preview>, Error> {
    list_one_listed(target, discover_all)
        .await
        .map(|(previews, _)| previews)
}

/// [`list_one_with`], with what the list returned for a watch to follow it.
pub async fn list_one_listed(
    target: &ServerTarget,
    discover_all: bool,
) -> Result<(Vec<Preview>, Listed), Error> {
    let refreshed = refresh::with_refreshed_token(target);
    let first = refreshed.as_ref().unwrap_or(target);
    match list_once(first, discover_all).await {
        Err(rejected @ (Error::Unauthorized { .. } | Error::NotLoggedIn { .. })) => {
            let env = |k: &str| std::env::var(k).ok();
            match refresh::after_unauthorized(target, first.token.as_ref(), &env).await {
                Refresh::Refreshed(token) => {
                    let retry = ServerTarget {
                        token: Some(token),
                        ..target.clone()
                    };
                    list_once(&retry, discover_all).await
                }
                Refresh::NotFromCli => Err(rejected),
                Refresh::Failed { why, login } => Err(match rejected {
                    Error::Unauthorized { server, detail, .. } => Error::Unauthorized {
                        server,
                        host: login,
                        detail: format!("{detail}; {why}"),
                    },
                    Error::NotLoggedIn { server, detail, .. } => Error::NotLoggedIn {
                        server,
                        host: login,
                        detail: format!("{detail}; {why}"),
                    },
                    other => other,
                }),
            }
        }
        other => other,
    }
}

async fn list_once(
    target: &ServerTarget,
    discover_all: bool,
) -> Result<(Vec<Preview>, Listed), Error> {
    let selector = Selector::parse(&target.selector).map_err(|why| {
        Error::Usage(Problem::new(
            why,
            format!("fix the selector from {}", target.origin),
        ))
    })?;
    let client = Client::new(target)?;
    // One deadline for the whole listing, not just per request: a server that answers the
    // list but then stalls on the extra requests (resources, base apps, ApplicationSets)
    // must not stretch it by one timeout per batch. Past it, the extra data is left out and
    // the previews it was for say why.
    let deadline = tokio::time::Instant::now() + target.timeout;
    let timed_out = || Error::Timeout {
        server: client.server().to_owned(),
        after_secs: target.timeout.as_secs_f64(),
    };
    let (version, list) = tokio::time::timeout_at(deadline, async {
        let version = client.version().await?;
        let fields = Client::fields_for_version(&version);
        let canonical = selector.to_string();
        let list = client
            .list_applications(&ListQuery {
                selector: (!canonical.is_empty()).then_some(canonical),
                name: None,
                fields,
            })
            .await?;
        Ok::<_, Error>((version, list))
    })
    .await
    .map_err(|_| timed_out())??;
    let fields = Client::fields_for_version(&version);
    // Again client-side, in case the server or a proxy ignored `selector`.
    let items: Vec<(Application, Preview)> = list
        .items
        .into_iter()
        .filter(|app| selector.matches(&app.metadata.labels))
        .filter_map(|app| {
            let Some(p) = preview::derive(&app, client.server(), Some(target.name.as_str()))
            else {
                // Worth a log line: a selector that is too wide, or a template without prNumber.
                tracing::debug!(app = %app.metadata.name, "matches the selector but has no PR number: skipped");
                return None;
            };
            Some((app, p))
        })
        .collect();
    tracing::debug!(server = %client.server(), previews = items.len(), "listed");
    let mut listed = Listed {
        resource_version: list.resource_version,
        fields: fields.clone(),
        apps: items.iter().map(|(app, _)| app.clone()).collect(),
        notes: Vec::new(),
    };
    if items.is_empty() {
        // Empty can mean "not logged in": with anonymous access on, a bad token gets 200
        // and what anonymous users may see; RBAC filtering is always silent.
        let who = tokio::time::timeout_at(deadline, client.userinfo())
            .await
            .map_err(|_| timed_out())??;
        let Some(user) = who.username.filter(|_| who.logged_in) else {
            return Err(Error::NotLoggedIn {
                server: client.server().to_owned(),
                host: client.login_host().to_owned(),
                detail: String::new(),
            });
        };
        listed.notes.push(format!(
            "no previews visible to {user} on {}: check the selector `{}` and the `applications, get` permission of {user} on the previews' projects",
            client.server(),
            target.selector
        ));
    }

    let mut items = items;
    // Previews whose Application was deleted between the list and a per-app call.
    let mut gone: BTreeSet<usize> = BTreeSet::new();
    match tokio::time::timeout_at(
        deadline,
        pull_request_links(&client, &mut items, discover_all),
    )
    .await
    {
        Ok(links) => {
            gone.extend(links.gone);
            listed.notes.extend(links.note);
        }
        Err(_) => {
            tracing::debug!(server = %client.server(), "pull-request links left out: the listing's deadline passed")
        }
    }

    let mut gathered: Vec<Gathered<'_>> = items
        .iter()
        .map(|(app, p)| Gathered {
            annotation: routes::from_annotations(app, p.pr),
            discovery: None,
            base_hosts: BaseHosts::NotLooked,
            template: target.route_template.as_ref(),
        })
        .collect();

    // Discovery, only where the annotations give no route, and only for previews whose
    // Application changed, in what the listing reads, since their routes were last read.
    // The list is projected like the watch, so a reconcile (`status.reconciledAt`, a new
    // resourceVersion) is no change here either; the projected list carries no item
    // resourceVersion anyway (Argo CD's `fields` allow-list has none).
    let keys: Vec<AppKey> = items
        .iter()
        .map(|(app, _)| app_key(client.server(), app))
        .collect();
    let mut need = Vec::new();
    {
        let known = discoveries();
        for i in 0..items.len() {
            if !(discover_all || routes::needs_discovery(&gathered[i].annotation)) {
                continue;
            }
            match known.found.get(&keys[i]) {
                Some((seen, found)) if *seen == as_compared(&items[i].0) => {
                    gathered[i].discovery = Some(Ok(found.clone()));
                }
                _ => need.push(i),
            }
        }
    }
    let fetched: Vec<_> = stream::iter(need)
        .map(|i| {
            let (client, app) = (&client, &items[i].0);
            let timed_out = &timed_out;
            async move {
                let result = tokio::time::timeout_at(deadline, client.managed_resources(app))
                    .await
                    .unwrap_or_else(|_| Err(timed_out()));
                (i, result)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (i, result) in fetched {
        gathered[i].discovery = Some(match result {
            Ok(Some(resources)) => {
                let found = routes::from_managed_resources(&resources);
                // Read after the list was: at least as new as the Application listed.
                remember_discovery(keys[i].clone(), as_compared(&items[i].0), found.clone());
                Ok(found)
            }
            Ok(None) => {
                gone.insert(i);
                continue;
            }
            Err(e) if fails_server(&e) => return Err(e),
            Err(e) => Err(e.with_fix(Surface::Cli)),
        });
    }
    if !gone.is_empty() {
        tracing::debug!(server = %client.server(), gone = gone.len(), "previews deleted since the list: left out");
    }
    forget_discoveries_except(client.server(), &keys);

    // Base apps, once per service, only where the chosen route has no hosts.
    let services: BTreeSet<String> = items
        .iter()
        .zip(&gathered)
        .filter(|((_, p), g)| routes::needs_base_hosts(p, g))
        .map(|((_, p), _)| p.service.clone())
        .collect();
    let looked_up: Vec<_> = stream::iter(services)
        .map(|service| {
            let query = ListQuery {
                selector: None,
                name: Some(service.clone()),
                fields: fields.clone(),
            };
            let (client, timed_out) = (&client, &timed_out);
            async move {
                let result = tokio::time::timeout_at(deadline, client.list_applications(&query))
                    .await
                    .unwrap_or_else(|_| Err(timed_out()));
                (service, result)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut base: BTreeMap<String, BaseHosts> = BTreeMap::new();
    for (service, result) in looked_up {
        let hosts = match result {
            Ok(list) => match routes::pick_base_app(&list.items, &service) {
                Some(app) => BaseHosts::Found(routes::hosts_from_base_app(app)),
                None => BaseHosts::NoBaseApp,
            },
            Err(e) if fails_server(&e) => return Err(e),
            Err(e) => BaseHosts::Failed(e.with_fix(Surface::Cli)),
        };
        base.insert(service, hosts);
    }

    let mut previews = Vec::with_capacity(items.len());
    for (i, ((_, mut p), mut g)) in items.into_iter().zip(gathered).enumerate() {
        if gone.contains(&i) {
            continue;
        }
        if let Some(hosts) = base.get(p.service.as_str()) {
            g.base_hosts = hosts.clone();
        }
        let resolved = routes::resolve(&p, &g);
        routes::apply(&mut p, resolved);
        let warnings = routes::warnings(&p, &g);
        p.warnings.extend(warnings);
        let notes = routes::signals(&mut p, &g);
        p.warnings.extend(notes);
        preview::bound(&mut p, protocol::policy::MAX_PREVIEW_BYTES);
        previews.push(p);
    }
    preview::sort(&mut previews);
    preview::dedup(&mut previews);
    Ok((previews, listed))
}

/// Bound on the remembered discovered routes (a few hundred bytes each).
const MAX_CACHED_DISCOVERIES: usize = 20_000;

/// `(server, app namespace, app name)`.
type AppKey = (String, String, String);

fn app_key(server: &str, app: &Application) -> AppKey {
    (
        server.to_owned(),
        app.metadata.namespace_or_default().to_owned(),
        app.metadata.name.clone(),
    )
}

/// An Application as listings compare it: what the listing reads, without the
/// resourceVersion (only whole, unprojected items carry one, and a reconcile moves it).
pub(crate) fn as_compared(app: &Application) -> Application {
    let mut app = app.clone();
    app.metadata.resource_version = None;
    app
}

/// What this process knows of each preview between listings.
#[derive(Default)]
struct Discoveries {
    /// The routes discovered in an Application's managed resources, and the Application
    /// as it was listed when they were read ([`as_compared`]).
    found: HashMap<AppKey, (Application, Vec<Discovered>)>,
}

fn discoveries() -> std::sync::MutexGuard<'static, Discoveries> {
    static DISCOVERIES: std::sync::OnceLock<Mutex<Discoveries>> = std::sync::OnceLock::new();
    DISCOVERIES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn remember_discovery(key: AppKey, listed: Application, found: Vec<Discovered>) {
    let mut known = discoveries();
    if known.found.len() >= MAX_CACHED_DISCOVERIES {
        known.found.clear();
    }
    known.found.insert(key, (listed, found));
}

/// Drops the routes remembered for `server`'s Applications that are no longer listed.
fn forget_discoveries_except(server: &str, listed: &[AppKey]) {
    let listed: std::collections::HashSet<&AppKey> = listed.iter().collect();
    discoveries()
        .found
        .retain(|key, _| key.0 != server || listed.contains(key));
}

/// Most previews whose ApplicationSet is not listed in its `status.resources` get one
/// `GET /api/v1/applications/{name}` each for their `ownerReferences`; past this many, the
/// rest go without a link rather than slowing every listing down.
const MAX_OWNER_LOOKUPS: usize = 32;

/// Bound on the remembered owner references (about 100 bytes each).
const MAX_CACHED_OWNERS: usize = 20_000;

type OwnerKey = (String, String, String);

/// `(server, app namespace, app name)` → the app's `ownerReferences`.
fn owners_cache() -> std::sync::MutexGuard<'static, HashMap<OwnerKey, Vec<OwnerReference>>> {
    static OWNERS: std::sync::OnceLock<Mutex<HashMap<OwnerKey, Vec<OwnerReference>>>> =
        std::sync::OnceLock::new();
    OWNERS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// Fills in the repository and pull-request link of previews without the repo annotation
/// from their generating ApplicationSet's Pull Request generator (with `check_all`, of every
/// preview, so that an annotation disagreeing with the generator becomes a warning). Best
/// effort: a server without the endpoint (before 2.5), a role without
/// `applicationsets, get`, or any other failure only leaves the links out (logged at debug
/// level).
///
/// Listing ApplicationSets needs its own permission (`applicationsets, get`), and a role
/// without it sees an empty list, not an error: when previews need the sets for their
/// links and none is visible (or the list fails), the result carries one note saying so.
async fn pull_request_links(
    client: &Client,
    items: &mut [(Application, Preview)],
    check_all: bool,
) -> PrLinks {
    let mut links = PrLinks::default();
    let need: Vec<usize> = (0..items.len())
        .filter(|&i| check_all || !items[i].0.metadata.annotations.contains_key(keys::REPO))
        .collect();
    if need.is_empty() {
        return links;
    }
    let missing = |why: String| {
        format!(
            "pull-request links are missing for {} previews on {}: {why}; the token needs `applicationsets, get` on their projects (Argo CD hides the ApplicationSets a role cannot read), or annotate the previews with {}",
            need.len(),
            client.server(),
            keys::REPO
        )
    };
    let appsets = match client.list_applicationsets().await {
        Ok(sets) if sets.is_empty() => {
            links.note = Some(missing("no ApplicationSet is visible".to_owned()));
            return links;
        }
        Ok(sets) => sets,
        Err(e) => {
            tracing::debug!(server = %client.server(), error = %e, "no ApplicationSets: pull-request links only from annotations");
            links.note = Some(missing(format!("the ApplicationSet list failed ({e})")));
            return links;
        }
    };
    let with_pr: Vec<_> = appsets
        .into_iter()
        .filter(scm::has_pull_request_generator)
        .collect();
    if with_pr.is_empty() {
        return links;
    }
    // Owner references never change for an Application: remembered per process, so a
    // long-running host asks once per preview, not on every refresh.
    for &i in &need {
        let meta = &mut items[i].0.metadata;
        if meta.owner_references.is_empty()
            && let Some(known) = owners_cache().get(&(
                client.server().to_owned(),
                meta.namespace.clone(),
                meta.name.clone(),
            ))
        {
            meta.owner_references = known.clone();
        }
    }
    let unmatched: Vec<usize> = need
        .iter()
        .copied()
        .filter(|&i| {
            items[i].0.metadata.owner_references.is_empty()
                && scm::generating_appset(&items[i].0, &with_pr).is_none()
        })
        .take(MAX_OWNER_LOOKUPS)
        .collect();
    let owners: Vec<_> = stream::iter(unmatched)
        .map(|i| {
            let app = &items[i].0;
            async move { (i, client.get_application(AppId::of(app)).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (i, result) in owners {
        match result {
            Ok(None) => links.gone.push(i),
            Ok(Some(full)) => {
                let meta = &mut items[i].0.metadata;
                let mut cache = owners_cache();
                if cache.len() >= MAX_CACHED_OWNERS {
                    cache.clear();
                }
                cache.insert(
                    (
                        client.server().to_owned(),
                        meta.namespace.clone(),
                        meta.name.clone(),
                    ),
                    full.metadata.owner_references.clone(),
                );
                meta.owner_references = full.metadata.owner_references;
            }
            Err(e) => {
                tracing::debug!(app = %items[i].0.metadata.name, error = %e, "cannot read ownerReferences")
            }
        }
    }
    for i in need {
        let (app, preview) = &mut items[i];
        if let Some(set) = scm::generating_appset(app, &with_pr)
            && let Some(found) = scm::repo_from_appset_spec(&set.spec)
        {
            preview::apply_appset_repo(preview, &set.metadata.name, found);
        }
    }
    links
}

/// What [`pull_request_links`] found besides the links.
#[derive(Default)]
struct PrLinks {
    /// Previews whose Application was gone when its owner was looked up.
    gone: Vec<usize>,
    note: Option<String>,
}

/// 401 and 403 mean the token or role is wrong for the whole server, not one preview.
fn fails_server(e: &Error) -> bool {
    matches!(
        e,
        Error::Unauthorized { .. } | Error::NotLoggedIn { .. } | Error::Forbidden { .. }
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn target(name: &str, url: &str, selector: &str) -> ServerTarget {
        ServerTarget {
            name: name.into(),
            url: url.parse().unwrap(),
            token: None,
            selector: selector.into(),
            ca_cert: None,
            insecure: false,
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            route_template: None,
            origin: "--selector".into(),
        }
    }

    #[tokio::test]
    async fn a_bad_selector_fails_only_its_server_before_any_request() {
        // The selector is checked before the client is built, so no request is made.
        let listing = list(&[target("dev", "https://argocd.dev", "type in (pr")]).await;
        assert!(listing.previews.is_empty());
        let failure = &listing.failures[0];
        assert_eq!(failure.label(), "dev (https://argocd.dev)");
        let msg = failure.error.with_fix(Surface::Cli);
        assert!(
            msg.contains("'(' without ')'") && msg.contains("fix the selector from --selector"),
            "{msg}"
        );
        assert_eq!(failure.error.exit_code(), 2);
    }

    #[tokio::test]
    async fn demo_previews_get_pull_request_links_from_their_applicationsets() {
        let fake = fake_argocd::demo_scenario();
        let running = fake_argocd::serve(fake.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let mut t = target("demo", &running.url(), "type=pr");
        t.token = crate::token::Token::new(fake_argocd::scenario::DEMO_TOKEN);
        let previews = list_one(&t).await.unwrap();
        let link = |app: &str| {
            let p = previews.iter().find(|p| p.app == app).unwrap();
            (
                p.repo.clone(),
                p.links.pull_request.clone(),
                p.title.clone(),
            )
        };
        // courses-fe: matched through the set's status.resources, title from the template.
        assert_eq!(
            link("courses-fe-pr-123"),
            (
                Some("https://github.com/example-org/courses-fe".into()),
                Some("https://github.com/example-org/courses-fe/pull/123".into()),
                Some("Course page: new syllabus layout".into())
            )
        );
        // search-ui: its set has no status, so the owner reference decides (one GET each).
        assert_eq!(
            link("search-ui-pr-7").1.as_deref(),
            Some("https://github.com/example-org/search-ui/pull/7")
        );
        assert_eq!(link("search-ui-pr-7").2, None);
        let gets: u64 = ["search-ui-pr-7", "search-ui-pr-8", "search-ui-pr-9"]
            .iter()
            .map(|a| fake.request_count(&format!("/api/v1/applications/{a}")))
            .sum();
        assert_eq!(gets, 3);
        // Owner references are remembered: listing again asks for none of them.
        list_one(&t).await.unwrap();
        let again: u64 = ["search-ui-pr-7", "search-ui-pr-8", "search-ui-pr-9"]
            .iter()
            .map(|a| fake.request_count(&format!("/api/v1/applications/{a}")))
            .sum();
        assert_eq!(again, 3);
        assert_eq!(
            fake.request_count("/api/v1/applications/courses-fe-pr-123"),
            0
        );
        assert!(
            previews.iter().all(|p| p.warnings.is_empty()),
            "{previews:#?}"
        );

        // A role that cannot read the sets' project: no links, and the listing still works.
        fake.accept_token_as("narrow", "narrow", Some(&["other"]));
        fake.update_app("courses-fe-pr-123", |a| {
            a["spec"]["project"] = "other".into()
        });
        t.token = crate::token::Token::new("narrow");
        let previews = list_one(&t).await.unwrap();
        assert_eq!(previews.len(), 1);
        assert_eq!(previews[0].links.pull_request, None);
        running.shutdown().await;
    }

    /// `managed-resources` requests the fake has answered so far.
    fn managed_resource_calls(fake: &fake_argocd::FakeArgo) -> u64 {
        fake.request_count_ending("/managed-resources")
    }

    /// Discovered routes are remembered per Application as listed (without its
    /// resourceVersion): a reconcile, which moves only `status.reconciledAt` and the
    /// resourceVersion, reads nothing again; a real change reads that preview's alone. Argo
    /// CD 3.x projects the list (no item resourceVersion) and servers before 2.6 send whole
    /// items: the same either way.
    #[tokio::test]
    async fn discovered_routes_are_read_again_only_for_previews_that_changed() {
        let scenario = fake_argocd::Scenario::at_scale(60, 12);
        let fake = scenario.fake();
        let running = fake_argocd::serve(fake.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let mut t = target("scale", &running.url(), "type=pr");
        t.token = crate::token::Token::new(&scenario.token);

        let mut expected = scenario.routes.clone();
        expected.sort_by(|a, b| (&a.service, a.pr).cmp(&(&b.service, b.pr)));
        for (n, (label, version)) in [("3.x", None), ("2.5", Some("v2.5.16+abc"))]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = version {
                // Whole items now: what an Application decodes to may differ from the
                // projected one (e.g. `ownerReferences`), so this first listing may read.
                fake.set_version(v);
            }
            fake.reset_requests();
            let previews = list_one(&t).await.unwrap();
            assert_eq!(previews.len(), 12);
            for (p, site) in previews.iter().zip(&expected) {
                assert_eq!(p.app, site.app);
                let route = &p.routes[0];
                assert_eq!(
                    (
                        route.name.as_str(),
                        route.value.as_str(),
                        route.hosts.clone()
                    ),
                    (
                        site.cookie_name.as_str(),
                        site.pr.to_string().as_str(),
                        vec![site.host.clone()]
                    ),
                    "{label}: {p:#?}"
                );
                assert_eq!(
                    p.links.pull_request,
                    Some(format!(
                        "https://github.com/example-org/{}/pull/{}",
                        site.service, site.pr
                    ))
                );
            }
            let first = managed_resource_calls(&fake);
            if n == 0 {
                assert_eq!(
                    first, 12,
                    "the first listing reads every preview's resources"
                );
            }
            let again = list_one(&t).await.unwrap();
            assert_eq!(again, previews);
            assert_eq!(
                managed_resource_calls(&fake),
                first,
                "{label}: nothing changed, nothing read"
            );

            fake.reconcile_all();
            assert_eq!(list_one(&t).await.unwrap(), previews);
            assert_eq!(
                managed_resource_calls(&fake),
                first,
                "{label}: a reconcile changes nothing the listing reads"
            );

            // One preview changes: only its resources are read again.
            let changed = &scenario.routes[3 + n].app;
            let health = if fake.app(changed).unwrap()["status"]["health"]["status"] == "Degraded" {
                "Healthy"
            } else {
                "Degraded"
            };
            fake.update_app(changed, |app| {
                app["status"]["health"]["status"] = health.into();
            });
            let after = list_one(&t).await.unwrap();
            assert_eq!(managed_resource_calls(&fake), first + 1, "{label}");
            let p = after.iter().find(|p| &p.app == changed).unwrap();
            assert_eq!(p.health.as_deref(), Some(health));
            assert_eq!(
                p.routes,
                previews.iter().find(|q| &q.app == changed).unwrap().routes
            );
        }
        running.shutdown().await;
    }

    #[test]
    fn only_auth_failures_fail_the_server() {
        let unauthorized = Error::Unauthorized {
            server: "https://argocd.dev".into(),
            host: "argocd.dev".into(),
            detail: "token expired".into(),
        };
        let http = Error::Http {
            server: "https://argocd.dev".into(),
            status: 500,
            what: "managed resources of web-pr-1".into(),
            detail: "boom".into(),
        };
        assert!(fails_server(&unauthorized));
        assert!(!fails_server(&http));
    }
}
