//! Linkerd (`policy.linkerd.io`) and Gateway API (`gateway.networking.k8s.io`) HTTPRoutes:
//! each rule match whose headers select one cookie by a regex of the form
//! `(^|.*; )NAME=VALUE(;.*|$)` gives a cookie route; a match on one other header (exact, or a
//! literal regex) gives a header route. Hosts are the route's exact `hostnames`.

use protocol::{Route, RouteKind, RouteSource};
use serde_json::Value;

use super::{REGEX_FORM, header_route, literal_regex, parse_cookie_regex, unique};
use crate::core::cookie::validate_host;

/// The cookie routes of an HTTPRoute: one entry per cookie header match, or one `Err` saying
/// why there is none.
pub(super) fn cookie_routes(obj: &Value) -> Vec<Result<Route, String>> {
    let spec = &obj["spec"];
    // Gateway API allows wildcard hostnames; those cannot carry an exact-host cookie.
    let hosts = unique(
        spec["hostnames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str().and_then(|h| validate_host(h).ok())),
    );
    let mut out = Vec::new();
    let matches = spec["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rule| rule["matches"].as_array().into_iter().flatten());
    for m in matches {
        let headers: Vec<&Value> = m["headers"].as_array().into_iter().flatten().collect();
        let is_cookie = |h: &&Value| {
            h["name"]
                .as_str()
                .is_some_and(|n| n.eq_ignore_ascii_case("cookie"))
        };
        let cookies: Vec<&Value> = headers.iter().copied().filter(is_cookie).collect();
        let Some(cookie) = cookies.first() else {
            // A header route: one header, exact or a literal regex (several are AND-ed, and
            // one route sets one header).
            if let [header] = headers.as_slice() {
                out.push(header_match(header, &hosts));
            } else if headers.len() > 1 {
                out.push(Err(
                    "has a match that needs several headers at once, which one route cannot set"
                        .to_string(),
                ));
            }
            continue;
        };
        let others: Vec<&str> = headers
            .iter()
            .filter(|h| !is_cookie(h))
            .filter_map(|h| h["name"].as_str())
            .collect();
        out.push((|| {
            if cookies.len() > 1 {
                return Err("has a match that needs two cookies at once, which one route cannot set".to_string());
            }
            if !others.is_empty() {
                return Err(format!(
                    "has a cookie match that also needs the header {}, which a cookie alone cannot satisfy",
                    others.join(", ")
                ));
            }
            let kind = cookie["type"].as_str().unwrap_or("Exact");
            if kind != "RegularExpression" {
                return Err(format!(
                    "has a cookie match of type {kind}: only RegularExpression matches of the form {REGEX_FORM} are understood"
                ));
            }
            let pattern = cookie["value"].as_str().unwrap_or_default();
            let (name, value) = parse_cookie_regex(pattern)?;
            Ok(Route {
                kind: RouteKind::Cookie,
                name,
                value,
                hosts: hosts.clone(),
                source: RouteSource::Discovery,
            })
        })());
    }
    if out.is_empty() {
        out.push(Err(
            "has no cookie header match of type RegularExpression".to_string()
        ));
    }
    out
}

/// A header route from one HTTPRoute header match: `Exact` (the default type) gives the
/// value as is; a `RegularExpression` only when it is a literal.
fn header_match(header: &Value, hosts: &[String]) -> Result<Route, String> {
    let name = header["name"].as_str().unwrap_or_default().trim();
    let raw = header["value"].as_str().unwrap_or_default();
    let value = match header["type"].as_str().unwrap_or("Exact") {
        "Exact" => raw.to_string(),
        "RegularExpression" => {
            literal_regex(raw).map_err(|why| format!("has a header match on {name}: {why}"))?
        }
        other => {
            return Err(format!(
                "has a header match on {name} of type {other}, which Preview Switch cannot send"
            ));
        }
    };
    header_route(name, &value, hosts.to_vec())
}

#[cfg(test)]
mod tests {
    use protocol::{RouteKind, RouteSource};
    use serde_json::json;

    use super::super::tests::{COURSES_REGEX, LINKERD_V1BETA3, cookie, managed, yaml};
    use crate::core::routes::{Discovered, from_managed_resources};

    const LINKERD_V1BETA2: &str = include_str!(
        "../../../../tests/fixtures/linkerd/httproute-policy.linkerd.io-v1beta2-header-routing-smiley-a-b.yaml"
    );
    const GATEWAY_V1: &str = include_str!(
        "../../../../tests/fixtures/linkerd/httproute-gateway.networking.k8s.io-v1-header-matching-conformance.yaml"
    );

    #[test]
    fn real_linkerd_and_gateway_routes_give_header_routes_or_say_why_not() {
        // The smiley router routes on weights only: no cookie and no header to send.
        let found = from_managed_resources(&[managed(&yaml(LINKERD_V1BETA3))]);
        assert_eq!(found[0].resource, "HTTPRoute faces/smiley-router");
        assert_eq!(
            found[0].route,
            Err("has no cookie header match of type RegularExpression".into())
        );
        // The real header-routing fixture: `x-faces-user: testuser` is a header route.
        let found = from_managed_resources(&[managed(&yaml(LINKERD_V1BETA2))]);
        let route = found[0].route.clone().unwrap();
        assert_eq!(
            (route.kind, route.name.as_str(), route.value.as_str()),
            (RouteKind::Header, "x-faces-user", "testuser")
        );
        // The Gateway API conformance route: one header per match is a route; the match
        // that needs version AND color at once is refused with the reason.
        let found = from_managed_resources(&[managed(&yaml(GATEWAY_V1))]);
        let headers: Vec<String> = found
            .iter()
            .filter_map(|d| d.route.as_ref().ok())
            .map(|r| format!("{}: {}", r.name, r.value))
            .collect();
        assert_eq!(
            headers,
            [
                "version: one",
                "version: two",
                "color: blue",
                "color: green",
                "color: red",
                "color: yellow"
            ]
        );
        assert!(found.iter().any(|d| {
            d.route
                .as_ref()
                .is_err_and(|e| e.contains("needs several headers at once"))
        }));
    }

    #[test]
    fn linkerd_v1beta3_route_with_a_cookie_regex_is_discovered() {
        let mut obj = yaml(LINKERD_V1BETA3);
        obj["spec"]["rules"][0]["matches"] = json!([{"headers": [{"name": "Cookie", "type": "RegularExpression", "value": COURSES_REGEX}]}]);
        let found = from_managed_resources(&[managed(&obj)]);
        assert_eq!(
            found,
            [Discovered {
                resource: "HTTPRoute faces/smiley-router".into(),
                route: Ok(cookie(
                    "team-courses-fe-pr",
                    "123",
                    &[],
                    RouteSource::Discovery
                )),
                note: None,
                warning: None,
            }]
        );
    }

    #[test]
    fn linkerd_v1beta2_cookie_match_next_to_another_header_is_refused() {
        // The real fixture's match needs x-faces-user; with a cookie added to the same match
        // both would be required, and Preview Switch only sets the cookie.
        let mut obj = yaml(LINKERD_V1BETA2);
        obj["spec"]["rules"][0]["matches"][0]["headers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "cookie", "type": "RegularExpression", "value": COURSES_REGEX}));
        let found = from_managed_resources(&[managed(&obj)]);
        let err = found[0].route.clone().unwrap_err();
        assert!(err.contains("also needs the header x-faces-user"), "{err}");
    }

    #[test]
    fn gateway_route_cookie_match_takes_the_exact_hostnames() {
        let mut obj = yaml(GATEWAY_V1);
        obj["spec"]["hostnames"] =
            json!(["Courses.Example.com", "*.example.com", "api.example.com"]);
        obj["spec"]["rules"][1]["matches"] = json!([
            {"headers": [{"name": "cookie", "type": "RegularExpression", "value": r"(^|.*; )team\-api\-pr=7(;.*|$)"}]},
            {"headers": [{"name": "cookie", "value": "team-api-pr=7"}]},
        ]);
        let found: Vec<Discovered> = from_managed_resources(&[managed(&obj)])
            .into_iter()
            .filter(|d| {
                d.route
                    .as_ref()
                    .map_or_else(|e| e.contains("cookie"), |r| r.kind == RouteKind::Cookie)
            })
            .collect();
        assert_eq!(
            found[0].route,
            Ok(cookie(
                "team-api-pr",
                "7",
                &["courses.example.com", "api.example.com"],
                RouteSource::Discovery
            ))
        );
        assert!(
            found[1]
                .route
                .clone()
                .unwrap_err()
                .contains("of type Exact")
        );
    }
}
