//! Every place where Chromium and Firefox answer the same `chrome.*` call differently, so the
//! rest of `web/` speaks one dialect (the research behind each is in PLATFORM.md F):
//! - which browser this is: Chromium's `navigator.userAgentData` brands, Firefox's
//!   `runtime.getBrowserInfo()` (Firefox has no userAgentData, Chromium no getBrowserInfo);
//! - "no companion installed": Chromium says `Specified native messaging host not found`,
//!   Firefox `No such native application <name>`; told apart by the pure
//!   `failure::LocalError::unreachable`, since the worker needs it too;
//! - why a `connectNative` port closed: Chromium sets `runtime.lastError` in `onDisconnect`,
//!   Firefox leaves it null and puts the reason on the port (`port.error`);
//! - cookies under Firefox's first-party isolation: every cookies call is refused unless it
//!   names a `firstPartyDomain`, a property Chromium refuses outright; so it is added only
//!   when Firefox asks for it. Total Cookie Protection (Firefox's default) partitions only
//!   third-party cookies: the routing cookie is the top-level site's own, so no
//!   `partitionKey` is given in either browser;
//! - `declarativeNetRequest.getSessionRules`: Firefox writes every absent optional field as
//!   `null`, Chromium leaves it out; nulls are dropped before decoding.

use js_sys::{Array, Object, Promise, Reflect};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, future_to_promise};

use super::chrome::{self, Call, JsError};

/// The word Firefox's refusal names when first-party isolation wants a `firstPartyDomain`.
const FIRST_PARTY_DOMAIN: &str = "firstPartyDomain";

fn get(object: &JsValue, key: &str) -> Option<JsValue> {
    Reflect::get(object, &key.into())
        .ok()
        .filter(|v| !v.is_undefined() && !v.is_null())
}

/// The browser's names, for `view::browser_from_brands`: the brands, or in Firefox the
/// `getBrowserInfo` name (`Firefox`); empty when neither answers. Firefox's call starts
/// here, so it runs beside the popup's other first calls.
pub fn names() -> impl std::future::Future<Output = Vec<String>> {
    let brands: Vec<String> = get(&js_sys::global(), "navigator")
        .and_then(|n| get(&n, "userAgentData"))
        .and_then(|d| get(&d, "brands"))
        .and_then(|b| chrome::decode::<Vec<chrome::Brand>>(b).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|b| b.brand)
        .collect();
    let info = brands
        .is_empty()
        .then(|| get(&js_sys::global(), "chrome").and_then(|c| get(&c, "runtime")))
        .flatten()
        .and_then(|runtime| {
            get(&runtime, "getBrowserInfo")
                .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
                .and_then(|f| f.call0(&runtime).ok())
                .and_then(|p| p.dyn_into::<Promise>().ok())
        });
    async move {
        let Some(info) = info else {
            return brands;
        };
        JsFuture::from(info)
            .await
            .ok()
            .and_then(|i| get(&i, "name"))
            .and_then(|n| n.as_string())
            .into_iter()
            .collect()
    }
}

/// `navigator.platform` (`Linux x86_64`, `Win32`, `MacIntel`), empty when absent.
pub fn platform() -> String {
    get(&js_sys::global(), "navigator")
        .and_then(|n| get(&n, "platform"))
        .and_then(|p| p.as_string())
        .unwrap_or_default()
}

/// Why `port` closed: Firefox's `port.error`, else Chromium's `runtime.lastError` (which
/// is only set while the `onDisconnect` listener runs); empty when neither says.
pub fn disconnect_reason(port: &JsValue) -> String {
    match get(port, "error") {
        Some(error) => JsError::from(error).into_message(),
        None => chrome::last_error(),
    }
}

/// `value` with every `null` property left out, in nested objects and arrays too.
pub fn without_nulls(value: JsValue) -> JsValue {
    if Array::is_array(&value) {
        let array = Array::from(&value);
        return array.iter().map(without_nulls).collect::<Array>().into();
    }
    if !value.is_object() {
        return value;
    }
    let out = Object::new();
    for entry in Object::entries(value.unchecked_ref::<Object>()).iter() {
        let pair = Array::from(&entry);
        let v = pair.get(1);
        if !v.is_null() {
            let _ = Reflect::set(&out, &pair.get(0), &without_nulls(v));
        }
    }
    out.into()
}

/// The base domain (eTLD+1) Firefox keys first-party cookies by: the host itself for IP
/// addresses and single labels, else the shortest suffix that is not a shared one.
pub fn base_domain(host: &str) -> String {
    let is_ip = host.starts_with('[') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if is_ip || !host.contains('.') {
        return host.to_owned();
    }
    let labels: Vec<&str> = host.split('.').collect();
    (2..=labels.len())
        .map(|n| labels[labels.len() - n..].join("."))
        .find(|candidate| {
            !protocol::policy::Suffixes::is_public_suffix(
                &protocol::policy::KnownSuffixes,
                candidate,
            )
        })
        .unwrap_or_else(|| host.to_owned())
}

/// The `firstPartyDomain` for cookies of `url`'s `host`: the one the site's own cookies
/// carry when there are some (Firefox's own answer), else the base domain.
async fn first_party_domain(url: &str, host: &str) -> String {
    // `firstPartyDomain: null` asks for the cookies of every first-party domain.
    let details = Object::new();
    let _ = Reflect::set(&details, &"url".into(), &url.into());
    let _ = Reflect::set(&details, &FIRST_PARTY_DOMAIN.into(), &JsValue::NULL);
    let known = chrome::cookies_get_all_js(&details)
        .done()
        .await
        .ok()
        .and_then(|cookies| {
            Array::from(&cookies)
                .iter()
                .filter_map(|c| get(&c, FIRST_PARTY_DOMAIN)?.as_string())
                .find(|d| !d.is_empty())
        });
    known.unwrap_or_else(|| base_domain(host))
}

/// A cookies call (`getAll`, `set`, `remove`) with `details`; when Firefox refuses it for
/// want of a `firstPartyDomain` (first-party isolation is on), made once more with one.
pub fn cookies(details: &impl Serialize, url: &str, start: fn(&JsValue) -> Call) -> Call {
    let first = match chrome::to_js(details) {
        Ok(value) => value,
        Err(e) => return Call::failed(e),
    };
    let url = url.to_owned();
    Call::from_promise(future_to_promise(async move {
        match start(&first).done().await {
            Err(e) if e.to_string().contains(FIRST_PARTY_DOMAIN) => {
                let host = crate::state::parse_web_url(&url).map(|(_, h)| h);
                let Some(host) = host else {
                    return Err(JsValue::from_str(&e.into_message()));
                };
                let domain = first_party_domain(&url, &host).await;
                let _ = Reflect::set(&first, &FIRST_PARTY_DOMAIN.into(), &domain.into());
                start(&first)
                    .done()
                    .await
                    .map_err(|e| JsValue::from_str(&e.into_message()))
            }
            other => other.map_err(|e| JsValue::from_str(&e.into_message())),
        }
    }))
}
