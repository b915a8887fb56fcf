//! ingress-nginx canary Ingresses (PLATFORM E): `canary: "true"` plus `canary-by-cookie`
//! (the canary gets requests whose cookie is `always`) and/or `canary-by-header` (the
//! header's `-value`, else a literal `-pattern`, else `always`). Hosts come from the rules.

use protocol::{Route, RouteKind, RouteSource};
use serde_json::Value;

use super::{header_route, literal_regex, unique};
use crate::core::cookie::{validate_host, validate_pair};

pub(super) const NGINX_CANARY: &str = "nginx.ingress.kubernetes.io/canary";
pub(super) const NGINX_BY_COOKIE: &str = "nginx.ingress.kubernetes.io/canary-by-cookie";
pub(super) const NGINX_BY_HEADER: &str = "nginx.ingress.kubernetes.io/canary-by-header";
pub(super) const NGINX_BY_HEADER_VALUE: &str = "nginx.ingress.kubernetes.io/canary-by-header-value";
pub(super) const NGINX_BY_HEADER_PATTERN: &str =
    "nginx.ingress.kubernetes.io/canary-by-header-pattern";
/// The cookie or header value that makes ingress-nginx send a request to the canary.
const NGINX_ALWAYS: &str = "always";
/// The spellings Go's `strconv.ParseBool` reads as true.
const GO_TRUE: &[&str] = &["1", "t", "T", "TRUE", "true", "True"];

/// The routes of one Ingress: the cookie route and/or the header route of a canary (cookie
/// first: it works in both extension modes), or one `Err` saying why there is none.
pub(super) fn ingress_canary(obj: &Value) -> Vec<Result<Route, String>> {
    let ann = &obj["metadata"]["annotations"];
    let get = |k: &str| ann[k].as_str().map(str::trim).filter(|s| !s.is_empty());
    // ingress-nginx reads the annotation with Go's strconv.ParseBool.
    if !get(NGINX_CANARY).is_some_and(|v| GO_TRUE.contains(&v)) {
        return vec![Err(format!(
            "is not an ingress-nginx canary ({NGINX_CANARY} is not \"true\")"
        ))];
    }
    let hosts = unique(
        obj["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|rule| rule["host"].as_str().and_then(|h| validate_host(h).ok())),
    );
    let mut out = Vec::new();
    if let Some(name) = get(NGINX_BY_COOKIE) {
        out.push(
            validate_pair(name, NGINX_ALWAYS)
                .map_err(|why| format!("has {why}"))
                .map(|()| Route {
                    kind: RouteKind::Cookie,
                    name: name.to_string(),
                    value: NGINX_ALWAYS.to_string(),
                    hosts: hosts.clone(),
                    source: RouteSource::Discovery,
                }),
        );
    }
    if let Some(name) = get(NGINX_BY_HEADER) {
        // ingress-nginx checks `-value` first and only then `-pattern`.
        let value = match (get(NGINX_BY_HEADER_VALUE), get(NGINX_BY_HEADER_PATTERN)) {
            (Some(v), _) => Ok(v.to_string()),
            (None, Some(p)) => literal_regex(p).map_err(|why| {
                format!("has {NGINX_BY_HEADER_PATTERN} that is not a literal ({why}): set {NGINX_BY_HEADER_VALUE} instead")
            }),
            (None, None) => Ok(NGINX_ALWAYS.to_string()),
        };
        out.push(value.and_then(|v| header_route(name, &v, hosts.clone())));
    }
    if out.is_empty() {
        out.push(Err(format!(
            "is a canary without {NGINX_BY_COOKIE} or {NGINX_BY_HEADER} (weight-only canaries cannot be chosen per browser)"
        )));
    }
    out
}

#[cfg(test)]
mod tests {
    use protocol::RouteKind;

    use crate::argocd::model::ManagedResources;
    use crate::core::routes::{Discovered, from_managed_resources};

    fn discover(json: &str) -> Vec<(RouteKind, String, String, Vec<String>)> {
        let body: ManagedResources = serde_json::from_str(json).unwrap();
        let found: Vec<Discovered> = from_managed_resources(&body.items);
        found
            .into_iter()
            .map(|d| match d.route {
                Ok(r) => (r.kind, r.name, r.value, r.hosts),
                Err(e) => (RouteKind::Header, "ERR".into(), e, Vec::new()),
            })
            .collect()
    }

    #[test]
    fn canary_by_cookie_routes_with_always_on_the_rule_hosts() {
        let found = discover(include_str!(
            "../../../../tests/fixtures/nginx/managed-resources-canary-by-cookie.json"
        ));
        assert_eq!(
            found,
            [(
                RouteKind::Cookie,
                "shop_pr_15".to_string(),
                "always".to_string(),
                vec![
                    "shop.dev.example.com".to_string(),
                    "www.shop.dev.example.com".to_string()
                ]
            )]
        );
    }

    #[test]
    fn canary_by_header_pattern_is_unescaped_and_weight_canaries_are_explained() {
        let found = discover(include_str!(
            "../../../../tests/fixtures/nginx/managed-resources-canary-by-header-pattern.json"
        ));
        assert_eq!(
            (found[0].0, found[0].1.as_str(), found[0].2.as_str()),
            (RouteKind::Header, "X-Shop-Preview", "pr-16")
        );
        assert_eq!(found[1].1, "ERR");
        assert!(
            found[1].2.contains("weight-only canaries"),
            "{}",
            found[1].2
        );
    }

    #[test]
    fn canary_by_header_value_and_cookie_gives_both_routes() {
        let found = discover(include_str!(
            "../../../../tests/fixtures/nginx/managed-resources-canary-by-header-value-and-cookie.json"
        ));
        let routes: Vec<(RouteKind, &str, &str)> = found
            .iter()
            .map(|(k, n, v, _)| (*k, n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            routes,
            [
                (RouteKind::Cookie, "shop_pr_17", "always"),
                (RouteKind::Header, "X-Shop-Preview", "pr-17"),
            ]
        );
    }

    #[test]
    fn canary_annotation_is_read_as_go_parse_bool_reads_it() {
        let canary = |v: &str| {
            let obj = serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                "metadata": {"name": "c", "namespace": "n", "annotations": {
                    super::NGINX_CANARY: v, super::NGINX_BY_COOKIE: "web-pr-5"}},
                "spec": {"rules": [{"host": "web.example.com"}]}});
            super::ingress_canary(&obj).remove(0)
        };
        for yes in ["true", "True", "TRUE", "1", "t", "T"] {
            let r = canary(yes).unwrap_or_else(|e| panic!("{yes}: {e}"));
            assert_eq!((r.name.as_str(), r.value.as_str()), ("web-pr-5", "always"));
        }
        for no in ["false", "0", "yes", "on", "tRUE", ""] {
            let err = canary(no).unwrap_err();
            assert!(
                err.contains("is not an ingress-nginx canary"),
                "{no}: {err}"
            );
        }
    }

    #[test]
    fn a_pattern_that_is_not_a_literal_says_to_set_the_value() {
        let obj = serde_json::json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": "c", "namespace": "n", "annotations": {
                super::NGINX_CANARY: "true", super::NGINX_BY_HEADER: "X-Pr",
                super::NGINX_BY_HEADER_PATTERN: "^pr-[0-9]+$"}}});
        let routes = super::ingress_canary(&obj);
        let err = routes[0].clone().unwrap_err();
        assert!(
            err.contains("is not a literal") && err.contains("canary-by-header-value instead"),
            "{err}"
        );
    }
}
