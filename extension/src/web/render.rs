//! Copies a [`View`] into the popup's DOM: real buttons in document order, one per action
//! (so Tab and Shift-Tab reach each, and Enter or a click applies it), `/` to the filter
//! and Esc to clear it, text set with `textContent` only (names from the companion are
//! never parsed as HTML), focus kept across re-renders through stable ids, and the static
//! page's words put in the browser's language (`data-i18n`).

use std::cell::RefCell;

use gloo_events::EventListener;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement, HtmlInputElement};

use super::chrome;
use super::dispatch;
use crate::envs::{Page, PopupEnvs};
use crate::i18n::Catalogue;
use crate::state::Event;
use crate::t;
use crate::view::{Button, CopiedView, Current, Group, LinkView, Notice, PullRequestView, View};

thread_local! {
    /// The listeners of the current render; dropping them detaches them.
    static LISTENERS: RefCell<Vec<EventListener>> = const { RefCell::new(Vec::new()) };
}

fn document() -> Option<Document> {
    web_sys::window()?.document()
}

pub(super) fn el(doc: &Document, tag: &str, class: &str, text: &str) -> Element {
    let e = doc.create_element(tag).expect("a valid tag name");
    if !class.is_empty() {
        e.set_class_name(class);
    }
    if !text.is_empty() {
        e.set_text_content(Some(text));
    }
    e
}

pub(super) fn append(parent: &Element, child: &Element) {
    let _ = parent.append_child(child);
}

/// Keeps a listener for as long as the current render.
pub(super) fn keep(listener: EventListener) {
    LISTENERS.with_borrow_mut(|l| l.push(listener));
}

fn listen(target: &Element, kind: &'static str, event: impl Fn() -> Event + 'static) {
    let listener = EventListener::new(target, kind, move |_| dispatch(event()));
    LISTENERS.with_borrow_mut(|l| l.push(listener));
}

/// The static page's words in the browser's language: each `data-i18n` element's text,
/// each `data-i18n-placeholder`'s placeholder, and the page's `lang`.
pub fn localize_page() {
    let Some(doc) = document() else { return };
    let cat = chrome::Messages;
    for (selector, attr) in [
        ("[data-i18n]", None),
        ("[data-i18n-placeholder]", Some("placeholder")),
    ] {
        let Ok(found) = doc.query_selector_all(selector) else {
            continue;
        };
        for i in 0..found.length() {
            let Some(e) = found.item(i).and_then(|n| n.dyn_into::<Element>().ok()) else {
                continue;
            };
            let key_attr = match attr {
                None => "data-i18n",
                Some(_) => "data-i18n-placeholder",
            };
            let Some(key) = e.get_attribute(key_attr) else {
                continue;
            };
            let words = cat.message(&key, &[]);
            if words.is_empty() {
                continue; // an unknown key keeps the English of the page
            }
            match attr {
                None => e.set_text_content(Some(&words)),
                Some(a) => {
                    let _ = e.set_attribute(a, &words);
                }
            }
        }
    }
    if let Some(root) = doc.document_element() {
        let _ = root.set_attribute("lang", &t!(&cat, "lang"));
    }
}

