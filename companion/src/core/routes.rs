//! Route derivation (DESIGN §3): which cookie (or header) on which hosts reaches a preview.
//! Three sources, first that yields a route wins, each recorded as the route's `source`:
//! 1. annotations on the preview's Application ([`from_annotations`]);
//! 2. discovery in the preview's managed resources ([`from_managed_resources`]): Linkerd /
//!    Gateway API HTTPRoutes (`httproute`), Istio VirtualServices (`istio`) and ingress-nginx
//!    canary Ingresses (`nginx`);
//! 3. the config file's [`RouteTemplate`] ([`from_template`], in `template`).
//!
//! Hosts come from the route itself, else the base (non-PR) Application's external URLs
//! ([`hosts_from_base_app`]), else the template. [`resolve`] combines what the shell gathered;
//! every name, value and host passes [`super::cookie`] before it becomes a `Route`.

#[cfg(test)]
mod examples;
mod httproute;
mod istio;
mod nginx;
mod template;

use protocol::{Preview, Route, RouteKind, RouteSource};
use serde_json::Value;

use std::collections::{HashMap, HashSet};

use super::cookie::{PublicSuffixList, validate_host, validate_pair};
use super::{keys, preview, quoted};
use crate::argocd::model::{Application, ManagedResource};
pub use template::{RouteTemplate, from_template};
use template::{Vars, template_hosts};

/// The cookie-header regex forms we can read a cookie from (PLATFORM E). The mesh anchors the
/// regex at both ends and browsers join cookies with `"; "`, so these are the prefixes and
/// suffixes that match a cookie anywhere in the header.
const REGEX_PREFIXES: &[&str] = &[
    "(^|.*; )",
    "(^|.*;\\s*)",
    "(^|.*;\\s?)",
    "(^|.*; ?)",
    "(^|.*;\\s)",
];
const REGEX_SUFFIXES: &[&str] = &["(;.*|$)", "($|;.*)"];
const REGEX_FORM: &str = "(^|.*; )NAME=VALUE(;.*|$)";

/// Source 1: the `preview-switch.io/cookie`, `-cookie-value` and `-hosts` annotations.
/// `None` without a cookie annotation; `Some(Err)` when any part is invalid (a bad name,
/// value or host is never passed on). Hosts may be empty: they are filled in later.
pub fn from_annotations(app: &Application, pr: u64) -> Option<Result<Route, String>> {
    let ann = &app.metadata.annotations;
    let name = ann.get(keys::COOKIE)?.trim().to_string();
    Some((|| {
        let value = match ann.get(keys::COOKIE_VALUE) {
            Some(v) => v.trim().to_string(),
            None => pr.to_string(),
        };
        validate_pair(&name, &value).map_err(|why| {
            let which = if why.starts_with("cookie value") {
                keys::COOKIE_VALUE
            } else {
                keys::COOKIE
            };
            format!("{why}: fix the annotation {which}")
        })?;
        // Stops at the first bad host or past the cap, so a hostile annotation of 60,000
        // hosts costs no more than 65 checks.
        let listed = ann.get(keys::HOSTS).map(String::as_str).unwrap_or("");
        let hosts = protocol::policy::unique_hosts(
            listed.split(',').filter(|h| !h.trim().is_empty()),
            &PublicSuffixList,
        )
        .map_err(|why| format!("{why}: fix the annotation {}", keys::HOSTS))?;
        Ok(Route {
            kind: RouteKind::Cookie,
            name,
            value,
            hosts,
            source: RouteSource::Annotation,
        })
    })())
}

/// What discovery made of one routing resource among the preview's managed resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discovered {
    /// The resource, e.g. `HTTPRoute faces/web-pr-123`.
    pub resource: String,
    /// The route it defines (hosts from the resource itself, possibly none), or why it
    /// defines none that Preview Switch can use.
    pub route: Result<Route, String>,
    /// Something a person should know, e.g. that the resource is not live yet and was read
    /// from its target state.
    pub note: Option<String>,
    /// A flaw in the resource that makes the route work only sometimes, with the fix, e.g.
    /// an Istio cookie regex that matches only when the cookie comes first in the header.
    pub warning: Option<String>,
}

/// Source 2: reads every HTTPRoute (`policy.linkerd.io`, `gateway.networking.k8s.io`) and
/// Ingress among `resources`. Other kinds are ignored; a resource whose state is missing or
/// not JSON yields an `Err` entry, never a panic.
pub fn from_managed_resources(resources: &[ManagedResource]) -> Vec<Discovered> {
    let mut out: Vec<Discovered> = Vec::new();
    // Keyed, so a resource with thousands of matches costs linear time.
    let mut index: HashMap<String, usize> = HashMap::new();
    for r in resources {
        let http_route = r.kind == "HTTPRoute"
            && matches!(
                r.group.as_str(),
                "policy.linkerd.io" | "gateway.networking.k8s.io"
            );
        let ingress =
            r.kind == "Ingress" && matches!(r.group.as_str(), "networking.k8s.io" | "extensions");
        let virtual_service = r.kind == "VirtualService" && r.group == istio::GROUP;
        if !http_route && !ingress && !virtual_service {
            continue;
        }
        let resource = if r.namespace.is_empty() {
            format!("{} {}", r.kind, r.name)
        } else {
            format!("{} {}/{}", r.kind, r.namespace, r.name)
        };
        let (routes, note) = match state(r) {
            Err(why) => (vec![(Err(why), None)], None),
            Ok((obj, note)) if http_route => (no_warnings(httproute::cookie_routes(&obj)), note),
            Ok((obj, note)) if virtual_service => (istio::virtual_service_routes(&obj), note),
            Ok((obj, note)) => (no_warnings(nginx::ingress_canary(&obj)), note),
        };
        for (route, warning) in routes {
            // Two matches of one resource naming the same cookie are one route; a flaw in
            // either is still worth saying.
            let key = format!("{resource}\0{route:?}\0{note:?}");
            match index.get(&key) {
                Some(&i) => {
                    if out[i].warning.is_none() {
                        out[i].warning = warning;
                    }
                }
                None => {
                    index.insert(key, out.len());
                    out.push(Discovered {
                        resource: resource.clone(),
                        route,
                        note: note.clone(),
                        warning,
                    });
                }
            }
        }
    }
    out
}

