//! Hostile input to the extension's pure logic, through its public API only: a list (from a
//! compromised or buggy companion) whose routes carry cookie names or values that would
//! smuggle a second cookie or an attribute, wildcard / range / URL hosts, or no hosts; forged
//! events for previews that are not listed; and PR numbers that are not a u64. Each must be
//! refused with a message for the user and no browser effect that sets anything.

use preview_switch_extension::routing;
use preview_switch_extension::state::{Choice, Config, Effect, Event, State};
use protocol::Preview;
use serde_json::json;

const TAB: i32 = 7;
const SITE: &str = "x.demo.test";

fn preview(pr: u64, kind: &str, name: &str, value: &str, hosts: &[&str]) -> Preview {
    serde_json::from_value(json!({
        "server": "https://argocd.test", "context": "dev", "app": format!("x-pr-{pr}"),
        "namespace": "argocd", "service": "x", "pr": pr,
        "sync": null, "health": null, "phase": null, "revision": null, "image_tag": null,
        "created_at": null, "links": {"argocd": null, "pull_request": null},
        "routes": [{"kind": kind, "name": name, "value": value, "hosts": hosts, "source": "annotation"}],
        "unroutable": null
    }))
    .expect("a well-formed preview")
}

/// A popup on `SITE` with everything read and `previews` listed, fresh.
fn ready(previews: Vec<Preview>) -> State {
    let mut st = State::new(Config::default());
    st.update(Event::PopupOpened {
        tab_id: TAB,
        url: format!("https://{SITE}/page"),
        now_secs: 1_000,
    });
    st.update(Event::AppliedLoaded { applied: vec![] });
    st.update(Event::CookiesRead {
        host: SITE.into(),
        cookies: vec![],
    });
    st.update(Event::RulesRead { rules: vec![] });
    st.update(Event::ListArrived {
        previews,
        age_secs: 0,
        stale: false,
    });
    st
}

/// Effects that put something into the browser (or ask to be allowed to).
fn sets_anything(fx: &[Effect]) -> Option<&Effect> {
    fx.iter().find(|e| {
        matches!(
            e,
            Effect::SetCookie { .. }
                | Effect::AddSessionRule { .. }
                | Effect::RequestHostPermission { .. }
                | Effect::OpenTab { .. }
        )
    })
}

/// Every way a user (or a forged permission answer) could try to apply PR 1 of service x.
fn attempts() -> Vec<Event> {
    let mut out = Vec::new();
    for choice in [Choice::Domain { pr: 1 }, Choice::Tab { pr: 1 }] {
        out.push(Event::Choose {
            service: "x".into(),
            choice,
        });
        // As if the permission prompt had been answered "yes" without `Choose` checking.
        out.push(Event::HostPermission {
            service: "x".into(),
            choice,
            open: None,
            granted: true,
        });
    }
    out.push(Event::OpenWithPreview {
        service: "x".into(),
        pr: 1,
    });
    out
}

fn assert_refused(what: &str, route: Preview) {
    for attempt in attempts() {
        let mut st = ready(vec![route.clone()]);
        let before = st.messages.len();
        let fx = st.update(attempt.clone());
        assert_eq!(
            sets_anything(&fx),
            None,
            "{what}: {attempt:?} set something: {fx:?}"
        );
        let told = &st.messages[before..];
        assert!(
            told.iter()
                .any(|m| m.contains("refused") || m.contains("not switched")),
            "{what}: {attempt:?} gave no reason: {told:?}"
        );
    }
}

#[test]
fn routes_with_smuggling_names_values_or_hosts_are_refused_with_nothing_set() {
    let long_name = "n".repeat(300);
    let long_value = "v".repeat(5000);
    let cases: Vec<(&str, &str, &str, Vec<&str>)> = vec![
        ("name with ;", "a;b", "1", vec![SITE]),
        ("name with =", "a=b", "1", vec![SITE]),
        ("name with a space", "a b", "1", vec![SITE]),
        ("name with CR/LF", "a\r\nSet-Cookie: y=2", "1", vec![SITE]),
        ("name with NUL", "a\0b", "1", vec![SITE]),
        ("non-ASCII name", "cöokie", "1", vec![SITE]),
        (
            "attributes in the name",
            "x=1; Domain=evil.test",
            "1",
            vec![SITE],
        ),
        ("name over 256 bytes", &long_name, "1", vec![SITE]),
        ("empty name", "", "1", vec![SITE]),
        (
            "attributes in the value",
            "team-x-pr",
            "1; Domain=evil.test",
            vec![SITE],
        ),
        ("value with CR/LF", "team-x-pr", "1\r\nX: y", vec![SITE]),
        ("value with NUL", "team-x-pr", "1\0", vec![SITE]),
        ("non-ASCII value", "team-x-pr", "ü", vec![SITE]),
        ("value with a space", "team-x-pr", "1 2", vec![SITE]),
        ("value with a quote", "team-x-pr", "\"1\"", vec![SITE]),
        ("value over 4 KB", "team-x-pr", &long_value, vec![SITE]),
        ("host *", "team-x-pr", "1", vec!["*"]),
        ("host *.com", "team-x-pr", "1", vec!["*.com"]),
        ("wildcard host", "team-x-pr", "1", vec!["*.demo.test"]),
        ("host range", "team-x-pr", "1", vec!["10.0.0.0/8"]),
        ("IPv6 literal", "team-x-pr", "1", vec!["[::1]"]),
        (
            "host as a URL",
            "team-x-pr",
            "1",
            vec!["https://evil.test/"],
        ),
        ("host with a port", "team-x-pr", "1", vec!["evil.test:443"]),
        ("host with a path", "team-x-pr", "1", vec!["evil.test/x"]),
        ("non-ASCII host", "team-x-pr", "1", vec!["évil.test"]),
        ("host with NUL", "team-x-pr", "1", vec!["evil.test\0"]),
        (
            "one bad host among good",
            "team-x-pr",
            "1",
            vec![SITE, "*.test"],
        ),
        ("no hosts at all", "team-x-pr", "1", vec![]),
        ("a top-level name", "team-x-pr", "1", vec!["com"]),
        ("a public suffix", "team-x-pr", "1", vec!["co.uk"]),
        (
            "a shared hosting suffix",
            "team-x-pr",
            "1",
            vec!["github.io"],
        ),
    ];
    assert!(cases.len() >= 25);
    for (what, name, value, hosts) in cases {
        assert_refused(what, preview(1, "cookie", name, value, &hosts));
    }
}

