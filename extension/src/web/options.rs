//! The options page: shows the stored settings in the form and saves what the form says
//! once [`Settings::from_form`] accepts it, saying in the page (in the browser's language)
//! what was saved or refused.

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlInputElement, HtmlTextAreaElement};

use super::chrome;
use crate::settings::{self, Settings};

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

async fn load() {
    let settings: Settings = chrome::storage_get(&["settings"])
        .done()
        .await
        .ok()
        .and_then(|items| chrome::stored(&items, "settings"))
        .unwrap_or_default();
    if let Some(hosts) = by_id::<HtmlTextAreaElement>("github-hosts") {
        hosts.set_value(&settings.github_hosts.join("\n"));
    }
    if let (Some(hours), Some(h)) = (
        by_id::<HtmlInputElement>("cookie-hours"),
        settings.cookie_lifetime_hours,
    ) {
        hours.set_value(&h.to_string());
    }
    if let (Some(param), Some(p)) = (
        by_id::<HtmlInputElement>("share-param"),
        settings.share_param.as_deref(),
    ) {
        param.set_value(p);
    }
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
    let settings = match Settings::from_form(&settings::Form {
        hosts: hosts.as_deref().unwrap_or(""),
        hours: hours.as_deref().unwrap_or(""),
        share_param: param.as_deref().unwrap_or(""),
    }) {
        Ok(s) => s,
        Err(why) => return say(&why),
    };
    let call = chrome::storage_set(&chrome::StorageItems {
        settings: Some(&settings),
        ..Default::default()
    });
    spawn_local(async move {
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