/// The search box lives in popup.html (so typing never loses focus to a re-render). `/`
/// anywhere but a text field opens and focuses it; Esc in it clears it.
pub fn wire_static() {
    let Some(doc) = document() else { return };
    let Some(input) = doc
        .get_element_by_id("filter")
        .and_then(|e| e.dyn_into::<HtmlInputElement>().ok())
    else {
        return;
    };
    let source = input.clone();
    EventListener::new(&input, "input", move |_| {
        dispatch(Event::Filter {
            text: source.value(),
        })
    })
    .forget(); // the search box lives as long as the popup
    // Not passive: these handlers prevent the key's default.
    let active = gloo_events::EventListenerOptions::enable_prevent_default();
    let source = input.clone();
    EventListener::new_with_options(&input, "keydown", active, move |e| {
        if let Some(key) = e.dyn_ref::<web_sys::KeyboardEvent>()
            && key.key() == "Escape"
            && !source.value().is_empty()
        {
            // Clearing is the first Esc's job; the next one closes the popup as usual.
            e.prevent_default();
            source.set_value("");
            dispatch(Event::Filter {
                text: String::new(),
            });
        }
    })
    .forget();
    EventListener::new_with_options(&doc, "keydown", active, move |e| {
        let Some(key) = e.dyn_ref::<web_sys::KeyboardEvent>() else {
            return;
        };
        let typing = e
            .target()
            .and_then(|t| t.dyn_into::<Element>().ok())
            .is_some_and(|t| matches!(t.tag_name().as_str(), "INPUT" | "TEXTAREA"));
        if key.key() == "/" && !typing && !key.ctrl_key() && !key.meta_key() && !key.alt_key() {
            e.prevent_default();
            dispatch(Event::FilterOpened);
            let _ = input.focus();
        }
    })
    .forget();
}

/// Tells tests (and people debugging) that the wasm started and rendered.
pub fn mark_ready() {
    if let Some(body) = document().and_then(|d| d.body()) {
        let _ = body.set_attribute("data-ready", "1");
    }
}

/// Records, once, how long after the popup opened its first preview rows were on screen
/// (`performance.now()` counts from the page's start), as `data-rows-ms` on the body and a
/// `rows-rendered` performance mark: the end-to-end suite records it, and `make bench`
/// (scripts/bench-popup.sh) holds it to docs/DESIGN.md §7's budget.
fn mark_rows(doc: &Document) {
    let Some(body) = doc.body() else { return };
    if body.has_attribute("data-rows-ms") {
        return;
    }
    let Some(performance) = web_sys::window().and_then(|w| w.performance()) else {
        return;
    };
    let _ = performance.mark("rows-rendered");
    let _ = body.set_attribute("data-rows-ms", &format!("{:.1}", performance.now()));
}

pub fn render(view: &View, extra: &PopupEnvs) {
    let Some(doc) = document() else {
        return; // the service worker has no page
    };
    let Some(app) = doc.get_element_by_id("app") else {
        return;
    };
    let focused = doc.active_element().map(|e| e.id()).unwrap_or_default();
    LISTENERS.with_borrow_mut(Vec::clear);
    app.set_text_content(None);

    if let Some(host) = doc.get_element_by_id("host") {
        host.set_text_content(view.host.as_deref());
    }
    if let Some(filter) = doc.get_element_by_id("filter-box") {
        let _ = filter
            .dyn_ref::<HtmlElement>()
            .map(|f| f.set_hidden(!view.show_filter));
    }
    if !view.messages.is_empty() {
        let list = el(&doc, "ul", "messages", "");
        let _ = list.set_attribute("role", "status");
        for m in &view.messages {
            append(&list, &el(&doc, "li", "", m));
        }
        append(&app, &list);
    }
    if let Some(copied) = &view.copied {
        append(&app, &copied_el(&doc, copied));
    }
    if let Some(source) = &view.source {
        append(&app, &el(&doc, "p", "source", source));
    }
    if let Some(request) = &view.access_request {
        let p = el(&doc, "p", "access-request", request);
        let _ = p.set_attribute("role", "status");
        append(&app, &p);
    }
    if let Some(stale) = &view.stale {
        append(&app, &el(&doc, "p", "stale", stale));
    }
    if !view.failures.is_empty() {
        let section = el(&doc, "section", "notice error failures", "");
        let _ = section.set_attribute("role", "status");
        for f in &view.failures {
            append(&section, &el(&doc, "p", "notice-text", &f.text));
            if let Some(fix) = &f.fix {
                append(&section, &el(&doc, "p", "notice-detail", fix));
            }
        }
        append(&app, &section);
    }
    if let Some(link) = &view.link {
        append(&app, &link_el(&doc, link));
    }
    if !view.current.is_empty() {
        append(&app, &current_el(&doc, &view.current, &view.labels.current));
    }
    append(
        &app,
        &super::envs::page_switch(&doc, extra.page, &extra.labels),
    );
    if let (Page::Environments, Some(page)) = (extra.page, &extra.all) {
        append(&app, &super::envs::page(&doc, page, &extra.labels));
    } else {
        if let Some(notice) = &view.notice {
            append(&app, &notice_el(&doc, notice));
        }
        if let Some(pr) = &view.pull_request {
            append(&app, &pull_request_el(&doc, pr));
        }
        for group in &view.groups {
            append(&app, &group_el(&doc, group, extra, view));
        }
    }
    if !view.groups.is_empty() {
        mark_rows(&doc);
    }
    if let Some(note) = &view.tab_mode_note {
        append(&app, &el(&doc, "p", "note", note));
    }
    if !focused.is_empty()
        && let Some(e) = doc.get_element_by_id(&focused)
    {
        // A button just used turns disabled (the tab is routed that way now): keep the
        // keyboard on its row instead of dropping focus to the page.
        let target = if e.has_attribute("disabled") {
            e.closest("li")
                .ok()
                .flatten()
                .and_then(|f| f.query_selector("button:not([disabled])").ok().flatten())
                .unwrap_or(e)
        } else {
            e
        };
        if let Ok(target) = target.dyn_into::<HtmlElement>() {
            let _ = target.focus();
        }
    }
}