#[test]
fn header_routes_with_bad_names_or_values_are_refused_too() {
    for (what, name, value) in [
        ("header name with CR/LF", "x-pr\r\nCookie", "1"),
        ("header name with a colon", "x-pr: 1\r\nx", "1"),
        ("header value with CR/LF", "x-pr", "1\r\nCookie: a=b"),
        ("the site's Cookie header", "Cookie", "team-x-pr=1"),
        (
            "the site's Authorization header",
            "authorization",
            "Bearer x",
        ),
        ("a browser-owned header", "Sec-Fetch-Site", "none"),
        ("a proxy header", "Proxy-Authorization", "x"),
    ] {
        assert_refused(what, preview(1, "header", name, value, &[SITE]));
    }
}

#[test]
fn choices_for_previews_that_are_not_listed_are_refused() {
    let good = preview(1, "cookie", "team-x-pr", "1", &[SITE]);
    for (service, pr) in [("x", 2), ("x", u64::MAX), ("y", 1), ("x;y", 1)] {
        for choice in [Choice::Domain { pr }, Choice::Tab { pr }] {
            for event in [
                Event::Choose {
                    service: service.into(),
                    choice,
                },
                Event::HostPermission {
                    service: service.into(),
                    choice,
                    open: None,
                    granted: true,
                },
            ] {
                let mut st = ready(vec![good.clone()]);
                let fx = st.update(event.clone());
                assert_eq!(sets_anything(&fx), None, "{event:?}: {fx:?}");
            }
        }
    }
}

#[test]
fn a_valid_route_is_set_only_on_the_hosts_the_companion_listed() {
    let good = preview(
        1,
        "cookie",
        "team-x-pr",
        "1",
        &["a.demo.test", "b.demo.test"],
    );
    let mut st = ready(vec![good]);
    // The tab is on SITE, which the route does not list.
    let fx = st.update(Event::Choose {
        service: "x".into(),
        choice: Choice::Domain { pr: 1 },
    });
    let Some(Effect::RequestHostPermission { origins, .. }) = fx.first() else {
        panic!("{fx:?}")
    };
    assert_eq!(
        origins,
        &[
            "https://a.demo.test/*",
            "http://a.demo.test/*",
            "https://b.demo.test/*",
            "http://b.demo.test/*"
        ]
    );
    let fx = st.update(Event::HostPermission {
        service: "x".into(),
        choice: Choice::Domain { pr: 1 },
        open: None,
        granted: true,
    });
    let set: Vec<(&str, &str, &str)> = fx
        .iter()
        .filter_map(|e| match e {
            Effect::SetCookie {
                url, name, value, ..
            } => Some((url.as_str(), name.as_str(), value.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(
        set,
        [
            ("https://a.demo.test/", "team-x-pr", "1"),
            ("https://b.demo.test/", "team-x-pr", "1")
        ]
    );
}

#[test]
fn pr_numbers_that_are_not_a_u64_never_make_a_preview() {
    let base = serde_json::to_value(preview(1, "cookie", "team-x-pr", "1", &[SITE])).unwrap();
    for pr in [json!(-1), json!(1e30), json!("12"), json!(1.5), json!(null)] {
        let mut v = base.clone();
        v["pr"] = pr.clone();
        assert!(
            serde_json::from_value::<Preview>(v).is_err(),
            "pr {pr} was accepted"
        );
    }
    // 2^64: one past u64::MAX, as text (serde_json's Value cannot hold it).
    let text = serde_json::to_string(&base).unwrap();
    assert!(text.contains("\"pr\":1,"));
    let huge = text.replace("\"pr\":1,", "\"pr\":18446744073709551616,");
    assert!(serde_json::from_str::<Preview>(&huge).is_err());
}

#[test]
fn the_validators_refuse_each_smuggling_character() {
    for c in [';', '=', ' ', '\r', '\n', '\0', ',', '"', '\\', 'é'] {
        let name = format!("a{c}b");
        assert!(routing::check_cookie_name(&name).is_err(), "name {name:?}");
        let host = format!("a{c}b.test");
        assert!(routing::check_host(&host).is_err(), "host {host:?}");
    }
    for c in [';', ' ', '\r', '\n', '\0', ',', '"', '\\', 'é'] {
        let value = format!("1{c}2");
        assert!(
            routing::check_cookie_value(&value).is_err(),
            "value {value:?}"
        );
    }
    let refusal = routing::check_cookie_name("x=1; Domain=evil.test").unwrap_err();
    assert!(refusal.0.contains("fix the route in Argo CD"), "{refusal}");
}