/// Part of the warning on a cookie regex that misses the cookie after another one; `doctor`
/// marks warnings holding it as failures.
pub const FIRST_COOKIE_ONLY: &str = "is the first cookie in the Cookie header";

/// Routes, each with a warning slot: only Istio's regex forms need one so far.
type Warned = (Result<Route, String>, Option<String>);

fn no_warnings(routes: Vec<Result<Route, String>>) -> Vec<Warned> {
    routes.into_iter().map(|r| (r, None)).collect()
}

/// Reads `NAME` and `VALUE` from a cookie-header regex of the form
/// `(^|.*; )NAME=VALUE(;.*|$)`, undoing regex escapes (`team\-web\-pr` → `team-web-pr`).
/// Anything that is not a literal name and value is refused with the reason.
pub fn parse_cookie_regex(pattern: &str) -> Result<(String, String), String> {
    let q = quoted(pattern);
    let body = REGEX_PREFIXES
        .iter()
        .find_map(|p| pattern.strip_prefix(p))
        .and_then(|rest| REGEX_SUFFIXES.iter().find_map(|s| rest.strip_suffix(s)))
        .ok_or_else(|| format!("cookie regex {q} is not of the form {REGEX_FORM}"))?;
    let mut literal = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                // `\<` and `\>` are word-boundary assertions in Rust's regex (what the mesh
                // runs), not the characters `<` and `>` (found by fuzzing).
                Some(e @ ('<' | '>')) => {
                    return Err(format!(
                        "cookie regex {q} uses \\{e}, a word-boundary assertion, not the character {e:?}: only literal names and values are understood"
                    ));
                }
                Some(e) if e.is_ascii_punctuation() || e == ' ' => literal.push(e),
                Some(e) => {
                    return Err(format!(
                        "cookie regex {q} uses the escape \\{e}, which matches more than one text: only literal names and values are understood"
                    ));
                }
                None => return Err(format!("cookie regex {q} ends with a lone backslash")),
            },
            // An unescaped '.' matches itself too, so the literal text still routes.
            '.' => literal.push('.'),
            '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' => {
                return Err(format!(
                    "cookie regex {q} uses the operator {c:?} between the prefix and suffix: only a literal NAME=VALUE is understood"
                ));
            }
            c => literal.push(c),
        }
    }
    let (name, value) = literal
        .split_once('=')
        .ok_or_else(|| format!("cookie regex {q} has no '=' between the name and the value"))?;
    validate_pair(name, value).map_err(|why| format!("cookie regex {q}: {why}"))?;
    Ok((name.to_string(), value.to_string()))
}

/// Hosts of the base Application's `status.summary.externalURLs` (plain URLs or
/// `title|url`), deduplicated, in order; invalid ones are left out.
pub fn hosts_from_base_app(app: &Application) -> Vec<String> {
    unique(app.status.summary.external_urls.iter().filter_map(|entry| {
        let raw = entry.rsplit('|').next().unwrap_or_default().trim();
        let url = url::Url::parse(raw).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        url.host_str().and_then(|h| validate_host(h).ok())
    }))
}

/// The base Application of `service` among `apps` (the answer to a `name=` query): the one
/// named exactly `service` that is not itself a preview.
pub fn pick_base_app<'a>(apps: &'a [Application], service: &str) -> Option<&'a Application> {
    apps.iter()
        .find(|a| a.metadata.name == service && !preview::is_preview(a))
}

/// What the base-app lookup found, for host filling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseHosts {
    /// Not looked up: no route needed hosts (see [`needs_base_hosts`]).
    NotLooked,
    /// No non-preview Application is named after the service.
    NoBaseApp,
    /// The base app's hosts; possibly none.
    Found(Vec<String>),
    /// The lookup failed; the error as a user should read it.
    Failed(String),
}

/// Everything the shell gathered for one preview.
#[derive(Debug, Clone)]
pub struct Gathered<'a> {
    /// [`from_annotations`].
    pub annotation: Option<Result<Route, String>>,
    /// [`from_managed_resources`] of the fetched managed resources, or the fetch error;
    /// `None` when they were not fetched (see [`needs_discovery`]).
    pub discovery: Option<Result<Vec<Discovered>, String>>,
    pub base_hosts: BaseHosts,
    /// The server's route template from the config file, if any.
    pub template: Option<&'a RouteTemplate>,
}

/// Whether the managed resources must be fetched: the annotations define no route.
pub fn needs_discovery(annotation: &Option<Result<Route, String>>) -> bool {
    annotation.is_none()
}

/// Whether the base app must be looked up: the chosen route has no hosts of its own.
pub fn needs_base_hosts(preview: &Preview, gathered: &Gathered<'_>) -> bool {
    matches!(candidates(preview, gathered), Ok(c) if c.iter().any(|r| r.hosts.is_empty()))
}

