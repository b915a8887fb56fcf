//! Copies the environments parts of the popup ([`crate::envs::PopupEnvs`]) into the DOM:
//! a service's environment line, a preview's Refresh / Sync (with its confirmation) and
//! deep links, and the environments page (a filter box and a table, every control a real
//! button, link or input so the keyboard reaches it). Text only through `textContent`.

use gloo_events::EventListener;
use wasm_bindgen::JsCast;
use web_sys::{Document, Element, HtmlInputElement};

use super::dispatch;
use super::render::{append, el, keep};
use crate::envs::{EnvLine, EnvsPage, Input, Page, PreviewActions};
use crate::worker::Event;

fn button(doc: &Document, id: &str, class: &str, label: &str, input: Input) -> Element {
    let b = el(doc, "button", class, label);
    b.set_id(id);
    let _ = b.set_attribute("type", "button");
    keep(EventListener::new(&b, "click", move |_| {
        dispatch(Event::Envs(input.clone()))
    }));
    b
}

/// `dev v5.34.0 · stag v5.34.0 · prod v5.3.0 ↓`, each cell with its words as tooltip.
/// With `links`, each cell opens the app in Argo CD (the environments page).
pub fn line(doc: &Document, line: &EnvLine, links: bool) -> Element {
    let p = el(doc, "p", "envs", "");
    let _ = p.set_attribute("data-service", &line.service);
    for (i, c) in line.cells.iter().enumerate() {
        if i > 0 {
            append(&p, &el(doc, "span", "sep", " · "));
        }
        let text = match c.marker {
            Some(m) => format!("{} {} {m}", c.env, c.version),
            None => format!("{} {}", c.env, c.version),
        };
        // On the main page text only: the line sits above the radios, which the keyboard
        // reaches first.
        let cell = match c.argocd.as_deref().filter(|_| links) {
            Some(href) => {
                let a = el(doc, "a", &format!("env {}", c.class), &text);
                let _ = a.set_attribute("href", href);
                let _ = a.set_attribute("target", "_blank");
                let _ = a.set_attribute("rel", "noopener noreferrer");
                a
            }
            None => el(doc, "span", &format!("env {}", c.class), &text),
        };
        let _ = cell.set_attribute("title", &c.title);
        let _ = cell.set_attribute("aria-label", &c.title);
        let _ = cell.set_attribute("data-env", &c.env);
        append(&p, &cell);
    }
    if let Some(d) = &line.differs {
        append(
            &p,
            &el(doc, "span", "differs", &format!(" (not in step: {d})")),
        );
    }
    p
}

/// A preview's actions, placed after its service's control.
pub fn actions(doc: &Document, a: &PreviewActions) -> Element {
    let div = el(doc, "div", "actions", "");
    let _ = div.set_attribute("data-app", &a.app.app);
    append(&div, &el(doc, "span", "", &format!("PR {}:", a.pr)));
    let refresh = button(
        doc,
        &a.refresh_id,
        "small",
        "Refresh",
        Input::Refresh(a.app.clone()),
    );
    let sync = button(
        doc,
        &a.sync_id,
        "small",
        "Sync…",
        Input::AskSync(a.app.clone()),
    );
    if a.busy {
        let _ = refresh.set_attribute("disabled", "");
        let _ = sync.set_attribute("disabled", "");
    }
    append(&div, &refresh);
    append(&div, &sync);
    for l in &a.links {
        let link = el(doc, "a", "deep-link", &l.title);
        let _ = link.set_attribute("href", &l.url);
        let _ = link.set_attribute("target", "_blank");
        let _ = link.set_attribute("rel", "noopener noreferrer");
        if let Some(d) = &l.description {
            let _ = link.set_attribute("title", d);
        }
        append(&div, &link);
    }
    if let Some(question) = &a.confirm {
        let confirm = el(doc, "div", "confirm", "");
        let _ = confirm.set_attribute("role", "alertdialog");
        append(&confirm, &el(doc, "span", "", question));
        append(
            &confirm,
            &button(doc, &a.confirm_id, "small", "Sync now", Input::ConfirmSync),
        );
        append(
            &confirm,
            &button(doc, &a.cancel_id, "small", "Cancel", Input::CancelSync),
        );
        append(&div, &confirm);
    }
    if let Some((text, failed)) = &a.outcome {
        let out = el(
            doc,
            "span",
            if *failed { "outcome bad" } else { "outcome" },
            text,
        );
        let _ = out.set_attribute("role", "status");
        append(&div, &out);
    }
    div
}

/// The button in the header that switches between the two pages.
pub fn page_switch(doc: &Document, page: Page) -> Element {
    let (label, to) = match page {
        Page::Main => ("Environments", Page::Environments),
        Page::Environments => ("Back to previews", Page::Main),
    };
    button(doc, "envs-page", "page-switch", label, Input::ShowPage(to))
}

/// The environments page: a filter and one row per service.
pub fn page(doc: &Document, page: &EnvsPage) -> Element {
    let section = el(doc, "section", "envs-page", "");
    append(&section, &el(doc, "h2", "", "Environments"));
    let label = el(doc, "label", "", "Filter services");
    let _ = label.set_attribute("for", "envs-filter");
    append(&section, &label);
    let input = doc
        .create_element("input")
        .expect("input")
        .dyn_into::<HtmlInputElement>()
        .expect("an input element");
    input.set_id("envs-filter");
    input.set_type("search");
    input.set_value(&page.filter);
    let _ = input.set_attribute("placeholder", "service, environment, version or state");
    let source = input.clone();
    keep(EventListener::new(&input, "input", move |_| {
        dispatch(Event::Envs(Input::Filter(source.value())))
    }));
    append(&section, &input);
    for f in &page.failures {
        append(&section, &el(doc, "p", "notice-text bad", f));
    }
    if let Some(n) = &page.notice {
        append(&section, &el(doc, "p", "notice-text", n));
    }
    let list = el(doc, "ul", "envs-list", "");
    for l in &page.lines {
        let li = el(doc, "li", "", "");
        append(&li, &el(doc, "strong", "", &l.service));
        append(&li, &line(doc, l, true));
        let toggle = el(doc, "label", "notify", "");
        let check = doc
            .create_element("input")
            .expect("input")
            .dyn_into::<HtmlInputElement>()
            .expect("an input element");
        check.set_type("checkbox");
        check.set_id(&l.notify_id);
        check.set_checked(l.notify);
        let service = l.service.clone();
        keep(EventListener::new(&check, "change", move |_| {
            dispatch(Event::Envs(Input::ToggleNotify(service.clone())))
        }));
        append(&toggle, &check);
        append(&toggle, &el(doc, "span", "", "notify me of its deploys"));
        append(&li, &toggle);
        append(&list, &li);
    }
    append(&section, &list);
    section
}
