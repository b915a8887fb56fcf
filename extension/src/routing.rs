//! What the extension is willing to put into the browser: cookie names, values and hosts
//! re-validated here by the one policy the companion also applies (`protocol::policy`; never
//! trusting the companion alone), and the exact per-tab
//! `declarativeNetRequest` session rule that carries a route. Pure data, no browser calls.

use protocol::Route;
use protocol::policy;
use serde::{Deserialize, Serialize};

/// Why a route from the companion was refused; shown to the user as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A cookie name, by the one policy ([`protocol::policy::check_cookie_name`]): an RFC 6265
/// token without a reserved `__Host-`/`__Secure-` prefix, so it can never smuggle a second
/// cookie or attribute, nor touch a site's protected cookies.
pub fn check_cookie_name(name: &str) -> Result<(), Refusal> {
    policy::check_cookie_name(name).map_err(|why| refused("cookie", why))
}

/// A cookie value, by the one policy: RFC 6265 `cookie-octet`s only.
pub fn check_cookie_value(value: &str) -> Result<(), Refusal> {
    policy::check_cookie_value(value).map_err(|why| refused("cookie", why))
}

/// An exact host name, `localhost` or a dotted-quad IPv4 address, by the one policy with the
/// extension's subset of the Public Suffix List ([`policy::PUBLIC_SUFFIXES`]). Returns it
/// lower-cased.
pub fn check_host(host: &str) -> Result<String, Refusal> {
    policy::check_host(host, &policy::KnownSuffixes).map_err(|why| refused("host", why))
}

/// A whole route by the one policy ([`policy::check_route`]): name and value by kind, the
/// header allow-list, one to [`policy::MAX_HOSTS_PER_ROUTE`] hosts.
pub fn check_route(route: &Route) -> Result<Route, Refusal> {
    policy::check_route(route, &policy::KnownSuffixes).map_err(|why| refused("route", why))
}

fn refused(what: &str, why: String) -> Refusal {
    Refusal(format!("refused {what}: {why}: fix the route in Argo CD"))
}

/// The resource types a tab rule covers. Listed explicitly: Chromium leaves `main_frame`
/// out when the condition names none (PLATFORM B).
pub const RESOURCE_TYPES: [&str; 13] = [
    "main_frame",
    "sub_frame",
    "xmlhttprequest",
    "websocket",
    "script",
    "stylesheet",
    "image",
    "font",
    "media",
    "other",
    "ping",
    "csp_report",
    "object",
];