/// Combines what was gathered into the preview's routes, best first, or the reason it is
/// unroutable (naming the sources tried and what to add).
pub fn resolve(preview: &Preview, gathered: &Gathered<'_>) -> Result<Vec<Route>, String> {
    let candidates = candidates(preview, gathered)?;
    let service = &preview.service;
    let mut routes = Vec::new();
    let mut missing = Vec::new();
    for mut route in candidates {
        if route.hosts.is_empty() {
            let mut tried = Vec::new();
            match &gathered.base_hosts {
                BaseHosts::Found(h) if !h.is_empty() => route.hosts = h.clone(),
                BaseHosts::Found(_) => {
                    tried.push(format!("the base app {service} has no externalURLs"))
                }
                BaseHosts::NoBaseApp => tried.push(format!("there is no base app named {service}")),
                BaseHosts::NotLooked => tried.push("the base app was not looked up".to_string()),
                BaseHosts::Failed(e) => {
                    return Err(format!(
                        "could not look up the base app {service} for the hosts of {} {}: {e}",
                        route.kind, route.name
                    ));
                }
            }
            if route.hosts.is_empty() {
                match gathered.template {
                    Some(t) => match template_hosts(t, &Vars::of(preview)) {
                        Ok(h) if !h.is_empty() => route.hosts = h,
                        Ok(_) => tried.push("the route template lists no hosts".to_string()),
                        Err(e) => tried.push(e),
                    },
                    None => tried.push("no route template is configured".to_string()),
                }
            }
            if route.hosts.is_empty() {
                missing.push(format!(
                    "{} {}={} from {} ({})",
                    route.kind,
                    route.name,
                    route.value,
                    route.source,
                    tried.join("; ")
                ));
                continue;
            }
        }
        routes.push(route);
    }
    if routes.is_empty() {
        return Err(format!(
            "no hosts for {}: add the annotation {} or give the base app {service} an externalURL",
            missing.join(", "),
            keys::HOSTS
        ));
    }
    within_caps(&routes)?;
    Ok(routes)
}

/// The caps of the one policy: a route with more hosts, or a preview with more routes, than
/// anyone routes by is refused whole (the extension refuses it too).
fn within_caps(routes: &[Route]) -> Result<(), String> {
    use protocol::policy::{MAX_HOSTS_PER_ROUTE, MAX_ROUTES_PER_PREVIEW, too_many_hosts};
    if let Some(r) = routes.iter().find(|r| r.hosts.len() > MAX_HOSTS_PER_ROUTE) {
        return Err(format!(
            "{} {}: {}",
            r.kind,
            quoted(&r.name),
            too_many_hosts()
        ));
    }
    if routes.len() > MAX_ROUTES_PER_PREVIEW {
        return Err(format!(
            "found {} routes, more than the {MAX_ROUTES_PER_PREVIEW} a preview may carry: route each service by one cookie, and remove the extra matches from its routing resources",
            routes.len()
        ));
    }
    Ok(())
}

/// What a person should know about how the routes were read: discovered resources that are
/// not live yet, and sources that disagree with the one used (the annotation wins over
/// discovery; the conflict is reported, never silently resolved).
pub fn warnings(preview: &Preview, gathered: &Gathered<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let Some(Ok(found)) = &gathered.discovery else {
        return out;
    };
    let same = |a: &Route, b: &Route| (a.kind, &a.name, &a.value) == (b.kind, &b.name, &b.value);
    if let Some(Ok(ann)) = &gathered.annotation {
        for d in found {
            if let Ok(r) = &d.route
                && !same(r, ann)
            {
                push_unique(
                    &mut out,
                    format!(
                        "the annotation {} says {} {}={} but {} routes on {} {}={}: the annotation is used; remove it or fix the resource",
                        keys::COOKIE,
                        ann.kind,
                        ann.name,
                        ann.value,
                        d.resource,
                        r.kind,
                        r.name,
                        r.value
                    ),
                );
            }
        }
        return out;
    }
    for d in found {
        let Ok(r) = &d.route else { continue };
        if !preview.routes.iter().any(|used| same(used, r)) {
            continue;
        }
        if let Some(note) = &d.note {
            push_unique(&mut out, format!("{} is {note}", d.resource));
        }
        if let Some(warning) = &d.warning {
            push_unique(&mut out, format!("{} {warning}", d.resource));
        }
    }
    out
}

/// Sets the preview's routes, or its `unroutable` reason.
pub fn apply(preview: &mut Preview, resolved: Result<Vec<Route>, String>) {
    match resolved {
        Ok(routes) => {
            preview.routes = routes;
            preview.unroutable = None;
        }
        Err(why) => {
            preview.routes.clear();
            preview.unroutable = Some(why);
        }
    }
}

