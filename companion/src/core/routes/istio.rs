//! Istio `VirtualService` (networking.istio.io v1/v1beta1/v1alpha3): each `http[].match[]`
//! whose `headers` select one cookie (`cookie: {regex: ...}` in the forms Linkerd uses or
//! the form Istio's docs use, `^(.*?;)?(NAME=VALUE)(;.*)?$`, or `cookie: {exact: NAME=VALUE}`)
//! gives a cookie route. The docs form lacks the space browsers put after `;`, so it matches
//! only a first cookie: its route comes with a warning naming the fix. One other header
//! (`exact`, `prefix`, or a literal `regex`) gives a header route. Hosts are `spec.hosts` that
//! a browser can reach: exact DNS names with a dot, not cluster-internal service names.

use protocol::{Route, RouteKind, RouteSource};
use serde_json::Value;

use super::{Warned, header_route, literal_regex, parse_cookie_regex, unique};
use crate::core::cookie::{validate_host, validate_pair};
use crate::core::quoted;

pub(super) const GROUP: &str = "networking.istio.io";

/// Istio's documented cookie regex wraps NAME=VALUE like this (RE2, matched in full by Envoy).
/// Browsers join cookies with `"; "`, so a prefix without the space after `;` matches only
/// when the cookie comes first in the header ([`FIRST_ONLY`]).
const ISTIO_PREFIXES: &[&str] = &[
    "^(.*?;)?(",
    "^(.*?; )?(",
    "^(.*?;\\s*)?(",
    "^(.*;)?(",
    "(.*?;)?(",
];
/// The prefixes in [`ISTIO_PREFIXES`] that never match after another cookie.
const FIRST_ONLY: &[&str] = &["^(.*?;)?(", "^(.*;)?(", "(.*?;)?("];
const ISTIO_SUFFIXES: &[&str] = &[")(;.*)?$", ")(;.*)?"];

