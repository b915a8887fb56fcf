//! Glue smoke tests, run in headless Chromium by wasm-bindgen-test (`make test-wasm`): the
//! companion's real messages (PROTOCOL.md golden files) decode from JS objects, requests
//! serialize to the shapes the companion reads, and a view renders into the popup's DOM
//! with its controls and the rows-rendered mark. The full flow is the e2e suite's job.

use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;

use super::{decode, render, to_js, wire};
use crate::state::{Config, Event, State};

wasm_bindgen_test_configure!(run_in_browser);

fn js(json: &str) -> JsValue {
    js_sys::JSON::parse(json).expect("valid JSON")
}

fn stringify(v: &JsValue) -> String {
    js_sys::JSON::stringify(v).unwrap().as_string().unwrap()
}

#[wasm_bindgen_test]
fn the_companions_golden_replies_decode_from_js_objects() {
    let list: wire::Reply = decode(js(include_str!(
        "../../../protocol/tests/golden/reply.list.json"
    )))
    .unwrap();
    let wire::Reply::List(list) = list else {
        panic!("a list reply, got {list:?}")
    };
    assert_eq!(list.previews[0].app, "courses-fe-pr-123");
    assert_eq!(
        list.fetched_at_ms, 1763818800000,
        "u64 milliseconds survive JS numbers"
    );
    assert!(list.stale);

    let changed: wire::Reply = decode(js(include_str!(
        "../../../protocol/tests/golden/event.previews_changed.json"
    )))
    .unwrap();
    assert!(matches!(changed, wire::Reply::PreviewsChanged(ref c) if c.changes.len() == 1));

    let error: wire::Reply = decode(js(include_str!(
        "../../../protocol/tests/golden/reply.error.json"
    )))
    .unwrap();
    let wire::Reply::Error(error) = error else {
        panic!("an error reply")
    };
    let failure = crate::failure::Failure::from(error.error);
    assert_eq!(
        failure.code(),
        Some(protocol::messages::ErrorCode::ArgocdUnauthorized)
    );
    assert!(failure.fix().unwrap().contains("argocd login"));
}

#[wasm_bindgen_test]
fn requests_are_plain_objects_the_companion_reads() {
    assert_eq!(
        stringify(&to_js(&wire::list(7, None))),
        r#"{"id":7,"type":"list"}"#
    );
    assert_eq!(
        stringify(&to_js(&wire::list(8, Some("c-1".into())))),
        r#"{"id":8,"type":"list","cursor":"c-1"}"#
    );
    assert_eq!(
        stringify(&to_js(&wire::subscribe(9))),
        r#"{"id":9,"type":"subscribe"}"#
    );
    assert_eq!(
        stringify(&to_js(&wire::refresh(10))),
        r#"{"id":10,"type":"refresh"}"#
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
    let list: wire::Reply = decode(js(include_str!(
        "../../../protocol/tests/golden/reply.list.json"
    )))
    .unwrap();
    let wire::Reply::List(list) = list else {
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
    render::render(&crate::view::view(&state));

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
    for id in [
        "opt-courses_fe-dev",
        "opt-courses_fe-d123",
        "opt-courses_fe-t123",
        "opt-courses_fe-apply",
    ] {
        assert!(doc.get_element_by_id(id).is_some(), "control {id} rendered");
    }
    assert!(
        body.has_attribute("data-rows-ms"),
        "the popup-timing mark is set"
    );
}