fn notice_el(doc: &Document, notice: &Notice) -> Element {
    let section = el(
        doc,
        "section",
        &format!("notice {}", notice.kind.class()),
        "",
    );
    let _ = section.set_attribute("role", "status");
    append(&section, &el(doc, "p", "notice-text", &notice.text));
    if let Some(detail) = &notice.detail {
        append(&section, &el(doc, "p", "notice-detail", detail));
    }
    if let Some(command) = &notice.command {
        let pre = el(doc, "pre", "", "");
        append(&pre, &el(doc, "code", "command", command));
        append(&section, &pre);
    }
    section
}

/// A real button: one click (or Enter, Space) applies it; a disabled one says why as its
/// tooltip, `aria-pressed` marks the way the tab is routed now, and `primary` the row's
/// default mode.
fn button_el(doc: &Document, b: &Button, class: &str) -> Element {
    let class = if b.primary {
        format!("{class} primary")
    } else {
        class.to_owned()
    };
    let e = el(doc, "button", &class, &b.label);
    e.set_id(&b.id);
    let _ = e.set_attribute("type", "button");
    if matches!(b.action, Event::Choose { .. } | Event::FollowLink { .. }) {
        let _ = e.set_attribute("aria-pressed", if b.pressed { "true" } else { "false" });
    }
    if let Some(why) = &b.disabled {
        let _ = e.set_attribute("disabled", "");
        let _ = e.set_attribute("title", why);
    }
    // Even on a disabled one: a click forced through must meet the state's own refusal.
    let action = b.action.clone();
    listen(&e, "click", move || action.clone());
    e
}

/// The buttons side by side, then the reasons of the disabled ones (once each; not the
/// pressed one's, which the pressed look says).
fn buttons_el(doc: &Document, buttons: &[Button], class: &str) -> Element {
    let div = el(doc, "div", "actions", "");
    let mut reasons: Vec<&str> = Vec::new();
    for b in buttons {
        append(&div, &button_el(doc, b, class));
        if let Some(why) = b.disabled.as_deref()
            && !b.pressed
            && !reasons.contains(&why)
        {
            reasons.push(why);
        }
    }
    for why in reasons {
        append(&div, &el(doc, "span", "why", why));
    }
    div
}

fn current_el(doc: &Document, current: &[Current], heading: &str) -> Element {
    let section = el(doc, "section", "current", "");
    append(&section, &el(doc, "h2", "", heading));
    let list = el(doc, "ul", "", "");
    for c in current {
        let li = el(doc, "li", "", "");
        let _ = li.set_attribute("data-service", &c.service);
        append(&li, &el(doc, "strong", "", &c.service));
        append(&li, &el(doc, "span", "status", &c.status));
        if let Some((class, words)) = &c.proof {
            let p = el(doc, "span", &format!("proof {class}"), words);
            let _ = p.set_attribute("role", "status");
            append(&li, &p);
        }
        if !c.buttons.is_empty() {
            append(&li, &buttons_el(doc, &c.buttons, "small"));
        }
        append(&list, &li);
    }
    append(&section, &list);
    section
}

