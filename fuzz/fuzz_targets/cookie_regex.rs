//! Fuzzes the mesh cookie-regex parsers: the Linkerd / Gateway API form
//! (`core::routes::parse_cookie_regex`) and the Istio VirtualService path (through
//! `core::routes::from_managed_resources`). No panic; whatever is accepted is a valid RFC 6265
//! pair; a Linkerd-form regex (compiled with the `regex` crate, as Linkerd matches it) finds
//! the cookie anywhere in a Cookie header; an Istio route accepted without a warning does too
//! when matched in full, as Envoy does.
#![no_main]

use companion::argocd::model::ManagedResource;
use companion::core::cookie::validate_pair;
use companion::core::routes::{from_managed_resources, parse_cookie_regex};
use libfuzzer_sys::fuzz_target;
use protocol::RouteKind;

fuzz_target!(|data: &[u8]| {
    let Ok(pattern) = std::str::from_utf8(data) else {
        return;
    };
    linkerd(pattern);
    istio(pattern);
});

fn linkerd(pattern: &str) {
    let Ok((name, value)) = parse_cookie_regex(pattern) else {
        return;
    };
    validate_pair(&name, &value).expect("an accepted pair is a valid cookie");
    let re = regex::Regex::new(pattern).expect("an accepted pattern is a valid regex");
    let header = format!("a=1; {name}={value}; z=2");
    assert!(re.is_match(&header), "{pattern} does not match {header}");
    assert!(re.is_match(&format!("{name}={value}")), "{pattern}");
}

fn istio(pattern: &str) {
    let obj = serde_json::json!({
        "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "vs", "namespace": "ns"},
        "spec": {"hosts": ["app.example.com"],
            "http": [{"match": [{"headers": {"cookie": {"regex": pattern}}}]}]}
    });
    let resource = ManagedResource {
        group: "networking.istio.io".into(),
        kind: "VirtualService".into(),
        namespace: "ns".into(),
        name: "vs".into(),
        version: "v1".into(),
        live_state: Some(obj.to_string()),
        target_state: Some("null".into()),
    };
    for d in from_managed_resources(&[resource]) {
        let Ok(route) = d.route else { continue };
        assert_eq!(route.kind, RouteKind::Cookie);
        validate_pair(&route.name, &route.value).expect("an accepted pair is a valid cookie");
        if d.warning.is_some() {
            continue;
        }
        // Envoy (RE2) matches the whole header value.
        let re = regex::Regex::new(&format!("^(?:{pattern})$"))
            .expect("an accepted pattern is a valid regex");
        let pair = format!("{}={}", route.name, route.value);
        let header = format!("a=1; {pair}; z=2");
        assert!(re.is_match(&header), "{pattern} does not match {header}");
        assert!(re.is_match(&pair), "{pattern} does not match {pair}");
    }
}