/// A `declarativeNetRequest` session rule, field for field as Chromium takes and returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRule {
    pub id: u32,
    #[serde(default = "one")]
    pub priority: u32,
    pub action: RuleAction,
    pub condition: RuleCondition,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleAction {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_headers: Vec<HeaderOp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderOp {
    pub header: String,
    pub operation: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleCondition {
    #[serde(default)]
    pub tab_ids: Vec<i32>,
    #[serde(default)]
    pub request_domains: Vec<String>,
    /// Narrows `requestDomains`, which also matches every subdomain, to exactly the route's
    /// hosts, as the host-only cookie of domain mode does (RE2 syntax, any port).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex_filter: Option<String>,
    #[serde(default)]
    pub resource_types: Vec<String>,
}

impl SessionRule {
    /// The `name=value` pair the rule appends to the Cookie header, if it is a cookie rule.
    pub fn cookie_pair(&self) -> Option<(&str, &str)> {
        let op = self
            .action
            .request_headers
            .iter()
            .find(|h| h.header.eq_ignore_ascii_case("cookie") && h.operation == "append")?;
        op.value.as_deref()?.split_once('=')
    }
}

impl SessionRule {
    /// The route the rule carries: the cookie pair it appends, or the header it sets with
    /// its value (header names lower-cased, as the rule holds them).
    pub fn route_pair(&self) -> Option<(&str, &str)> {
        if let Some(pair) = self.cookie_pair() {
            return Some(pair);
        }
        let op = self
            .action
            .request_headers
            .iter()
            .find(|h| h.operation == "set")?;
        Some((op.header.as_str(), op.value.as_deref()?))
    }
}

/// The rule id for (tab, service): derived, not stored, so that switching always replaces
/// the same rule and a restarted worker finds it again. FNV-1a, kept positive and non-zero.
pub fn rule_id(tab_id: i32, service: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in tab_id
        .to_le_bytes()
        .iter()
        .chain(&[0])
        .chain(service.as_bytes())
    {
        hash ^= u32::from(*byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash & 0x7fff_ffff).max(1)
}

/// The session rule routing one tab's requests to `hosts`: it *appends* `name=value` to the
/// Cookie header (`set` would drop the site's own cookies; PLATFORM B). A header route uses
/// `set` on its own header, which touches no other header.
pub fn tab_rule(
    tab_id: i32,
    service: &str,
    header: Option<&str>,
    name: &str,
    value: &str,
    hosts: &[String],
) -> SessionRule {
    let op = match header {
        None => HeaderOp {
            header: "cookie".into(),
            operation: "append".into(),
            value: Some(format!("{name}={value}")),
        },
        Some(h) => HeaderOp {
            header: h.to_ascii_lowercase(),
            operation: "set".into(),
            value: Some(value.into()),
        },
    };
    SessionRule {
        id: rule_id(tab_id, service),
        priority: 1,
        action: RuleAction {
            kind: "modifyHeaders".into(),
            request_headers: vec![op],
        },
        condition: RuleCondition {
            tab_ids: vec![tab_id],
            request_domains: hosts.to_vec(),
            regex_filter: Some(exact_hosts_filter(hosts)),
            resource_types: RESOURCE_TYPES.iter().map(|s| s.to_string()).collect(),
        },
    }
}

/// `^(https?|wss?)://(a\.test|b\.test)(:[0-9]+)?[/?#]`: a URL on exactly one of `hosts`.
/// The hosts passed [`check_host`], so letters, digits, '-' and '.' are all they hold and
/// escaping the dots is enough.
fn exact_hosts_filter(hosts: &[String]) -> String {
    let alternatives: Vec<String> = hosts.iter().map(|h| h.replace('.', "\\.")).collect();
    format!(
        "^(https?|wss?)://({})(:[0-9]+)?[/?#]",
        alternatives.join("|")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checks_are_the_policys_with_a_reason_and_the_fix() {
        assert_eq!(check_cookie_name("team-courses-fe-pr"), Ok(()));
        assert_eq!(check_cookie_value("dev-1a2b3c4"), Ok(()));
        assert_eq!(
            check_host("App.Example.test"),
            Ok("app.example.test".into())
        );
        for refusal in [
            check_cookie_name("a;b").unwrap_err(),
            check_cookie_value("1 2").unwrap_err(),
            check_host("*.example.com").unwrap_err(),
        ] {
            assert!(refusal.0.starts_with("refused "), "{refusal}");
            assert!(
                refusal.0.ends_with(": fix the route in Argo CD"),
                "{refusal}"
            );
        }
    }

    #[test]
    fn tab_rule_appends_the_cookie_for_one_tab_on_every_resource_type() {
        let rule = tab_rule(
            7,
            "courses-fe",
            None,
            "team-courses-fe-pr",
            "123",
            &["app.test".into()],
        );
        let json = serde_json::to_value(&rule).unwrap();
        assert_eq!(
            json["action"],
            serde_json::json!({"type": "modifyHeaders", "requestHeaders": [
                {"header": "cookie", "operation": "append", "value": "team-courses-fe-pr=123"}]})
        );
        assert_eq!(json["condition"]["tabIds"], serde_json::json!([7]));
        assert_eq!(
            json["condition"]["requestDomains"],
            serde_json::json!(["app.test"])
        );
        let types = json["condition"]["resourceTypes"].as_array().unwrap();
        for t in ["main_frame", "xmlhttprequest", "websocket", "sub_frame"] {
            assert!(types.iter().any(|v| v == t), "{t} missing");
        }
        assert_eq!(rule.cookie_pair(), Some(("team-courses-fe-pr", "123")));
    }

    #[test]
    fn tab_rules_reach_exactly_the_route_hosts_not_their_subdomains() {
        let hosts = ["app.test".to_string(), "www.app.test".to_string()];
        let rule = tab_rule(7, "fe", None, "team-fe-pr", "1", &hosts);
        let filter = rule.condition.regex_filter.as_deref().unwrap();
        let re = regex::Regex::new(filter).unwrap();
        for url in [
            "https://app.test/",
            "http://app.test:8080/x?y",
            "wss://www.app.test/socket",
            "https://app.test?q",
        ] {
            assert!(re.is_match(url), "{url} should be routed");
        }
        for url in [
            "https://api.app.test/",
            "https://app.test.evil.example/",
            "https://appXtest/",
            "ftp://app.test/",
            "https://evil.example/?next=https://app.test/",
        ] {
            assert!(!re.is_match(url), "{url} must not be routed");
        }
        let json = serde_json::to_value(&rule).unwrap();
        assert_eq!(json["condition"]["regexFilter"], filter);
    }

    #[test]
    fn rule_ids_are_stable_per_tab_and_service_and_distinct_otherwise() {
        assert_eq!(rule_id(1, "a"), rule_id(1, "a"));
        assert_ne!(rule_id(1, "a"), rule_id(2, "a"));
        assert_ne!(rule_id(1, "a"), rule_id(1, "b"));
        assert!(rule_id(1, "a") > 0 && rule_id(1, "a") <= i32::MAX as u32);
    }
}