fn link_el(doc: &Document, link: &LinkView) -> Element {
    let section = el(doc, "section", "share-link", "");
    let _ = section.set_attribute("role", "status");
    append(&section, &el(doc, "p", "notice-text", &link.text));
    if let Some(why) = &link.refused {
        append(&section, &el(doc, "p", "why", why));
    }
    if !link.buttons.is_empty() {
        append(&section, &buttons_el(doc, &link.buttons, "mode"));
    }
    section
}

/// What was copied and what kind of link it is; the link itself, selectable, for when the
/// clipboard refused it.
fn copied_el(doc: &Document, copied: &CopiedView) -> Element {
    let section = el(doc, "section", "copied", "");
    let _ = section.set_attribute("role", "status");
    append(&section, &el(doc, "p", "", &copied.text));
    let code = el(doc, "code", "share-url", &copied.url);
    append(&section, &code);
    section
}

fn pull_request_el(doc: &Document, pr: &PullRequestView) -> Element {
    let section = el(doc, "section", "pull-request", "");
    append(&section, &el(doc, "h2", "", &pr.title));
    append(&section, &buttons_el(doc, &pr.actions, "open"));
    section
}

fn link(doc: &Document, id: &str, href: &str, text: &str) -> Element {
    let a = el(doc, "a", "", text);
    a.set_id(id);
    let _ = a.set_attribute("href", href);
    let _ = a.set_attribute("target", "_blank");
    let _ = a.set_attribute("rel", "noopener noreferrer");
    a
}

fn group_el(doc: &Document, group: &Group, extra: &PopupEnvs, view: &View) -> Element {
    let section = el(doc, "section", "service", "");
    let _ = section.set_attribute("data-service", &group.service);
    append(&section, &el(doc, "h2", "", &group.service));
    if let Some(line) = extra.lines.iter().find(|l| l.service == group.service) {
        append(&section, &super::envs::line(doc, line, false));
    }
    let rows = el(doc, "ul", "rows", "");
    for row in &group.rows {
        let li = el(doc, "li", "row", "");
        let _ = li.set_attribute("data-pr", &row.pr.to_string());
        append(&li, &el(doc, "strong", "pr", &row.title));
        if let Some(about) = &row.about {
            // Ellipsised by the CSS; the tooltip carries the whole text.
            let span = el(doc, "span", "about", about);
            let _ = span.set_attribute("title", about);
            append(&li, &span);
        }
        append(
            &li,
            &el(
                doc,
                "span",
                &format!("health {}", row.health_class),
                &row.health_text,
            ),
        );
        let details: Vec<&str> = [
            row.image_tag.as_deref(),
            row.revision.as_deref(),
            row.age.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !details.is_empty() {
            append(&li, &el(doc, "span", "details", &details.join(" · ")));
        }
        if let Some(href) = &row.argocd {
            append(&li, &link(doc, &row.argocd_id, href, &view.labels.argocd));
        }
        if let Some(href) = &row.pull_request {
            append(
                &li,
                &link(doc, &row.pull_request_id, href, &view.labels.pull_request),
            );
        }
        if let Some(why) = &row.unroutable {
            append(&li, &el(doc, "span", "unroutable", why));
        }
        // The row's own actions first, so the keyboard reaches them before the rest.
        if !row.buttons.is_empty() {
            append(&li, &buttons_el(doc, &row.buttons, "mode"));
        }
        if let Some(a) = extra
            .actions
            .iter()
            .find(|a| a.service == group.service && a.pr == row.pr)
        {
            append(&li, &super::envs::actions(doc, a, &extra.labels));
        }
        append(&rows, &li);
    }
    append(&section, &rows);
    section
}
