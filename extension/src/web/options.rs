//! The options page: shows the stored settings in the form and saves what the form says
//! once [`Settings::from_form`] accepts it, saying in the page what was saved or refused.
//! A relay address needs host access to the relay, asked for from the Save click itself.

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

fn say(text: &str) {
    if let Some(status) = by_id::<web_sys::HtmlElement>("status") {
        status.set_text_content(Some(text));
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
    if let Some(relay) = by_id::<HtmlInputElement>("relay-url") {
        relay.set_value(settings.relay_url.as_deref().unwrap_or(""));
        // What the team preset shows as the placeholder: used when no companion is installed.
        if let Some(team) = super::relay::managed().await.and_then(|m| m.relay()) {
            let _ = relay.set_attribute("placeholder", &team);
        }
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
    let relay = by_id::<HtmlInputElement>("relay-url").map(|e| e.value());
    let settings = match Settings::from_form(
        hosts.as_deref().unwrap_or(""),
        hours.as_deref().unwrap_or(""),
        relay.as_deref().unwrap_or(""),
    ) {
        Ok(s) => s,
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
