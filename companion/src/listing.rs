//! Listing orchestration: every configured server, concurrently, → previews with routes.
//! A thin shell over [`crate::core`]: it fetches what the core asks for (the applications,
//! then managed resources only for previews whose annotations give no route, then base
//! applications only for services whose route lacks hosts) and lets the core decide.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt};
use protocol::Preview;

use crate::argocd::client::{Client, ListQuery};
use crate::argocd::model::Application;
use crate::config::ServerTarget;
use crate::core::preview;
use crate::core::routes::{self, BaseHosts, Gathered};
use crate::core::selector::Selector;
use crate::error::Error;

/// Requests in flight per server for managed resources and base apps: enough to hide
/// latency for hundreds of previews without hammering the API server.
const CONCURRENCY: usize = 8;

/// The merged result over all servers: one server failing does not hide the others.
#[derive(Debug, Default)]
pub struct Listing {
    /// Sorted by service, then PR number, then server.
    pub previews: Vec<Preview>,
    pub failures: Vec<ServerFailure>,
}

#[derive(Debug)]
pub struct ServerFailure {
    /// The server's name (context) and URL, for the error line.
    pub server: String,
    pub error: Error,
}

/// Lists the previews of every target concurrently and merges them.
pub async fn list(targets: &[ServerTarget]) -> Listing {
    let results = join_all(targets.iter().map(list_one)).await;
    let mut listing = Listing::default();
    for (target, result) in targets.iter().zip(results) {
        match result {
            Ok(previews) => listing.previews.extend(previews),
            Err(error) => listing.failures.push(ServerFailure {
                server: server_label(target),
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
pub async fn list_one(target: &ServerTarget) -> Result<Vec<Preview>, Error> {
    let selector = Selector::parse(&target.selector)
        .map_err(|why| Error::Usage(format!("{why}: fix the selector from {}", target.origin)))?;
    let client = Client::new(target)?;
    let version = client.version().await?;
    let fields = Client::fields_for_version(&version);
    let canonical = selector.to_string();
    let list = client
        .list_applications(&ListQuery {
            selector: (!canonical.is_empty()).then_some(canonical),
            name: None,
            fields: fields.clone(),
        })
        .await?;
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

    let mut gathered: Vec<Gathered<'_>> = items
        .iter()
        .map(|(app, p)| Gathered {
            annotation: routes::from_annotations(app, p.pr),
            discovery: None,
            base_hosts: BaseHosts::NotLooked,
            template: target.route_template.as_ref(),
        })
        .collect();

    // Discovery, only where the annotations give no route.
    let need: Vec<usize> = (0..items.len())
        .filter(|&i| routes::needs_discovery(&gathered[i].annotation))
        .collect();
    let fetched: Vec<_> = stream::iter(need)
        .map(|i| {
            let (client, app) = (&client, &items[i].0);
            async move { (i, client.managed_resources(app).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for (i, result) in fetched {
        gathered[i].discovery = Some(match result {
            Ok(resources) => Ok(routes::from_managed_resources(&resources)),
            Err(e) if fails_server(&e) => return Err(e),
            Err(e) => Err(e.to_string()),
        });
    }

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
            let client = &client;
            async move { (service, client.list_applications(&query).await) }
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
            Err(e) => BaseHosts::Failed(e.to_string()),
        };
        base.insert(service, hosts);
    }

    let mut previews = Vec::with_capacity(items.len());
    for ((_, mut p), mut g) in items.into_iter().zip(gathered) {
        if let Some(hosts) = base.get(p.service.as_str()) {
            g.base_hosts = hosts.clone();
        }
        let resolved = routes::resolve(&p, &g);
        routes::apply(&mut p, resolved);
        previews.push(p);
    }
    preview::sort(&mut previews);
    preview::dedup(&mut previews);
    Ok(previews)
}

/// 401 and 403 mean the token or role is wrong for the whole server, not one preview.
fn fails_server(e: &Error) -> bool {
    matches!(e, Error::Unauthorized { .. } | Error::Forbidden { .. })
}

fn server_label(target: &ServerTarget) -> String {
    let url = target.url.as_str().trim_end_matches('/');
    if target.name.is_empty() || target.name == url {
        url.to_string()
    } else {
        format!("{} ({url})", target.name)
    }
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
        assert_eq!(failure.server, "dev (https://argocd.dev)");
        let msg = failure.error.to_string();
        assert!(
            msg.contains("'(' without ')'") && msg.contains("fix the selector from --selector"),
            "{msg}"
        );
        assert_eq!(failure.error.exit_code(), 2);
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
