//! Hostile input to the extension's pure logic, through its public API only: a list (from a
//! compromised or buggy companion) whose routes carry cookie names or values that would
//! smuggle a second cookie or an attribute, wildcard / range / URL hosts, or no hosts; forged
//! events for previews that are not listed; and PR numbers that are not a u64. Each must be
//! refused with a message for the user and no browser effect that sets anything.

#[path = "../../tests/doc_counts.rs"]
mod doc_counts;

use preview_switch_extension::routing;
use preview_switch_extension::state::{Applied, Choice, Config, CookieSeen, Effect, Event, State};
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
    ready_with(previews, vec![], vec![])
}

/// [`ready`] with `cookies` on `SITE` and the extension's own `applied` records.
fn ready_with(previews: Vec<Preview>, cookies: Vec<CookieSeen>, applied: Vec<Applied>) -> State {
    let mut st = State::new(Config::default());
    st.update(Event::PopupOpened {
        tab_id: TAB,
        url: format!("https://{SITE}/page"),
        now_secs: 1_000,
    });
    st.update(Event::AppliedLoaded { applied });
    st.update(Event::CookiesRead {
        host: SITE.into(),
        cookies,
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
        host: SITE.into(),
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
        ("reserved __Host- prefix", "__Host-x", "1", vec![SITE]),
        ("reserved __Secure- prefix", "__Secure-pr", "1", vec![SITE]),
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
        ("host *", "team-x-pr", "1", vec![SITE, "*"]),
        ("host *.com", "team-x-pr", "1", vec![SITE, "*.com"]),
        ("wildcard host", "team-x-pr", "1", vec![SITE, "*.demo.test"]),
        ("host range", "team-x-pr", "1", vec![SITE, "10.0.0.0/8"]),
        ("IPv6 literal", "team-x-pr", "1", vec![SITE, "[::1]"]),
        (
            "host as a URL",
            "team-x-pr",
            "1",
            vec![SITE, "https://evil.test/"],
        ),
        (
            "host with a port",
            "team-x-pr",
            "1",
            vec![SITE, "evil.test:443"],
        ),
        (
            "host with a path",
            "team-x-pr",
            "1",
            vec![SITE, "evil.test/x"],
        ),
        ("non-ASCII host", "team-x-pr", "1", vec![SITE, "évil.test"]),
        ("host with NUL", "team-x-pr", "1", vec![SITE, "evil.test\0"]),
        (
            "one bad host among good",
            "team-x-pr",
            "1",
            vec![SITE, "*.test"],
        ),
        ("no hosts at all", "team-x-pr", "1", vec![]),
        (
            "an IPv4 address in another notation",
            "team-x-pr",
            "1",
            vec![SITE, "0x7f.1"],
        ),
        ("a top-level name", "team-x-pr", "1", vec![SITE, "com"]),
        ("a public suffix", "team-x-pr", "1", vec![SITE, "co.uk"]),
        (
            "a shared hosting suffix",
            "team-x-pr",
            "1",
            vec![SITE, "github.io"],
        ),
    ];
    doc_counts::assert_doc_count("smuggling routes", cases.len());
    for (what, name, value, hosts) in cases {
        assert_refused(what, preview(1, "cookie", name, value, &hosts));
    }
}

#[test]
fn header_routes_with_bad_names_or_values_are_refused_too() {
    let cases = [
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
        (
            "a header that moves the site's host",
            "X-Forwarded-Host",
            "evil.test",
        ),
        ("a method override", "X-HTTP-Method-Override", "DELETE"),
        ("a CSRF token", "X-CSRF-Token", "x"),
        ("a response header", "Set-Cookie", "a=b"),
    ];
    doc_counts::assert_doc_count("header routes", cases.len());
    for (what, name, value) in cases {
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

/// The `SetCookie` effects as (url, name, value).
fn cookies_set(fx: &[Effect]) -> Vec<(&str, &str, &str)> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::SetCookie {
                url, name, value, ..
            } => Some((url.as_str(), name.as_str(), value.as_str())),
            _ => None,
        })
        .collect()
}

