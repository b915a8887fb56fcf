//! Glue smoke tests, run in headless Chromium by wasm-bindgen-test (`make test-wasm`): the
//! companion's real messages (PROTOCOL.md golden files) decode from JS objects, requests and
//! every `chrome.*` argument serialize to the plain objects their readers take, a thrown
//! `Error` becomes a `JsError` with its message, and a view renders into the popup's DOM with
//! its controls and the rows-rendered mark; each browser's dialect (`browser`) reads as one.
//! The full flow is the e2e suite's job.

use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

use protocol::messages::{Reply, Request, RequestBody};

use super::browser;
use super::chrome::{self, JsError, decode, to_js};
use super::render;
use crate::state::{Config, Event, State};

wasm_bindgen_test_configure!(run_in_browser);

fn js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("valid JSON")
}

fn stringify(v: &JsValue) -> String {
    js_sys::JSON::stringify(v).unwrap().as_string().unwrap()
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    stringify(&to_js(value).unwrap())
}

fn request(id: u64, body: RequestBody) -> Request {
    Request { id, body }
}

#[wasm_bindgen_test]
fn the_companions_golden_replies_decode_from_js_objects() {
    let list: Reply = decode(js(include_str!(
        "../../../protocol/tests/golden/reply.list.json"
    )))
    .unwrap();
    let Reply::List(list) = list else {
        panic!("a list reply, got {list:?}")
    };
    assert_eq!(list.previews[0].app, "courses-fe-pr-123");
    assert_eq!(
        list.fetched_at_ms, 1763818800000,
        "u64 milliseconds survive JS numbers"
    );
    assert!(list.stale);

    let changed: Reply = decode(js(include_str!(
        "../../../protocol/tests/golden/event.previews_changed.json"
    )))
    .unwrap();
    assert!(matches!(changed, Reply::PreviewsChanged(ref c) if c.changes.len() == 1));

    let error: Reply = decode(js(include_str!(
        "../../../protocol/tests/golden/reply.error.json"
    )))
    .unwrap();
    let Reply::Error(error) = error else {
        panic!("an error reply")
    };
    let failure = crate::failure::Failure::from(error.error);
    assert_eq!(
        failure.code(),
        Some(protocol::messages::ErrorCode::ArgocdUnauthorized)
    );
    assert!(
        failure
            .fix()
            .unwrap()
            .render(crate::i18n::testing::english())
            .contains("argocd login")
    );
}

