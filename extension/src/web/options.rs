//! The options page: shows the stored settings in the form ([`settings::options_view`]: the
//! team's preset values as placeholders, or in locked fields; the page ribbon and default
//! mode choices as selects) and saves what the form says
//! once [`Settings::from_form`] accepts it, saying in the page (in the browser's language)
//! what was saved or refused. A relay address needs host access to the relay, asked for
//! from the Save click itself.

use std::cell::RefCell;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};

use super::chrome;
use crate::settings::{self, FieldView, Managed, Settings};

thread_local! {
    /// What the page loaded: the user's stored settings and the team's policy (the save
    /// keeps the stored values of the fields the team locked).
    static LOADED: RefCell<(Settings, Option<Managed>)> = RefCell::default();
}

fn by_id<T: JsCast>(id: &str) -> Option<T> {
    web_sys::window()?
        .document()?
        .get_element_by_id(id)?
        .dyn_into::<T>()
        .ok()
}

fn say(text: &crate::i18n::Text) {
    if let Some(status) = by_id::<web_sys::HtmlElement>("status") {
        status.set_text_content(Some(&text.render(&chrome::Messages)));
    }
}

/// Shows `field` in the input, textarea or select `id`: value, placeholder, and locked
/// (read-only, a select disabled, with the reason as its title).
fn show(id: &str, field: &FieldView) {
    let Some(element) = by_id::<web_sys::HtmlElement>(id) else {
        return;
    };
    if let Some(input) = element.dyn_ref::<HtmlInputElement>() {
        input.set_value(&field.value);
    } else if let Some(area) = element.dyn_ref::<HtmlTextAreaElement>() {
        area.set_value(&field.value);
    } else if let Some(select) = element.dyn_ref::<HtmlSelectElement>() {
        select.set_value(&field.value);
        // A select has no read-only state.
        select.set_disabled(field.locked);
    }
    if let Some(placeholder) = &field.placeholder {
        let _ = element.set_attribute("placeholder", placeholder);
    }
    if field.locked {
        let _ = element.set_attribute("readonly", "");
        let _ = element.set_attribute("aria-readonly", "true");
        let _ = element.set_attribute("title", &crate::t!(&chrome::Messages, "locked_by_team"));
        let _ = element.class_list().add_1("locked");
    }
}

async fn load() {
    let managed = super::relay::managed();
    let settings: Settings = chrome::storage_get(&["settings"])
        .done()
        .await
        .ok()
        .and_then(|items| chrome::stored(&items, "settings"))
        .unwrap_or_default();
    let managed = managed.await;
    let view = settings::options_view(&settings, managed.as_ref());
    show("github-hosts", &view.github_hosts);
    show("cookie-hours", &view.cookie_hours);
    show("relay-url", &view.relay);
    show("page-marker", &view.page_marker);
    show("default-mode", &view.default_mode);
    if let (Some(note), Some(team)) = (by_id::<web_sys::HtmlElement>("team"), &view.team_note) {
        note.set_text_content(Some(&team.render(&chrome::Messages)));
        note.set_hidden(false);
    }
    if let (Some(param), Some(p)) = (
        by_id::<HtmlInputElement>("share-param"),
        settings.share_param.as_deref(),
    ) {
        param.set_value(p);
    }
    LOADED.with_borrow_mut(|l| *l = (settings, managed));
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-ready", "1");
    }
}

fn save() {
    let hosts = by_id::<HtmlTextAreaElement>("github-hosts").map(|e| e.value());
    let hours = by_id::<HtmlInputElement>("cookie-hours").map(|e| e.value());
    let param = by_id::<HtmlInputElement>("share-param").map(|e| e.value());
    let relay = by_id::<HtmlInputElement>("relay-url").map(|e| e.value());
    let marker = by_id::<HtmlSelectElement>("page-marker").map(|e| e.value());
    let mode = by_id::<HtmlSelectElement>("default-mode").map(|e| e.value());
    let settings = match Settings::from_form(&settings::Form {
        hosts: hosts.as_deref().unwrap_or(""),
        hours: hours.as_deref().unwrap_or(""),
        share_param: param.as_deref().unwrap_or(""),
        relay: relay.as_deref().unwrap_or(""),
        page_marker: marker.as_deref().unwrap_or(""),
        default_mode: mode.as_deref().unwrap_or(""),
    }) {
        Ok(s) => LOADED.with_borrow(|(stored, managed)| s.keep_locked(stored, managed.as_ref())),
        Err(why) => return say(&why),
    };
    // Started here, synchronously inside the click: the browser requires a gesture.
    let access = settings.relay().and_then(|r| settings::relay_access(&r));
    let asked = access.as_ref().map(|origin| {
        chrome::permissions_request(&chrome::Permissions {
            origins: std::slice::from_ref(origin),
        })
    });
    spawn_local(async move {
        if let (Some(asked), Some(origin)) = (asked, &access)
            && !asked.done().await.is_ok_and(|granted| granted.is_truthy())
        {
            return say(&settings::relay_access_refused(origin));
        }
        let call = chrome::storage_set(&chrome::StorageItems {
            settings: Some(&settings),
            ..Default::default()
        });
        let saved = call.done().await.map(drop).map_err(|e| e.into_message());
        say(&settings::save_outcome(saved));
    });
}

/// The options page's entry point, called by `options.js` after init.
#[wasm_bindgen]
pub fn start_options() {
    super::render::localize_page();
    if let Some(form) = by_id::<web_sys::HtmlElement>("settings") {
        // Not passive: the page must stay (no form navigation) while wasm saves.
        let options = gloo_events::EventListenerOptions::enable_prevent_default();
        gloo_events::EventListener::new_with_options(&form, "submit", options, |event| {
            event.prevent_default();
            save();
        })
        .forget(); // the form lives as long as the page
    }
    spawn_local(load());
}