/// Chooses `choice` for service x, grants the permission it asks for and answers the
/// reads of the route's other hosts (no cookies there).
fn choose_granted(st: &mut State, choice: Choice) -> Vec<Effect> {
    let mut fx = st.update(Event::Choose {
        service: "x".into(),
        choice,
    });
    if matches!(fx.first(), Some(Effect::RequestHostPermission { .. })) {
        let granted = st.update(Event::HostPermission {
            service: "x".into(),
            choice,
            open: None,
            granted: true,
        });
        fx.extend(no_cookies_elsewhere(st, granted));
    }
    fx
}

/// Answers each read of a host other than the tab's with no cookies; every effect.
fn no_cookies_elsewhere(st: &mut State, fx: Vec<Effect>) -> Vec<Effect> {
    let mut all = fx.clone();
    for e in fx {
        if let Effect::ReadCookies { host, .. } = e
            && host != SITE
        {
            all.extend(st.update(Event::CookiesRead {
                host,
                cookies: vec![],
            }));
        }
    }
    all
}

#[test]
fn a_valid_route_is_set_only_on_the_hosts_the_companion_listed() {
    let good = preview(1, "cookie", "team-x-pr", "1", &[SITE, "b.demo.test"]);
    let mut st = ready(vec![good]);
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
            "https://x.demo.test/*",
            "http://x.demo.test/*",
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
    // The other host's cookies are read before anything is set there.
    assert_eq!(cookies_set(&fx), []);
    let fx = no_cookies_elsewhere(&mut st, fx);
    assert_eq!(
        cookies_set(&fx),
        [
            ("https://x.demo.test/", "team-x-pr", "1"),
            ("https://b.demo.test/", "team-x-pr", "1")
        ]
    );
}

/// Regression (finding 5): the popup lists a preview when any route names the tab's host,
/// but applying it used `routes[0]`, which asked permission for and set a cookie on
/// another site.
#[test]
fn the_route_that_names_the_tabs_host_is_applied_not_the_first_one() {
    let mut p = preview(1, "cookie", "bank-session", "1", &["bank.example.com"]);
    let mut mine = p.routes[0].clone();
    mine.name = "team-x-pr".into();
    mine.hosts = vec![SITE.into()];
    p.routes.push(mine);
    for choice in [Choice::Domain { pr: 1 }, Choice::Tab { pr: 1 }] {
        let mut st = ready(vec![p.clone()]);
        let fx = st.update(Event::Choose {
            service: "x".into(),
            choice,
        });
        let Some(Effect::RequestHostPermission { origins, .. }) = fx.first() else {
            panic!("{fx:?}")
        };
        assert_eq!(
            origins,
            &[format!("https://{SITE}/*"), format!("http://{SITE}/*")]
        );
        let fx = choose_granted(&mut ready(vec![p.clone()]), choice);
        assert!(
            !format!("{fx:?}").contains("bank"),
            "{choice:?} touched the other route's site: {fx:?}"
        );
        match choice {
            Choice::Domain { .. } => assert_eq!(
                cookies_set(&fx),
                [(format!("https://{SITE}/").as_str(), "team-x-pr", "1")]
            ),
            _ => assert!(
                fx.iter()
                    .any(|e| matches!(e, Effect::AddSessionRule { rule }
                if rule.cookie_pair() == Some(("team-x-pr", "1"))
                    && rule.condition.request_domains == [SITE]))
            ),
        }
    }
    // A preview none of whose routes names the tab's host: refused, nothing asked.
    let elsewhere = preview(1, "cookie", "team-x-pr", "1", &["a.demo.test"]);
    for choice in [Choice::Domain { pr: 1 }, Choice::Tab { pr: 1 }] {
        let mut st = ready(vec![elsewhere.clone()]);
        let fx = choose_granted(&mut st, choice);
        assert_eq!(sets_anything(&fx), None, "{fx:?}");
        assert!(
            st.messages
                .last()
                .unwrap()
                .contains("no route of x PR 1 names"),
            "{:?}",
            st.messages
        );
    }
}