#[wasm_bindgen_test]
fn requests_are_plain_objects_the_companion_reads() {
    let list = |cursor: Option<&str>| RequestBody::List {
        host: None,
        cursor: cursor.map(str::to_string),
    };
    assert_eq!(json(&request(7, list(None))), r#"{"id":7,"type":"list"}"#);
    assert_eq!(
        json(&request(8, list(Some("c-1")))),
        r#"{"id":8,"type":"list","cursor":"c-1"}"#
    );
    assert_eq!(
        json(&request(9, RequestBody::Subscribe)),
        r#"{"id":9,"type":"subscribe"}"#
    );
    assert_eq!(
        json(&request(10, RequestBody::Refresh { host: None })),
        r#"{"id":10,"type":"refresh"}"#
    );
}

/// Each argument as Chromium's API reference spells it (a misspelt key is silently ignored
/// by the browser, so it is checked here).
#[wasm_bindgen_test]
fn chrome_arguments_are_the_objects_the_apis_take() {
    assert_eq!(
        json(&chrome::CookieDetails {
            url: "https://app.test/",
            name: "team-pr",
            value: "7",
            path: "/",
            secure: true,
            same_site: "lax",
            expiration_date: 1_800_000_000.0,
        }),
        r#"{"url":"https://app.test/","name":"team-pr","value":"7","path":"/","secure":true,"sameSite":"lax","expirationDate":1800000000}"#
    );
    let rule = crate::routing::tab_rule(3, "svc", None, "team-pr", "7", &["app.test".into()]);
    let update = json(&chrome::RuleUpdate {
        remove_rule_ids: &[rule.id],
        add_rules: std::slice::from_ref(&rule),
    });
    assert!(
        update.starts_with(&format!(
            r#"{{"removeRuleIds":[{}],"addRules":[{{"id":"#,
            rule.id
        )),
        "{update}"
    );
    assert_eq!(
        json(&chrome::RuleUpdate {
            remove_rule_ids: &[5, 6],
            add_rules: &[],
        }),
        r#"{"removeRuleIds":[5,6]}"#
    );
    assert_eq!(json(&chrome::TabQuery::default()), "{}");
    assert_eq!(
        json(&chrome::TabQuery {
            active: Some(true),
            current_window: Some(true),
        }),
        r#"{"active":true,"currentWindow":true}"#
    );
    assert_eq!(
        json(&chrome::Notification {
            kind: "basic",
            icon_url: "chrome-extension://x/icons/icon128.png",
            title: "t",
            message: "m",
        }),
        r#"{"type":"basic","iconUrl":"chrome-extension://x/icons/icon128.png","title":"t","message":"m"}"#
    );
    assert_eq!(
        json(&chrome::BadgeText {
            tab_id: 3,
            text: "7"
        }),
        r#"{"tabId":3,"text":"7"}"#
    );
    assert_eq!(
        json(&chrome::Title {
            tab_id: 3,
            title: "Preview Switch: dev"
        }),
        r#"{"tabId":3,"title":"Preview Switch: dev"}"#
    );
    assert_eq!(
        json(&chrome::Permissions {
            origins: &["*://app.test/*".into()]
        }),
        r#"{"origins":["*://app.test/*"]}"#
    );
    assert_eq!(
        json(&chrome::StorageItems {
            last_list: Some(&crate::worker::CachedList {
                previews: vec![],
                fetched_at_ms: 1_763_818_800_000,
            }),
            ..Default::default()
        }),
        r#"{"last_list":{"previews":[],"fetched_at_ms":1763818800000}}"#,
        "only the key written, milliseconds as a plain number"
    );
    assert_eq!(
        json(&["settings", "last_list"][..]),
        r#"["settings","last_list"]"#
    );
}

#[wasm_bindgen_test]
fn a_thrown_error_is_a_js_error_with_its_message() {
    let thrown: JsValue = js_sys::Error::new("No tab with id: 9.").into();
    assert_eq!(JsError::from(thrown).to_string(), "No tab with id: 9.");
    assert_eq!(
        JsError::from(JsValue::from_str("plain")).to_string(),
        "plain"
    );
    let items = js(r#"{"settings":{"github_hosts":"not a list"},"applied":[]}"#);
    assert_eq!(
        chrome::stored::<crate::settings::Settings>(&items, "settings"),
        None,
        "an unreadable key is skipped"
    );
    assert_eq!(
        chrome::stored::<Vec<crate::state::Applied>>(&items, "applied"),
        Some(vec![])
    );
}

#[wasm_bindgen_test]
fn a_view_renders_rows_controls_and_the_timing_mark() {
    let doc = web_sys::window().unwrap().document().unwrap();
    let body = doc.body().unwrap();
    // Beside the test runner's own output, which must stay in the page.
    let popup = doc.create_element("div").unwrap();
    popup.set_inner_html(
        r#"<span id="host"></span><div id="filter-box" hidden></div><main id="app"></main>"#,
    );
    body.append_child(&popup).unwrap();
    let list: Reply = decode(js(include_str!(
        "../../../protocol/tests/golden/reply.list.json"
    )))
    .unwrap();
    let Reply::List(list) = list else {
        panic!("a list reply")
    };
    let mut state = State::new(Config::default());
    state.update(Event::PopupOpened {
        tab_id: 3,
        url: "https://courses.dev.acme.io/catalog".into(),
        now_secs: 1_763_818_900,
    });
    state.update(Event::AppliedLoaded { applied: vec![] });
    state.update(Event::RulesRead { rules: vec![] });
    state.update(Event::CookiesRead {
        host: "courses.dev.acme.io".into(),
        cookies: vec![],
    });
    state.update(Event::ListArrived {
        previews: list.previews,
        age_secs: 0,
        stale: false,
    });
    // Outside an extension there is no chrome.i18n: the English file stands in.
    let en = crate::i18n::testing::english();
    render::render(
        &crate::view::view(&state, en),
        &crate::envs::popup(&crate::envs::Envs::default(), &state, en),
    );

    assert_eq!(
        doc.get_element_by_id("host")
            .unwrap()
            .text_content()
            .as_deref(),
        Some("courses.dev.acme.io")
    );
    let rows = doc
        .query_selector("section.service ul.rows")
        .unwrap()
        .expect("a service section with rows");
    assert_eq!(rows.child_element_count(), 1);
    for (id, label) in [
        ("opt-courses_fe-t123", "this tab"),
        ("opt-courses_fe-d123", "this domain"),
    ] {
        let button = doc.get_element_by_id(id).expect("one button per mode");
        assert_eq!(button.tag_name(), "BUTTON");
        assert_eq!(button.text_content().as_deref(), Some(label));
        assert_eq!(
            button.get_attribute("aria-pressed").as_deref(),
            Some("false")
        );
    }
    let top = doc
        .query_selector("section.current li[data-service=courses-fe] .status")
        .unwrap()
        .expect("the state at the top");
    assert_eq!(top.text_content().as_deref(), Some("dev"));
    assert!(
        body.has_attribute("data-rows-ms"),
        "the popup-timing mark is set"
    );
}

/// Firefox's `getSessionRules` writes each absent field as `null`; the rule still decodes.
#[wasm_bindgen_test]
fn a_firefox_session_rule_with_null_fields_decodes() {
    let firefox = js(r#"[{"id": 7, "priority": 1,
        "action": {"type": "modifyHeaders", "redirect": null, "responseHeaders": null,
          "requestHeaders": [{"header": "cookie", "operation": "append", "value": "a-pr=1"}]},
        "condition": {"urlFilter": null, "regexFilter": "^https?://(a\\.test)(:[0-9]+)?[/?#]",
          "requestDomains": null, "excludedRequestDomains": null, "tabIds": [3],
          "excludedTabIds": null, "resourceTypes": ["main_frame"], "requestMethods": null}}]"#);
    assert!(decode::<Vec<crate::routing::SessionRule>>(firefox.clone()).is_err());
    let rules: Vec<crate::routing::SessionRule> = decode(browser::without_nulls(firefox)).unwrap();
    assert_eq!(rules[0].id, 7);
    assert_eq!(rules[0].condition.tab_ids, [3]);
    assert_eq!(
        rules[0].action.request_headers[0].value.as_deref(),
        Some("a-pr=1")
    );
}

/// The `firstPartyDomain` Firefox keys a host's cookies by under first-party isolation.
#[wasm_bindgen_test]
fn base_domains_as_firefox_keys_first_party_cookies() {
    for (host, base) in [
        ("a.demo.test", "demo.test"),
        ("x.example.com", "example.com"),
        ("example.com", "example.com"),
        ("shop.example.co.uk", "example.co.uk"),
        ("localhost", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
    ] {
        assert_eq!(browser::base_domain(host), base, "{host}");
    }
}
