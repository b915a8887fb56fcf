//! `preview-switch doctor`: checks each configured server (reachable, TLS, version, token
//! valid, previews visible) and the config, and prints one line per check with its fix.
//! Browser registrations are added by the native-host installer's `check`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::argocd::client::{Client, ListQuery};
use crate::argocd::refresh::{self, Refresh};
use crate::error::{Error, Surface};
use crate::server::ServerTarget;

/// One checked item: what was checked, whether it passed, and the detail or fix.
#[derive(Debug)]
pub struct Check {
    pub ok: bool,
    /// Passed, but with something worth fixing (shown as `WARN`; the exit code stays 0).
    pub warning: bool,
    pub what: String,
    pub detail: String,
}

impl Check {
    pub fn pass(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            ok: true,
            warning: false,
            what: what.into(),
            detail: detail.into(),
        }
    }
    fn fail(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            ok: false,
            warning: false,
            what: what.into(),
            detail: detail.into(),
        }
    }
    fn warn(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            ok: true,
            warning: true,
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// Checks one server, stopping at the first failed step (later steps depend on it).
pub async fn check_server(target: &ServerTarget) -> Vec<Check> {
    let name = format!("{} ({})", target.name, target.url);
    let mut checks = Vec::new();
    let client = match Client::new(target) {
        Ok(c) => c,
        Err(e) => {
            return vec![Check::fail(
                format!("{name}: client"),
                e.with_fix(Surface::Cli),
            )];
        }
    };
    let plain_remote = plain_http_to_another_machine(target);
    if let Some(warning) = &plain_remote {
        checks.push(Check::warn(format!("{name}: TLS"), warning.clone()));
    }
    let version = match client.version().await {
        Ok(v) => v,
        Err(e) => {
            let step = if matches!(e, Error::Tls { .. }) {
                "TLS"
            } else {
                "reachable"
            };
            checks.push(Check::fail(
                format!("{name}: {step}"),
                e.with_fix(Surface::Cli),
            ));
            return checks;
        }
    };
    checks.push(Check::pass(
        format!("{name}: reachable"),
        format!("Argo CD {version}"),
    ));
    let tls = format!("{name}: TLS");
    match (target.url.scheme(), target.insecure, &target.ca_cert) {
        ("https", true, _) => checks.push(Check::warn(
            tls,
            "not verified (--insecure): anyone between here and the server can read the token: pass --ca-cert FILE (or ca_cert in config.toml) for a private CA instead",
        )),
        ("https", false, Some(ca)) => checks.push(Check::pass(
            tls,
            format!("verified with the CA in {}", ca.path().display()),
        )),
        ("https", false, None) => checks.push(Check::pass(
            tls,
            "verified with the system's trusted roots",
        )),
        _ if plain_remote.is_none() => {
            checks.push(Check::pass(tls, "plain HTTP on this machine"))
        }
        _ => {}
    }
    if target.token.is_none() {
        checks.push(Check::fail(
            format!("{name}: token"),
            format!(
                "no token: run `argocd login {}` or set ARGOCD_AUTH_TOKEN",
                host_port(target)
            ),
        ));
        return checks;
    }
    // An expired token from the argocd CLI is refreshed the way `list` does it, so doctor
    // goes on to check the previews and routes instead of stopping here.
    let (checked, client) = check_token(target, &name, client).await;
    checks.push(checked);
    let Some(client) = client else {
        return checks;
    };
    let query = ListQuery {
        selector: Some(target.selector.clone()),
        name: None,
        fields: Client::fields_for_version(&version),
    };
    match client.list_applications(&query).await {
        Ok(list) if list.items.is_empty() => checks.push(Check::fail(
            format!("{name}: previews"),
            format!(
                "none visible with selector {:?}: check the selector and the `applications, get` permission on the previews' projects (Argo CD hides apps a role cannot read)",
                target.selector
            ),
        )),
        Ok(list) => {
            checks.push(Check::pass(
                format!("{name}: previews"),
                format!("{} visible with selector {:?}", list.items.len(), target.selector),
            ));
            checks.extend(check_routes(target, &name).await);
        }
        Err(e) => checks.push(Check::fail(format!("{name}: previews"), e.with_fix(Surface::Cli))),
    }
    checks
}

/// The token step: valid; or expired and refreshed through the argocd CLI (the client for
/// the fresh token is handed back); or failed with the command to run.
async fn check_token(target: &ServerTarget, name: &str, client: Client) -> (Check, Option<Client>) {
    let step = format!("{name}: token");
    let expired = match client.userinfo().await {
        Ok(u) if u.logged_in => {
            let who = u.username.as_deref().unwrap_or("(unnamed)");
            return (
                Check::pass(step, format!("valid, logged in as {who}")),
                Some(client),
            );
        }
        Ok(_) => None,
        Err(e @ Error::Unauthorized { .. }) => Some(e),
        Err(e) => return (Check::fail(step, e.with_fix(Surface::Cli)), None),
    };
    let env = |k: &str| std::env::var(k).ok();
    let login = match refresh::after_unauthorized(target, target.token.as_ref(), &env).await {
        Refresh::Refreshed(token) => {
            let fresh = ServerTarget {
                token: Some(token),
                ..target.clone()
            };
            match Client::new(&fresh) {
                Ok(c) if c.userinfo().await.is_ok_and(|u| u.logged_in) => {
                    return (
                        Check::pass(
                            step,
                            "had expired; refreshed through the argocd CLI".to_owned(),
                        ),
                        Some(c),
                    );
                }
                _ => host_port(target),
            }
        }
        Refresh::Failed { why, login } => {
            return (
                Check::fail(
                    step,
                    format!("expired and not refreshed ({why}): run `argocd login {login}`"),
                ),
                None,
            );
        }
        Refresh::NotFromCli => host_port(target),
    };
    let message = match expired {
        Some(e) => e.with_fix(Surface::Cli),
        None => format!("not logged in (expired or revoked): run `argocd login {login}`"),
    };
    (Check::fail(step, message), None)
}

// --- routes -------------------------------------------------------------------------------

/// How each preview is reached: a summary by source, then one line per preview without a
/// route (the sources tried and what to add, from [`crate::core::routes::resolve`]) and one
/// per disagreement between sources (the annotation wins; the routing resource says
/// otherwise). Reads every preview's routing resources, which `list` skips where the
/// annotations suffice, so that conflicts are seen.
pub async fn check_routes(target: &ServerTarget, name: &str) -> Vec<Check> {
    let (previews, listed) = match crate::listing::list_one_listed(target, true).await {
        Ok(p) => p,
        Err(e) => {
            return vec![Check::fail(
                format!("{name}: routes"),
                e.with_fix(Surface::Cli),
            )];
        }
    };
    let mut checks = Vec::new();
    let routable = previews.iter().filter(|p| p.unroutable.is_none()).count();
    let mut by_source: BTreeMap<String, usize> = BTreeMap::new();
    for r in previews.iter().filter_map(|p| p.route()) {
        *by_source
            .entry(format!("{} {}", r.source, r.kind))
            .or_default() += 1;
    }
    let sources: Vec<String> = by_source.iter().map(|(s, n)| format!("{s} {n}")).collect();
    let summary = format!(
        "{routable} of {} previews routable{}",
        previews.len(),
        if sources.is_empty() {
            String::new()
        } else {
            format!(" ({})", sources.join(", "))
        }
    );
    if routable == previews.len() {
        checks.push(Check::pass(format!("{name}: routes"), summary));
    } else {
        checks.push(Check::fail(format!("{name}: routes"), summary));
    }
    for note in &listed.notes {
        checks.push(Check::warn(format!("{name}: links"), note.clone()));
    }
    for p in &previews {
        if let Some(why) = &p.unroutable {
            checks.push(Check::fail(
                format!("{name}: route of {}", p.app),
                why.clone(),
            ));
        }
        for w in &p.warnings {
            // A disagreement, or a cookie regex that misses the cookie after another one, is
            // a misconfiguration to fix; other notes are informational.
            let check = if w.contains("the annotation is used")
                || w.contains(crate::core::routes::FIRST_COOKIE_ONLY)
            {
                Check::fail
            } else {
                Check::pass
            };
            checks.push(check(format!("{name}: {}", p.app), format!("note: {w}")));
        }
    }
    checks.extend(check_markers(&previews, name));
    checks
}

/// Which routable previews mark their responses (their routing resource adds a header such
/// as `x-preview-pr: <PR>`, see examples/chart): a summary, then one line per preview
/// without a marker, whose answers the extension cannot tell from dev's. Informational: a
/// preview routes without one.
fn check_markers(previews: &[protocol::Preview], name: &str) -> Vec<Check> {
    let routable: Vec<&protocol::Preview> =
        previews.iter().filter(|p| p.unroutable.is_none()).collect();
    if routable.is_empty() {
        return Vec::new();
    }
    let unmarked: Vec<&protocol::Preview> = routable
        .iter()
        .copied()
        .filter(|p| p.marker.is_none())
        .collect();
    let mut headers: Vec<&str> = routable
        .iter()
        .filter_map(|p| p.marker.as_ref().map(|m| m.header.as_str()))
        .collect();
    headers.sort_unstable();
    headers.dedup();
    let mut checks = vec![Check::pass(
        format!("{name}: markers"),
        format!(
            "{} of {} routable previews mark their responses{}",
            routable.len() - unmarked.len(),
            routable.len(),
            if headers.is_empty() {
                String::new()
            } else {
                format!(" ({})", headers.join(", "))
            }
        ),
    )];
    for p in unmarked {
        checks.push(Check::pass(
            format!("{name}: marker of {}", p.app),
            format!(
                "none, so the extension cannot tell whether the preview or dev answered: make its routing resource add the response header x-preview-pr: {} (a ResponseHeaderModifier; see examples/chart)",
                p.pr
            ),
        ));
    }
    checks
}

/// A warning for `http://` to a host that is not this machine: the token is sent in clear.
fn plain_http_to_another_machine(target: &ServerTarget) -> Option<String> {
    if target.url.scheme() != "http" {
        return None;
    }
    let loopback = match target.url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    (!loopback).then(|| {
        format!(
            "plain HTTP to {}, which is not this machine: the token travels in clear: use https://",
            target.url.host_str().unwrap_or_default()
        )
    })
}

fn host_port(target: &ServerTarget) -> String {
    let host = target.url.host_str().unwrap_or_default();
    match target.url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// `✓ what: detail` / `✗ what: detail` lines.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let mark = match (c.ok, c.warning) {
            (false, _) => "FAIL",
            (true, true) => "WARN",
            (true, false) => "ok  ",
        };
        let _ = writeln!(out, "{mark} {}: {}", c.what, c.detail);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use fake_argocd::{self as fake, scenario};

    /// The demo scenario's server as `doctor` would check it.
    fn demo_target(url: &str) -> ServerTarget {
        ServerTarget {
            name: "demo".into(),
            url: url.parse().unwrap(),
            token: crate::token::Token::new(scenario::DEMO_TOKEN),
            selector: "type=pr".into(),
            ca_cert: None,
            insecure: false,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(5),
            route_template: None,
            origin: "test".into(),
        }
    }

    #[tokio::test]
    async fn routes_section_explains_unroutable_previews_and_reports_conflicts() {
        let state = fake::demo_scenario();
        // courses-fe-pr-130 routes by annotation; give it an HTTPRoute that says otherwise.
        state.set_managed_resources(
            "courses-fe-pr-130",
            vec![json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": "courses-fe-pr-130", "namespace": "courses-fe"},
                "spec": {"hostnames": ["courses-fe.demo.test"], "rules": [{"matches": [{"headers": [
                    {"name": "cookie", "type": "RegularExpression", "value": "(^|.*; )old\\-cookie=130(;.*|$)"}]}]}]}})],
        );
        let running = fake::serve(state, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let target = demo_target(&running.url());
        let checks = check_routes(&target, "demo").await;
        let text = render(&checks);
        assert!(
            text.contains("FAIL demo: routes: 6 of 7 previews routable (annotation cookie 2, discovery cookie 4)"),
            "{text}"
        );
        // The preview without a route: every source tried, and what to add.
        assert!(
            text.contains("FAIL demo: route of search-ui-pr-9: no route found (annotations: no preview-switch.io/cookie annotation; discovery:")
                && text.contains("add the annotation preview-switch.io/cookie to the Application search-ui-pr-9"),
            "{text}"
        );
        assert!(
            text.contains("FAIL demo: courses-fe-pr-130: note: the annotation preview-switch.io/cookie says cookie team-courses-fe-pr=130 but HTTPRoute courses-fe/courses-fe-pr-130 routes on cookie old-cookie=130: the annotation is used"),
            "{text}"
        );
        // No demo routing resource marks its responses: each routable preview is named.
        assert!(
            text.contains("ok   demo: markers: 0 of 6 routable previews mark their responses"),
            "{text}"
        );
        assert!(
            text.contains("ok   demo: marker of courses-fe-pr-123: none, so the extension cannot tell whether the preview or dev answered: make its routing resource add the response header x-preview-pr: 123"),
            "{text}"
        );
        assert!(
            !text.contains("marker of search-ui-pr-9"),
            "unroutable: {text}"
        );
        running.shutdown().await;
    }

    #[tokio::test]
    async fn routes_section_fails_an_istio_cookie_regex_that_matches_only_the_first_cookie() {
        let state = fake::demo_scenario();
        state.set_managed_resources(
            "search-ui-pr-9",
            vec![
                json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                "metadata": {"name": "search-ui-pr-9", "namespace": "search"},
                "spec": {"hosts": ["search.demo.test"], "http": [{"match": [{"headers": {
                    "cookie": {"regex": "^(.*?;)?(search\\-pr=9)(;.*)?$"}}}],
                    "headers": {"response": {"add": {"X-Preview-PR": "9"}}}}]}}),
            ],
        );
        let running = fake::serve(state, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let target = demo_target(&running.url());
        let text = render(&check_routes(&target, "demo").await);
        // Still routable (the cookie works when it is the only one), but flagged with the fix.
        assert!(
            text.contains("ok   demo: routes: 7 of 7 previews routable"),
            "{text}"
        );
        assert!(
            text.contains("FAIL demo: search-ui-pr-9: note: VirtualService search/search-ui-pr-9 has the cookie regex")
                && text.contains("matches only when search-pr=9 is the first cookie")
                && text.contains(r#"change it to "(^|.*; )search\\-pr=9(;.*|$)""#),
            "{text}"
        );
        // Its response marker is recorded (lower-cased) and counted.
        assert!(
            text.contains(
                "ok   demo: markers: 1 of 7 routable previews mark their responses (x-preview-pr)"
            ),
            "{text}"
        );
        assert!(!text.contains("marker of search-ui-pr-9"), "{text}");
        running.shutdown().await;
    }
}