/// The routes of the first source that yields any, before host filling.
fn candidates(preview: &Preview, gathered: &Gathered<'_>) -> Result<Vec<Route>, String> {
    let mut tried = Vec::new();
    match &gathered.annotation {
        Some(Ok(route)) => return Ok(vec![route.clone()]),
        Some(Err(why)) => return Err(format!("refused the routing annotations: {why}")),
        None => tried.push(format!("annotations: no {} annotation", keys::COOKIE)),
    }
    match &gathered.discovery {
        Some(Err(e)) => {
            return Err(format!(
                "could not read the routing resources of {}: {e}",
                preview.app
            ));
        }
        Some(Ok(found)) => {
            // Keyed, so a resource with thousands of matches costs linear time.
            let mut routes: Vec<Route> = Vec::new();
            let mut index: HashMap<(RouteKind, &str, &str), usize> = HashMap::new();
            for route in found.iter().filter_map(|d| d.route.as_ref().ok()) {
                let key = (route.kind, route.name.as_str(), route.value.as_str());
                match index.get(&key) {
                    Some(&i) => routes[i].hosts.extend(route.hosts.iter().cloned()),
                    None => {
                        index.insert(key, routes.len());
                        routes.push(route.clone());
                    }
                }
            }
            for r in &mut routes {
                r.hosts = unique(std::mem::take(&mut r.hosts));
            }
            if !routes.is_empty() {
                // Cookies first (they work in both extension modes), then the ones whose
                // value is this PR's number; otherwise the resources' order.
                let pr = preview.pr.to_string();
                routes.sort_by_key(|r| (r.kind != RouteKind::Cookie, r.value != pr));
                return Ok(routes);
            }
            if found.is_empty() {
                tried.push("discovery: no HTTPRoute, VirtualService or Ingress among the managed resources".into());
            } else {
                let why: Vec<String> = found
                    .iter()
                    .filter_map(|d| {
                        d.route
                            .as_ref()
                            .err()
                            .map(|e| format!("{} {e}", d.resource))
                    })
                    .collect();
                tried.push(format!("discovery: {}", why.join("; ")));
            }
        }
        None => tried.push("discovery: not checked".into()),
    }
    match gathered.template {
        Some(t) => {
            let route = from_template(t, &preview.service, preview.pr, &preview.context)?;
            return Ok(vec![route]);
        }
        None => tried.push(format!("config: no route template for {}", preview.context)),
    }
    Err(format!(
        "no route found ({}): add the annotation {} to the Application {}, a cookie match {REGEX_FORM} to its HTTPRoute or VirtualService (or an ingress-nginx canary-by-cookie Ingress), or a route template to the config file",
        tried.join("; "),
        keys::COOKIE,
        preview.app
    ))
}

/// The resource's object: `liveState`, else `targetState` (JSON strings, `"null"` when
/// absent), with a note when the target state had to stand in. A state that is not a JSON
/// object is skipped in favour of the other.
fn state(r: &ManagedResource) -> Result<(Value, Option<String>), String> {
    let mut first_error = None;
    for (what, s) in [
        ("liveState", &r.live_state),
        ("targetState", &r.target_state),
    ] {
        let Some(s) = s
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "null")
        else {
            continue;
        };
        match serde_json::from_str::<Value>(s) {
            Ok(v) if v.is_object() => {
                let note = (what == "targetState").then(|| {
                    "not live yet (no usable liveState): read from the target state, so the route works once Argo CD has synced it".to_string()
                });
                return Ok((v, note));
            }
            Ok(_) => first_error.get_or_insert(format!("has a {what} that is not a JSON object")),
            Err(e) => {
                first_error.get_or_insert(format!("has a {what} that is not valid JSON ({e})"))
            }
        };
    }
    Err(first_error.unwrap_or_else(|| "has neither a live nor a target state".into()))
}

/// A validated header route (the extension sets exactly this header in tab mode).
pub(super) fn header_route(name: &str, value: &str, hosts: Vec<String>) -> Result<Route, String> {
    protocol::policy::check_header_name(name)
        .map_err(|why| format!("routes by a header the extension will not set: {why}"))?;
    protocol::policy::check_header_value(value)
        .map_err(|why| format!("has a header match that cannot be sent: {why}"))?;
    Ok(Route {
        kind: RouteKind::Header,
        name: name.to_string(),
        value: value.to_string(),
        hosts,
        source: RouteSource::Discovery,
    })
}

/// The one text a regex matches when it is a literal (optionally anchored with `^`/`$`,
/// escapes undone), else why not. The mesh anchors header regexes, so `^42$` and `42` are
/// the same literal.
pub(super) fn literal_regex(pattern: &str) -> Result<String, String> {
    let q = quoted(pattern);
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let body = match body.strip_suffix('$') {
        Some(b) if !b.ends_with('\\') => b,
        _ => body,
    };
    let mut literal = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) if e.is_ascii_punctuation() || e == ' ' => literal.push(e),
                Some(e) => {
                    return Err(format!(
                        "the regex {q} uses the escape \\{e}: only a literal value can be sent"
                    ));
                }
                None => return Err(format!("the regex {q} ends with a lone backslash")),
            },
            '.' => literal.push('.'),
            '*' | '+' | '?' | '(' | ')' | '[' | ']' | '{' | '}' | '|' | '^' | '$' => {
                return Err(format!(
                    "the regex {q} uses the operator {c:?}: only a literal value can be sent"
                ));
            }
            c => literal.push(c),
        }
    }
    if literal.is_empty() {
        return Err(format!("the regex {q} matches an empty value"));
    }
    Ok(literal)
}

/// Hosts without repeats, in first-seen order, in linear time (a hostile list of 60,000
/// hosts made `Vec::contains` quadratic), and no more than one past the cap: enough for
/// [`within_caps`] to refuse the route, so the rest of a huge list is never even checked.
pub(super) fn unique(hosts: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    hosts
        .into_iter()
        .filter(|s| seen.insert(s.clone()))
        .take(protocol::policy::MAX_HOSTS_PER_ROUTE + 1)
        .collect()
}