pub(super) fn virtual_service_routes(obj: &Value) -> Vec<Warned> {
    let spec = &obj["spec"];
    // `reviews` or `reviews.ns.svc.cluster.local` are mesh-internal: no browser goes there.
    let hosts = unique(
        spec["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str().and_then(|h| validate_host(h).ok()))
            .filter(|h| {
                h.contains('.') && !h.ends_with(".svc.cluster.local") && !h.ends_with(".svc")
            }),
    );
    let mut out = Vec::new();
    let matches = spec["http"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rule| rule["match"].as_array().into_iter().flatten());
    for m in matches {
        let Some(headers) = m["headers"].as_object().filter(|h| !h.is_empty()) else {
            continue;
        };
        if headers.len() > 1 {
            let names: Vec<&str> = headers.keys().map(String::as_str).collect();
            out.push((
                Err(format!(
                    "has a match that needs the headers {} at once, which one route cannot set",
                    names.join(", ")
                )),
                None,
            ));
            continue;
        }
        let (name, matcher) = headers.iter().next().expect("one header");
        let route = if name.eq_ignore_ascii_case("cookie") {
            match cookie_match(matcher) {
                Ok((name, value, warning)) => (
                    Ok(Route {
                        kind: RouteKind::Cookie,
                        name,
                        value,
                        hosts: hosts.clone(),
                        source: RouteSource::Discovery,
                    }),
                    warning,
                ),
                Err(why) => (Err(why), None),
            }
        } else {
            (header_match(name, matcher, &hosts), None)
        };
        out.push(route);
    }
    if out.is_empty() {
        out.push((
            Err("has no http match on a cookie or header".to_string()),
            None,
        ));
    }
    out
}

/// NAME and VALUE from a `cookie` StringMatch, with a warning when the regex matches only
/// while the cookie is the first one in the header.
fn cookie_match(matcher: &Value) -> Result<(String, String, Option<String>), String> {
    if let Some(exact) = matcher["exact"].as_str() {
        // Matches only when this is the browser's one cookie for the host; still the cookie
        // to set.
        let (name, value) = exact.split_once('=').ok_or_else(|| {
            format!(
                "has a cookie exact match {} without NAME=VALUE",
                quoted(exact)
            )
        })?;
        validate_pair(name, value).map_err(|why| format!("has a cookie exact match: {why}"))?;
        return Ok((name.to_string(), value.to_string(), None));
    }
    if let Some(regex) = matcher["regex"].as_str() {
        let istio_form = ISTIO_PREFIXES
            .iter()
            .find_map(|p| Some((*p, regex.strip_prefix(p)?)))
            .and_then(|(p, rest)| {
                ISTIO_SUFFIXES
                    .iter()
                    .find_map(|s| Some((p, rest.strip_suffix(s)?)))
            });
        return match istio_form {
            Some((prefix, body)) => {
                let literal =
                    literal_regex(body).map_err(|why| format!("has a cookie regex: {why}"))?;
                let (name, value) = literal.split_once('=').ok_or_else(|| {
                    format!("has a cookie regex {} without NAME=VALUE", quoted(regex))
                })?;
                validate_pair(name, value).map_err(|why| format!("has a cookie regex: {why}"))?;
                let warning = FIRST_ONLY.contains(&prefix).then(|| {
                    format!(
                        "has the cookie regex {} which matches only when {name}={value} {} (browsers separate cookies with \"; \", and switching appends the cookie): change it to {} or {}",
                        quoted(regex),
                        super::FIRST_COOKIE_ONLY,
                        quoted(&format!("(^|.*; ){body}(;.*|$)")),
                        quoted(&format!("^(.*?; )?({body})(;.*)?$"))
                    )
                });
                Ok((name.to_string(), value.to_string(), warning))
            }
            None => parse_cookie_regex(regex).map(|(n, v)| (n, v, None)),
        };
    }
    Err("has a cookie prefix match: only exact or regex cookie matches are understood".to_string())
}

/// A header route from a non-cookie StringMatch: exact, prefix (sending the prefix itself
/// matches) or a literal regex.
fn header_match(name: &str, matcher: &Value, hosts: &[String]) -> Result<Route, String> {
    let value = if let Some(v) = matcher["exact"]
        .as_str()
        .or_else(|| matcher["prefix"].as_str())
    {
        v.to_string()
    } else if let Some(r) = matcher["regex"].as_str() {
        literal_regex(r).map_err(|why| format!("has a header match on {name}: {why}"))?
    } else {
        return Err(format!(
            "has a header match on {name} without exact, prefix or regex"
        ));
    };
    header_route(name, &value, hosts.to_vec())
}

#[cfg(test)]
mod tests {
    use protocol::RouteKind;

    use crate::argocd::model::ManagedResources;
    use crate::core::routes::{Discovered, from_managed_resources};

    fn discover(json: &str) -> Vec<Discovered> {
        let body: ManagedResources = serde_json::from_str(json).unwrap();
        from_managed_resources(&body.items)
    }

    fn summary(found: &[Discovered]) -> Vec<String> {
        found
            .iter()
            .map(|d| match &d.route {
                Ok(r) => format!(
                    "{} {} {}={} {:?}",
                    d.resource, r.kind, r.name, r.value, r.hosts
                ),
                Err(e) => format!("{} ERR {e}", d.resource),
            })
            .collect()
    }

    #[test]
    fn virtual_service_cookie_regex_and_header_match_are_discovered() {
        let found = discover(include_str!(
            "../../../../tests/fixtures/istio/managed-resources-virtualservice-cookie-and-header.json"
        ));
        // The Service is not a routing resource; short and cluster-internal hosts are dropped;
        // the doubly escaped regex reads as the plain cookie name.
        assert_eq!(
            summary(&found),
            [
                "VirtualService web/web-pr-42 cookie team-web-pr=42 [\"web.dev.example.com\"]",
                "VirtualService web/web-pr-42 header x-preview=web-42 [\"web.dev.example.com\"]",
            ]
        );
        assert!(found.iter().all(|d| d.note.is_none()));
    }

    #[test]
    fn virtual_service_in_istio_docs_form_not_yet_live_is_read_from_the_target() {
        let found = discover(include_str!(
            "../../../../tests/fixtures/istio/managed-resources-virtualservice-docs-regex-not-yet-live.json"
        ));
        let s = summary(&found);
        assert_eq!(
            s[0],
            "VirtualService bookinfo/reviews-pr-7 cookie reviews-pr=7 [\"reviews.bookinfo.example.com\"]"
        );
        // The `exact` cookie match names the same cookie: one route, not two.
        assert_eq!(found.iter().filter(|d| d.route.is_ok()).count(), 1, "{s:?}");
        assert!(
            s.iter()
                .any(|l| l.contains("needs the headers end-user, x-env at once")),
            "{s:?}"
        );
        assert!(found[0].note.as_deref().unwrap().contains("not live yet"));
        // Istio's docs form has no space after `;`: usable, but only as the first cookie.
        let warning = found[0].warning.as_deref().unwrap();
        assert!(
            warning.contains("matches only when reviews-pr=7 is the first cookie"),
            "{warning}"
        );
        assert!(
            warning.contains(r#"change it to "(^|.*; )reviews\\-pr=7(;.*|$)""#),
            "{warning}"
        );
    }

    /// What Envoy does with the regex (RE2, whole header): the docs form misses the cookie
    /// after another one; both forms the warning suggests find it anywhere.
    #[test]
    fn istio_docs_form_needs_the_space_that_browsers_send() {
        let full = |re: &str, header: &str| {
            regex::Regex::new(&format!("^(?:{re})$"))
                .unwrap()
                .is_match(header)
        };
        let docs = "^(.*?;)?(NAME=VALUE)(;.*)?$";
        let fixed = ["(^|.*; )NAME=VALUE(;.*|$)", "^(.*?; )?(NAME=VALUE)(;.*)?$"];
        for header in ["a=1; NAME=VALUE; z=2", "NAME=VALUE", "a=1; NAME=VALUE"] {
            for re in fixed {
                assert!(full(re, header), "{re} {header}");
            }
        }
        assert!(full(docs, "NAME=VALUE; z=2"));
        assert!(!full(docs, "a=1; NAME=VALUE; z=2"));
        assert!(!full(docs, "a=1; NAME=VALUE"));
    }

    #[test]
    fn only_the_first_cookie_forms_are_warned_about() {
        use serde_json::json;
        let warning = |regex: &str| {
            let obj = json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                "metadata": {"name": "vs", "namespace": "ns"},
                "spec": {"hosts": ["app.example.com"],
                    "http": [{"match": [{"headers": {"cookie": {"regex": regex}}}]}]}});
            let json = json!({"items": [{"group": "networking.istio.io", "version": "v1",
                "kind": "VirtualService", "namespace": "ns", "name": "vs",
                "liveState": obj.to_string(), "targetState": "null"}]});
            let d = discover(&json.to_string()).remove(0);
            assert_eq!(d.route.unwrap().name, "a", "{regex}");
            d.warning
        };
        for first_only in [
            "^(.*?;)?(a=1)(;.*)?$",
            "^(.*;)?(a=1)(;.*)?$",
            "(.*?;)?(a=1)(;.*)?",
        ] {
            assert!(warning(first_only).is_some(), "{first_only}");
        }
        for anywhere in [
            "^(.*?; )?(a=1)(;.*)?$",
            r"^(.*?;\s*)?(a=1)(;.*)?$",
            "(^|.*; )a=1(;.*|$)",
        ] {
            assert_eq!(warning(anywhere), None, "{anywhere}");
        }
    }

    #[test]
    fn virtual_service_matches_table() {
        use serde_json::json;
        let vs = |headers: serde_json::Value| {
            let obj = json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "VirtualService",
                "metadata": {"name": "vs", "namespace": "ns"},
                "spec": {"hosts": ["app.example.com"], "http": [{"match": [{"headers": headers}]}]}});
            let json = json!({"items": [{"group": "networking.istio.io", "version": "v1alpha3",
                "kind": "VirtualService", "namespace": "ns", "name": "vs",
                "liveState": obj.to_string(), "targetState": "null"}]});
            discover(&json.to_string()).remove(0).route
        };
        let ok: &[(serde_json::Value, (RouteKind, &str, &str))] = &[
            (
                json!({"cookie": {"regex": r"(^|.*;\s*)svc\.pr=9($|;.*)"}}),
                (RouteKind::Cookie, "svc.pr", "9"),
            ),
            (
                json!({"Cookie": {"regex": "^(.*?; )?(a=1)(;.*)?$"}}),
                (RouteKind::Cookie, "a", "1"),
            ),
            (
                json!({"cookie": {"exact": "a=1"}}),
                (RouteKind::Cookie, "a", "1"),
            ),
            (
                json!({"x-pr": {"prefix": "pr-9"}}),
                (RouteKind::Header, "x-pr", "pr-9"),
            ),
            (
                json!({"x-pr": {"regex": r"^pr\-9$"}}),
                (RouteKind::Header, "x-pr", "pr-9"),
            ),
        ];
        for (headers, (kind, name, value)) in ok {
            let r = vs(headers.clone()).unwrap_or_else(|e| panic!("{headers}: {e}"));
            assert_eq!(
                (r.kind, r.name.as_str(), r.value.as_str()),
                (*kind, *name, *value),
                "{headers}"
            );
            assert_eq!(r.hosts, ["app.example.com"]);
        }
        let refused: &[(serde_json::Value, &str)] = &[
            (
                json!({"cookie": {"regex": "^(.*?;)?(a=[0-9]+)(;.*)?$"}}),
                "uses the operator '['",
            ),
            (json!({"cookie": {"prefix": "a="}}), "cookie prefix match"),
            (json!({"cookie": {"exact": "a"}}), "without NAME=VALUE"),
            (json!({"x-pr": {"regex": "pr-.*"}}), "uses the operator '*'"),
            (json!({"x-pr": {}}), "without exact, prefix or regex"),
            (json!({"x-pr": {"exact": "a;b"}}), "cannot be sent"),
        ];
        for (headers, want) in refused {
            let err = vs(headers.clone()).unwrap_err();
            assert!(err.contains(want), "{headers}: {err}");
        }
    }
}
