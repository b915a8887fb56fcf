//! Copies a [`View`] into the popup's DOM: real radio inputs and buttons in document order
//! (so Tab and the arrow keys work; arrows only select, Enter or the Apply button applies),
//! text set with `textContent` only (names from the companion are never parsed as HTML),
//! and focus kept across re-renders through stable ids.

use std::cell::RefCell;

use gloo_events::EventListener;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlElement, HtmlInputElement};

use super::dispatch;
use crate::envs::{Page, PopupEnvs};
use crate::state::{Choice, Event};
use crate::view::{Group, Notice, PullRequestView, View};

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

/// The search box lives in popup.html (so typing never loses focus to a re-render).
pub fn wire_static() {
    let Some(input) = document()
        .and_then(|d| d.get_element_by_id("filter"))
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
    append(&app, &super::envs::page_switch(&doc, extra.page));
    if let (Page::Environments, Some(page)) = (extra.page, &extra.all) {
        append(&app, &super::envs::page(&doc, page));
    } else {
        if let Some(notice) = &view.notice {
            append(&app, &notice_el(&doc, notice));
        }
        if let Some(pr) = &view.pull_request {
            append(&app, &pull_request_el(&doc, pr));
        }
        for group in &view.groups {
            append(&app, &group_el(&doc, group, extra));
        }
    }
    if !view.groups.is_empty() {
        mark_rows(&doc);
    }
    if let Some(note) = view.tab_mode_note {
        append(&app, &el(&doc, "p", "note", note));
    }
    if !focused.is_empty()
        && let Some(e) = doc.get_element_by_id(&focused)
    {
        // A pressed Apply button turns disabled: keep the keyboard in its group instead of
        // dropping focus to the page.
        let target = if e.has_attribute("disabled") {
            e.closest("fieldset")
                .ok()
                .flatten()
                .and_then(|f| f.query_selector("input:checked").ok().flatten())
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

fn pull_request_el(doc: &Document, pr: &PullRequestView) -> Element {
    let section = el(doc, "section", "pull-request", "");
    append(&section, &el(doc, "h2", "", &pr.title));
    for action in &pr.actions {
        let button = el(doc, "button", "open", &action.label);
        button.set_id(&action.id);
        let _ = button.set_attribute("type", "button");
        if let Some(why) = &action.disabled {
            let _ = button.set_attribute("disabled", "");
            let _ = button.set_attribute("title", why);
            append(&section, &button);
            append(&section, &el(doc, "span", "why", why));
            continue;
        } else {
            let (service, pr, host) = (action.service.clone(), action.pr, action.host.clone());
            listen(&button, "click", move || Event::OpenWithPreview {
                service: service.clone(),
                pr,
                host: host.clone(),
            });
        }
        append(&section, &button);
    }
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

fn group_el(doc: &Document, group: &Group, extra: &PopupEnvs) -> Element {
    let section = el(doc, "section", "service", "");
    append(&section, &el(doc, "h2", "", &group.service));
    if let Some(line) = extra.lines.iter().find(|l| l.service == group.service) {
        append(&section, &super::envs::line(doc, line, false));
    }
    append(&section, &el(doc, "p", "status", &group.status));
    let rows = el(doc, "ul", "rows", "");
    for row in &group.rows {
        let li = el(doc, "li", "row", "");
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
            append(&li, &link(doc, &row.argocd_id, href, "Argo CD"));
        }
        if let Some(href) = &row.pull_request {
            append(&li, &link(doc, &row.pull_request_id, href, "Pull request"));
        }
        if let Some(why) = &row.unroutable {
            append(
                &li,
                &el(doc, "span", "unroutable", &format!("Cannot route: {why}")),
            );
        }
        append(&rows, &li);
    }
    append(&section, &rows);

    let fieldset = el(doc, "fieldset", "control", "");
    append(
        &fieldset,
        &el(doc, "legend", "", &format!("Route {} to", group.service)),
    );
    for option in &group.options {
        let label = el(doc, "label", "option", "");
        let input = doc
            .create_element("input")
            .expect("input")
            .dyn_into::<HtmlInputElement>()
            .expect("an input element");
        input.set_type("radio");
        input.set_name(&format!("route-{}", group.service));
        input.set_id(&option.id);
        input.set_checked(option.checked);
        let (service, choice): (String, Choice) = (group.service.clone(), option.choice);
        {
            let service = service.clone();
            listen(&input, "change", move || Event::Select {
                service: service.clone(),
                choice,
            });
        }
        // Enter applies the focused option: a keyboard user's "do it".
        let listener = EventListener::new(&input, "keydown", move |e| {
            if let Some(key) = e.dyn_ref::<web_sys::KeyboardEvent>()
                && key.key() == "Enter"
            {
                e.prevent_default();
                dispatch(Event::Choose {
                    service: service.clone(),
                    choice,
                });
            }
        });
        LISTENERS.with_borrow_mut(|l| l.push(listener));
        append(&label, &input);
        append(&label, &el(doc, "span", "", &option.label));
        if let Some(why) = &option.disabled {
            input.set_disabled(true);
            append(&label, &el(doc, "span", "why", &format!(" ({why})")));
        }
        append(&fieldset, &label);
    }
    let apply = el(doc, "button", "apply", &group.apply.label);
    apply.set_id(&group.apply.id);
    let _ = apply.set_attribute("type", "button");
    append(&fieldset, &apply);
    if let Some(why) = &group.apply.disabled {
        let _ = apply.set_attribute("disabled", "");
        append(&fieldset, &el(doc, "span", "why", why));
    } else {
        let service = group.service.clone();
        listen(&apply, "click", move || Event::ApplySelected {
            service: service.clone(),
        });
    }
    append(&section, &fieldset);
    // After the control, so the keyboard reaches the radios first.
    for row in &group.rows {
        if let Some(a) = extra
            .actions
            .iter()
            .find(|a| a.service == group.service && a.pr == row.pr)
        {
            append(&section, &super::envs::actions(doc, a));
        }
    }
    section
}