/// Adds `s` unless present: for the few warnings of one preview.
pub(super) fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::nginx::*;
    use super::*;

    pub(super) fn app(json: Value) -> Application {
        serde_json::from_value(json).unwrap()
    }

    fn annotated(pairs: &[(&str, &str)]) -> Application {
        let ann: BTreeMap<&str, &str> = pairs.iter().copied().collect();
        app(json!({"metadata": {"name": "courses-fe-pr-123", "annotations": ann}}))
    }

    pub(super) fn cookie(name: &str, value: &str, hosts: &[&str], source: RouteSource) -> Route {
        Route {
            kind: RouteKind::Cookie,
            name: name.into(),
            value: value.into(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            source,
        }
    }

    /// A Kubernetes object as Argo CD's managed-resources endpoint returns it: the object as
    /// a JSON string in `liveState`, `targetState` `"null"`.
    pub(super) fn managed(obj: &Value) -> ManagedResource {
        let (group, version) = obj["apiVersion"].as_str().unwrap().split_once('/').unwrap();
        ManagedResource {
            group: group.into(),
            version: version.into(),
            kind: obj["kind"].as_str().unwrap().into(),
            namespace: obj["metadata"]["namespace"].as_str().unwrap_or("").into(),
            name: obj["metadata"]["name"].as_str().unwrap().into(),
            live_state: Some(obj.to_string()),
            target_state: Some("null".into()),
        }
    }

    /// The shared corpus (`protocol/tests/policy_corpus.json`) through the companion's own
    /// route derivation: cookie routes from the routing annotations, header routes from an
    /// ingress-nginx canary-by-header Ingress. The verdict is the corpus's own (the whole
    /// Public Suffix List), which the extension gives too except where the corpus says.
    #[test]
    fn the_shared_policy_corpus_gets_the_same_verdicts() {
        let corpus: Value =
            serde_json::from_str(include_str!("../../../protocol/tests/policy_corpus.json"))
                .unwrap();
        let cases = corpus["cases"].as_array().unwrap();
        assert!(cases.len() >= 100);
        for case in cases {
            let s = |k: &str| case[k].as_str().unwrap();
            let hosts: Vec<&str> = case["hosts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h.as_str().unwrap())
                .collect();
            let route = match s("kind") {
                "cookie" => {
                    let hosts = hosts.join(",");
                    let a = annotated(&[
                        (keys::COOKIE, s("name")),
                        (keys::COOKIE_VALUE, s("value")),
                        (keys::HOSTS, &hosts),
                    ]);
                    from_annotations(&a, 1).unwrap()
                }
                _ => {
                    let rules: Vec<Value> = hosts.iter().map(|h| json!({"host": h})).collect();
                    let found = from_managed_resources(&[managed(&json!({
                        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                        "metadata": {"name": "web-canary", "namespace": "web", "annotations":
                            {NGINX_CANARY: "true", NGINX_BY_HEADER: s("name"),
                             NGINX_BY_HEADER_VALUE: s("value")}},
                        "spec": {"rules": rules}}))]);
                    found[0].route.clone()
                }
            };
            let got = if route.is_ok() { "accept" } else { "refuse" };
            assert_eq!(got, s("verdict"), "{}: {route:?}", s("what"));
        }
    }

    pub(super) fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    pub(super) const LINKERD_V1BETA3: &str = include_str!(
        "../../../tests/fixtures/linkerd/httproute-policy.linkerd.io-v1beta3-smiley-router.yaml"
    );

    /// The regex a team writes in its preview HTTPRoute (DESIGN §1), with escaped hyphens.
    pub(super) const COURSES_REGEX: &str = r"(^|.*; )team\-courses\-fe\-pr=123(;.*|$)";

    fn preview_of(name: &str) -> Preview {
        let a = app(json!({"metadata": {"name": name, "namespace": "argocd"}}));
        preview::derive(&a, "https://argocd.dev", Some("dev")).unwrap()
    }

    fn gathered() -> Gathered<'static> {
        Gathered {
            annotation: None,
            discovery: Some(Ok(Vec::new())),
            base_hosts: BaseHosts::NotLooked,
            template: None,
        }
    }

    #[test]
    fn annotations_give_a_route_or_a_reason() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<Result<Route, &'a str>>);
        let table: Vec<Case<'_>> = vec![
            (&[], None),
            (&[(keys::HOSTS, "a.example.com")], None),
            (
                &[(keys::COOKIE, "team-courses-fe-pr")],
                Some(Ok(cookie(
                    "team-courses-fe-pr",
                    "123",
                    &[],
                    RouteSource::Annotation,
                ))),
            ),
            (
                &[
                    (keys::COOKIE, " svc "),
                    (keys::COOKIE_VALUE, "blue"),
                    (
                        keys::HOSTS,
                        " Courses.Example.com, ,api.example.com,courses.example.com ",
                    ),
                ],
                Some(Ok(cookie(
                    "svc",
                    "blue",
                    &["courses.example.com", "api.example.com"],
                    RouteSource::Annotation,
                ))),
            ),
            (
                &[(keys::COOKIE, "a;b")],
                Some(Err(
                    "cookie name \"a;b\" contains ';' which would end the cookie: fix the annotation preview-switch.io/cookie",
                )),
            ),
            (
                &[(keys::COOKIE, "x=1; Domain=evil.test")],
                Some(Err(
                    "contains '=' which would split the name from the value",
                )),
            ),
            (
                &[
                    (keys::COOKIE, "svc"),
                    (keys::COOKIE_VALUE, "1; Domain=evil.test"),
                ],
                Some(Err(
                    "';' which would end the cookie: fix the annotation preview-switch.io/cookie-value",
                )),
            ),
            (
                &[
                    (keys::COOKIE, "svc"),
                    (keys::HOSTS, "a.example.com,*.example.com"),
                ],
                Some(Err(
                    "wildcard: list each exact host name instead: fix the annotation preview-switch.io/hosts",
                )),
            ),
            (&[(keys::COOKIE, "")], Some(Err("cookie name is empty"))),
        ];
        for (pairs, want) in table {
            let got = from_annotations(&annotated(pairs), 123);
            match (got, want) {
                (None, None) => {}
                (Some(Ok(r)), Some(Ok(w))) => assert_eq!(r, w),
                (Some(Err(e)), Some(Err(w))) => assert!(e.contains(w), "{pairs:?}: {e}"),
                (got, want) => panic!("{pairs:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_canary_by_a_credential_or_browser_header_is_refused() {
        for name in [
            "Cookie",
            "authorization",
            "Host",
            "Sec-Fetch-Site",
            "Proxy-Foo",
            "X-Forwarded-Host",
            "X-HTTP-Method-Override",
        ] {
            let found = from_managed_resources(&[managed(
                &json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "web-canary", "namespace": "web", "annotations":
                    {NGINX_CANARY: "true", NGINX_BY_HEADER: name, NGINX_BY_HEADER_VALUE: "x"}},
                "spec": {"rules": [{"host": "web.example.com"}]}}),
            )]);
            let why = found[0].route.clone().unwrap_err();
            assert!(
                why.contains("routes by a header the extension will not set"),
                "{name}: {why}"
            );
        }
    }

    #[test]
    fn nginx_canary_ingress_by_cookie_and_by_header() {
        let ingress = |ann: Value| {
            managed(
                &json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "web-canary", "namespace": "web", "annotations": ann},
                "spec": {"rules": [{"host": "web.example.com"}, {"host": "web.example.com"}]}}),
            )
        };
        let found = from_managed_resources(&[
            ingress(json!({NGINX_CANARY: "true", NGINX_BY_COOKIE: "web-canary"})),
            ingress(
                json!({NGINX_CANARY: "true", NGINX_BY_HEADER: "X-Canary", NGINX_BY_HEADER_VALUE: "pr-5"}),
            ),
            ingress(json!({"kubernetes.io/ingress.class": "nginx"})),
        ]);
        assert_eq!(
            found[0].route,
            Ok(cookie(
                "web-canary",
                "always",
                &["web.example.com"],
                RouteSource::Discovery
            ))
        );
        let header = found[1].route.clone().unwrap();
        assert_eq!(
            (header.kind, header.name.as_str(), header.value.as_str()),
            (RouteKind::Header, "X-Canary", "pr-5")
        );
        assert!(
            found[2]
                .route
                .clone()
                .unwrap_err()
                .contains("not an ingress-nginx canary")
        );
    }

    #[test]
    fn broken_states_are_skipped_with_a_reason() {
        let mut good = yaml(LINKERD_V1BETA3);
        good["spec"]["rules"][0]["matches"] = json!([{"headers": [{"name": "cookie", "type": "RegularExpression", "value": COURSES_REGEX}]}]);
        let base = managed(&good);
        let with = |live: Option<&str>, target: Option<&str>| ManagedResource {
            live_state: live.map(Into::into),
            target_state: target.map(Into::into),
            ..base.clone()
        };
        let table: Vec<(ManagedResource, Result<&str, &str>)> = vec![
            (
                with(Some("{not json"), Some("null")),
                Err("has a liveState that is not valid JSON"),
            ),
            (
                with(Some("[1,2]"), None),
                Err("has a liveState that is not a JSON object"),
            ),
            (
                with(Some("null"), Some("null")),
                Err("has neither a live nor a target state"),
            ),
            (
                with(None, None),
                Err("has neither a live nor a target state"),
            ),
            (
                with(Some("null"), Some(&good.to_string())),
                Ok("team-courses-fe-pr"),
            ),
            // A garbled live state with a good target: the target is used.
            (
                with(Some("{\"spec\":"), Some(&good.to_string())),
                Ok("team-courses-fe-pr"),
            ),
        ];
        for (r, want) in table {
            let found = from_managed_resources(std::slice::from_ref(&r));
            match (&found[0].route, want) {
                (Ok(route), Ok(name)) => assert_eq!(route.name, name),
                (Err(e), Err(w)) => assert!(e.contains(w), "{e}"),
                (got, want) => panic!("{r:?}: got {got:?}, want {want:?}"),
            }
        }
        // Other kinds are not routing resources.
        let svc = ManagedResource {
            kind: "Service".into(),
            group: String::new(),
            ..base
        };
        assert!(from_managed_resources(&[svc]).is_empty());
    }

    /// Regression (fuzz target `cookie_regex`, crash-93663cde): `\<` was read as `<`, but
    /// Rust's regex (Linkerd's) reads it as a word boundary, so the value the extension
    /// would set is not the one the mesh matches.
    #[test]
    fn word_boundary_escapes_are_refused_not_read_as_characters() {
        for pattern in [r"(^|.*; )pp=te\<-w(;.*|$)", r"(^|.*; )n\>=1(;.*|$)"] {
            let err = parse_cookie_regex(pattern).unwrap_err();
            assert!(err.contains("word-boundary assertion"), "{err}");
        }
        let ok = r"(^|.*; )team\-web\-pr=1(;.*|$)";
        let (name, value) = parse_cookie_regex(ok).unwrap();
        let re = regex::Regex::new(ok).unwrap();
        assert!(re.is_match(&format!("a=1; {name}={value}; z=2")));
    }

    #[test]
    fn cookie_regexes_are_read_or_refused() {
        let ok: &[(&str, (&str, &str))] = &[
            (COURSES_REGEX, ("team-courses-fe-pr", "123")),
            ("(^|.*; )team-web-pr=42(;.*|$)", ("team-web-pr", "42")),
            (r"(^|.*;\s*)svc\.pr=v1\.2($|;.*)", ("svc.pr", "v1.2")),
            ("(^|.*; )svc=v1.2(;.*|$)", ("svc", "v1.2")),
            (r"(^|.*; )svc_pr=a\=b(;.*|$)", ("svc_pr", "a=b")),
        ];
        for (pattern, (name, value)) in ok {
            assert_eq!(
                parse_cookie_regex(pattern),
                Ok((name.to_string(), value.to_string())),
                "{pattern}"
            );
        }
        let refused: &[(&str, &str)] = &[
            (
                "team-web-pr=42",
                "is not of the form (^|.*; )NAME=VALUE(;.*|$)",
            ),
            ("(^|.*; )team-web-pr=42", "is not of the form"),
            (r"(^|.*; )team\-web\-pr=\d+(;.*|$)", "uses the escape \\d"),
            (
                "(^|.*; )team-web-pr=(42|43)(;.*|$)",
                "uses the operator '('",
            ),
            ("(^|.*; )team-web-pr=4*(;.*|$)", "uses the operator '*'"),
            ("(^|.*; )team-web-pr(;.*|$)", "has no '='"),
            (
                r"(^|.*; )x\=1\;\ Domain\=evil\.test=1(;.*|$)",
                "';' which would end the cookie",
            ),
            (r"(^|.*; )a\;b=1(;.*|$)", "cookie name \"a;b\" contains ';'"),
            (r"(^|.*; )=1(;.*|$)", "cookie name is empty"),
            (r"(^|.*; )a=(;.*|$)", "cookie value is empty"),
            (r"(^|.*; )a=1\(;.*|$)", "ends with a lone backslash"),
        ];
        for (pattern, want) in refused {
            let err = parse_cookie_regex(pattern).unwrap_err();
            assert!(err.contains(want), "{pattern}: {err}");
        }
    }

    #[test]
    fn base_app_hosts_from_external_urls() {
        let base = app(
            json!({"metadata": {"name": "courses-fe"}, "status": {"summary": {"externalURLs": [
                "https://courses.example.com/",
                "Docs|https://docs.example.com/x",
                "https://COURSES.example.com:8443/a",
                "not a url",
                "ftp://files.example.com/",
                "http://10.0.0.1/",
            ]}}}),
        );
        assert_eq!(
            hosts_from_base_app(&base),
            ["courses.example.com", "docs.example.com", "10.0.0.1"]
        );
        let pr = app(
            json!({"metadata": {"name": "courses-fe", "labels": {"preview-switch.io/pr": "3"}}}),
        );
        let other = app(json!({"metadata": {"name": "courses-fe-admin"}}));
        let apps = [other, pr, base.clone()];
        assert_eq!(pick_base_app(&apps, "courses-fe"), Some(&base));
        assert_eq!(pick_base_app(&apps[..2], "courses-fe"), None);
    }

    #[test]
    fn annotation_beats_discovery_beats_config() {
        let p = preview_of("courses-fe-pr-123");
        let tpl = RouteTemplate {
            cookie: "team-{service}-pr".into(),
            value: None,
            hosts: vec!["tpl.example.com".into()],
        };
        let discovered = vec![Discovered {
            resource: "HTTPRoute x/y".into(),
            route: Ok(cookie(
                "disc",
                "123",
                &["disc.example.com"],
                RouteSource::Discovery,
            )),
            note: None,
            warning: None,
        }];
        let ann = cookie("ann", "123", &["ann.example.com"], RouteSource::Annotation);
        let mut g = Gathered {
            annotation: Some(Ok(ann.clone())),
            discovery: Some(Ok(discovered)),
            template: Some(&tpl),
            ..gathered()
        };
        assert_eq!(resolve(&p, &g), Ok(vec![ann]));
        g.annotation = None;
        assert_eq!(resolve(&p, &g).unwrap()[0].name, "disc");
        g.discovery = Some(Ok(Vec::new()));
        assert_eq!(
            resolve(&p, &g),
            Ok(vec![cookie(
                "team-courses-fe-pr",
                "123",
                &["tpl.example.com"],
                RouteSource::Config
            )])
        );
    }

    #[test]
    fn a_discovered_routes_warning_reaches_the_preview() {
        let mut p = preview_of("web-pr-5");
        let d = |name: &str, warning: Option<&str>| Discovered {
            resource: format!("VirtualService web/{name}"),
            route: Ok(cookie(
                name,
                "5",
                &["web.example.com"],
                RouteSource::Discovery,
            )),
            note: None,
            warning: warning.map(str::to_string),
        };
        let g = Gathered {
            discovery: Some(Ok(vec![
                d("web-pr", Some("matches only first: change it")),
                d("other", None),
            ])),
            ..gathered()
        };
        let resolved = resolve(&p, &g);
        apply(&mut p, resolved);
        assert_eq!(p.routes[0].name, "web-pr");
        assert_eq!(
            warnings(&p, &g),
            ["VirtualService web/web-pr matches only first: change it"]
        );
    }

    #[test]
    fn discovered_cookies_come_first_and_this_prs_value_first() {
        let p = preview_of("web-pr-5");
        let d = |name: &str, value: &str, kind: RouteKind| Discovered {
            resource: format!("HTTPRoute web/{name}"),
            route: Ok(Route {
                kind,
                ..cookie(name, value, &["web.example.com"], RouteSource::Discovery)
            }),
            note: None,
            warning: None,
        };
        let g = Gathered {
            discovery: Some(Ok(vec![
                d("hdr", "5", RouteKind::Header),
                d("old", "4", RouteKind::Cookie),
                d("web-pr", "5", RouteKind::Cookie),
                d("web-pr", "5", RouteKind::Cookie),
            ])),
            ..gathered()
        };
        let names: Vec<String> = resolve(&p, &g)
            .unwrap()
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["web-pr", "old", "hdr"]);
    }

    #[test]
    fn hosts_come_from_the_route_else_the_base_app_else_the_template() {
        let p = preview_of("courses-fe-pr-123");
        let tpl = RouteTemplate {
            cookie: "unused".into(),
            value: None,
            hosts: vec!["{service}.{context}.example.com".into()],
        };
        let bare = cookie("team-courses-fe-pr", "123", &[], RouteSource::Annotation);
        let mut g = Gathered {
            annotation: Some(Ok(bare)),
            discovery: None,
            ..gathered()
        };
        assert!(needs_base_hosts(&p, &g));
        assert!(!needs_discovery(&g.annotation));

        g.base_hosts = BaseHosts::Found(vec!["courses.example.com".into()]);
        assert_eq!(resolve(&p, &g).unwrap()[0].hosts, ["courses.example.com"]);

        g.base_hosts = BaseHosts::Found(Vec::new());
        g.template = Some(&tpl);
        let r = resolve(&p, &g).unwrap();
        // The annotation's cookie, with the template's hosts.
        assert_eq!(
            (r[0].name.as_str(), r[0].source),
            ("team-courses-fe-pr", RouteSource::Annotation)
        );
        assert_eq!(r[0].hosts, ["courses-fe.dev.example.com"]);

        g.template = None;
        g.base_hosts = BaseHosts::NoBaseApp;
        let err = resolve(&p, &g).unwrap_err();
        assert_eq!(
            err,
            "no hosts for cookie team-courses-fe-pr=123 from annotation (there is no base app named courses-fe; no route template is configured): add the annotation preview-switch.io/hosts or give the base app courses-fe an externalURL"
        );

        g.base_hosts = BaseHosts::Failed(
            "example.dev answered 500 for the application courses-fe: boom".into(),
        );
        let err = resolve(&p, &g).unwrap_err();
        assert!(err.starts_with("could not look up the base app courses-fe for the hosts of cookie team-courses-fe-pr: example.dev answered 500"), "{err}");
    }

    /// Finding 3: a routing resource with thousands of hostnames or matches makes the
    /// preview unroutable with the reason instead of a huge route, in linear time.
    #[test]
    fn routes_over_the_caps_make_the_preview_unroutable_with_the_reason() {
        let route_with = |hosts: usize, matches: usize| {
            let hostnames: Vec<String> = (0..hosts).map(|i| format!("h{i}.example.com")).collect();
            let rules: Vec<Value> = (0..matches)
                .map(|i| json!({"matches": [{"headers": [{"name": "x-pr", "value": format!("{i}")}]}]}))
                .collect();
            let found = from_managed_resources(&[managed(&json!({
                "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
                "metadata": {"name": "web", "namespace": "web"},
                "spec": {"hostnames": hostnames, "rules": rules}}))]);
            let g = Gathered {
                discovery: Some(Ok(found)),
                ..gathered()
            };
            resolve(&preview_of("web-pr-1"), &g)
        };
        assert!(route_with(64, 16).is_ok());
        let why = route_with(60_000, 1).unwrap_err();
        assert!(why.contains("lists more than 64 hosts"), "{why}");
        let why = route_with(2, 10_000).unwrap_err();
        assert!(
            why.contains("found 10000 routes, more than the 16"),
            "{why}"
        );
    }

    #[test]
    fn unroutable_reasons_name_every_source_tried() {
        let p = preview_of("courses-fe-pr-123");
        let g = Gathered {
            discovery: Some(Ok(from_managed_resources(&[managed(&yaml(
                LINKERD_V1BETA3,
            ))]))),
            ..gathered()
        };
        assert!(!needs_base_hosts(&p, &g));
        assert_eq!(
            resolve(&p, &g).unwrap_err(),
            "no route found (annotations: no preview-switch.io/cookie annotation; discovery: HTTPRoute faces/smiley-router has no cookie header match of type RegularExpression; config: no route template for dev): add the annotation preview-switch.io/cookie to the Application courses-fe-pr-123, a cookie match (^|.*; )NAME=VALUE(;.*|$) to its HTTPRoute or VirtualService (or an ingress-nginx canary-by-cookie Ingress), or a route template to the config file"
        );

        let g = Gathered {
            discovery: Some(Err("argocd.dev answered 500: boom".into())),
            ..gathered()
        };
        assert_eq!(
            resolve(&p, &g).unwrap_err(),
            "could not read the routing resources of courses-fe-pr-123: argocd.dev answered 500: boom"
        );

        let g = Gathered {
            annotation: Some(Err("cookie name is empty".into())),
            ..gathered()
        };
        assert_eq!(
            resolve(&p, &g).unwrap_err(),
            "refused the routing annotations: cookie name is empty"
        );

        let mut p2 = p.clone();
        apply(&mut p2, resolve(&p, &g));
        assert!(p2.routes.is_empty() && p2.unroutable.as_deref().unwrap().contains("refused"));
        apply(
            &mut p2,
            Ok(vec![cookie(
                "a",
                "1",
                &["a.example.com"],
                RouteSource::Config,
            )]),
        );
        assert!(p2.unroutable.is_none() && p2.routes_host("A.example.com"));
    }
}