/// Finding 1: a route named like the site's own cookie (`session`) must neither overwrite
/// it (*this domain*, session fixation) nor delete it (*dev*, forced logout), nor be sent
/// beside it (*this tab*); the popup says why. A routing cookie set by hand, or one the
/// extension set, is still replaced or removed.
#[test]
fn a_route_named_like_a_site_cookie_touches_nothing_of_the_site() {
    let site = |name: &str| CookieSeen {
        name: name.into(),
        value: "s3ss10n-of-the-user".into(),
    };
    for name in ["session", "team-x-pr"] {
        let route = preview(1, "cookie", name, "1", &[SITE]);
        for choice in [Choice::Domain { pr: 1 }, Choice::Tab { pr: 1 }] {
            let mut st = ready_with(vec![route.clone()], vec![site(name)], vec![]);
            let fx = choose_granted(&mut st, choice);
            assert_eq!(sets_anything(&fx), None, "{name} {choice:?}: {fx:?}");
            assert!(
                !fx.iter().any(|e| matches!(e, Effect::RemoveCookie { .. })),
                "{fx:?}"
            );
            assert_eq!(
                st.messages.last().map(String::as_str),
                Some(format!(
                    "not switched: the site has its own cookie named {name}; this route would overwrite it: give the route a cookie name of its own"
                ).as_str())
            );
        }
        // Dev: the site's cookie is not ours to delete, even with our record of that name.
        let record = Applied {
            service: "x".into(),
            pr: 1,
            name: name.into(),
            value: "1".into(),
            hosts: vec![SITE.into()],
            https: true,
        };
        let mut st = ready_with(vec![route.clone()], vec![site(name)], vec![record]);
        let fx = st.update(Event::Choose {
            service: "x".into(),
            choice: Choice::Dev,
        });
        assert!(
            !fx.iter().any(|e| matches!(e, Effect::RemoveCookie { .. })),
            "{name}: {fx:?}"
        );
    }
    // A routing cookie set by hand (a listed route carries its value) is still replaced.
    let routes = vec![
        preview(1, "cookie", "team-x-pr", "1", &[SITE]),
        preview(2, "cookie", "team-x-pr", "2", &[SITE]),
    ];
    let by_hand = CookieSeen {
        name: "team-x-pr".into(),
        value: "2".into(),
    };
    let mut st = ready_with(routes, vec![by_hand], vec![]);
    let fx = choose_granted(&mut st, Choice::Domain { pr: 1 });
    assert_eq!(
        cookies_set(&fx),
        [(format!("https://{SITE}/").as_str(), "team-x-pr", "1")]
    );
    let fx = st.update(Event::Choose {
        service: "x".into(),
        choice: Choice::Dev,
    });
    assert!(
        fx.iter()
            .any(|e| matches!(e, Effect::RemoveCookie { name, .. } if name == "team-x-pr")),
        "{fx:?}"
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

/// A web page has no channel to the extension: no manifest (the shipped one, or a
/// per-browser source of it) declares content scripts, `externally_connectable` or web
/// accessible resources, and no extension code listens for external messages.
#[test]
fn web_pages_and_other_extensions_have_no_channel_to_the_extension() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let mut files = vec![root.join("manifest.json")];
    let mut dirs = vec![root.join("extension")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !path.ends_with("target") {
                    dirs.push(path);
                }
            } else if path
                .extension()
                .is_some_and(|e| e == "json" || e == "js" || e == "rs" || e == "html")
            {
                files.push(path);
            }
        }
    }
    let mut manifests = 0;
    for file in files.iter().filter(|f| f.exists()) {
        let text = std::fs::read_to_string(file).unwrap();
        if text.contains("\"manifest_version\"") {
            manifests += 1;
        }
        // This file names them to look for them.
        if file.ends_with("tests/hostile.rs") {
            continue;
        }
        for channel in [
            "content_scripts",
            "externally_connectable",
            "web_accessible_resources",
            "onMessageExternal",
            "onConnectExternal",
        ] {
            assert!(
                !text.contains(channel),
                "{} opens {channel}",
                file.display()
            );
        }
    }
    assert!(manifests >= 1, "no extension manifest found");
}
