//! The edge: the `chrome.*` calls the extension makes, each taking a typed
//! `#[derive(Serialize)]` argument that serde-wasm-bindgen's JSON-compatible serializer turns
//! into the plain object Chromium reads (numbers, not BigInts or Maps), and [`JsError`], the
//! one error type for every failure here. MV3 APIs return promises when no callback is given;
//! a call that throws synchronously (an API missing because a permission is missing) and a
//! promise that rejects become the same `JsError`, built from the `JsValue` in one place.

use std::fmt;

use js_sys::{Function, Promise};
use protocol::messages::Request;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::routing::SessionRule;
use crate::settings::Settings;
use crate::state::{Applied, AwaitingAccess};
use crate::worker::{CachedList, TabInfo};

/// A failure at the edge, in the browser's words: a thrown or rejected `Error`'s `message`,
/// else the value as text; or why a value did not (de)serialize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsError(String);

impl From<JsValue> for JsError {
    fn from(value: JsValue) -> Self {
        let message = js_sys::Reflect::get(&value, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .or_else(|| value.as_string())
            .unwrap_or_else(|| format!("{value:?}"));
        JsError(message)
    }
}

impl From<serde_wasm_bindgen::Error> for JsError {
    fn from(e: serde_wasm_bindgen::Error) -> Self {
        JsError(e.to_string())
    }
}

impl fmt::Display for JsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl JsError {
    pub fn into_message(self) -> String {
        self.0
    }
}

/// `value` as a plain JS value.
pub fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsError> {
    Ok(value.serialize(&serde_wasm_bindgen::Serializer::json_compatible())?)
}

pub fn decode<T: DeserializeOwned>(value: JsValue) -> Result<T, JsError> {
    Ok(serde_wasm_bindgen::from_value(value)?)
}

/// A `chrome.*` call already started (the browser saw it when this was built), or why it
/// could not be.
pub struct Call(Result<Promise, JsError>);

impl Call {
    /// A call the browser was just asked to start (its `catch` binding's result).
    pub fn started(started: Result<Promise, JsValue>) -> Call {
        Call(started.map_err(JsError::from))
    }

    fn with<T: Serialize + ?Sized>(
        argument: &T,
        start: impl FnOnce(&JsValue) -> Result<Promise, JsValue>,
    ) -> Call {
        match to_js(argument) {
            Ok(value) => Call::started(start(&value)),
            Err(e) => Call(Err(e)),
        }
    }

    /// A call made in several steps (`browser::cookies`), as one promise.
    pub fn from_promise(promise: Promise) -> Call {
        Call(Ok(promise))
    }

    /// A call that could not be started.
    pub fn failed(error: JsError) -> Call {
        Call(Err(error))
    }

    /// The promise, for waiting on several calls at once.
    pub fn promise(&self) -> Option<Promise> {
        self.0.as_ref().ok().cloned()
    }

    /// A call `boot.js` started before the wasm ran: `from[key]` when it is a promise.
    pub fn early(from: &JsValue, key: &str) -> Option<Call> {
        let value = js_sys::Reflect::get(from, &key.into()).ok()?;
        value.dyn_into::<Promise>().ok().map(|p| Call(Ok(p)))
    }

    pub async fn done(self) -> Result<JsValue, JsError> {
        Ok(JsFuture::from(self.0?).await?)
    }

    pub async fn decoded<T: DeserializeOwned>(self) -> Result<T, JsError> {
        decode(self.done().await?)
    }
}

/// One key of a `storage.local.get` answer. Absent or unreadable (edited by hand, an older
/// shape) is `None`: skipped, not trusted.
pub fn stored<T: DeserializeOwned>(items: &JsValue, key: &str) -> Option<T> {
    let value = js_sys::Reflect::get(items, &key.into())
        .ok()
        .filter(|v| !v.is_undefined())?;
    decode(value).ok()
}

/// `chrome.cookies.set`. No `domain`: a host-only cookie (PLATFORM B).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CookieDetails<'a> {
    pub url: &'a str,
    pub name: &'a str,
    pub value: &'a str,
    pub path: &'a str,
    pub secure: bool,
    pub same_site: &'a str,
    /// Unix seconds.
    pub expiration_date: f64,
}

/// `chrome.cookies.getAll`.
#[derive(Serialize)]
pub struct CookiesOf<'a> {
    pub url: &'a str,
}

/// `chrome.cookies.remove`.
#[derive(Serialize)]
pub struct CookieRef<'a> {
    pub url: &'a str,
    pub name: &'a str,
}

/// A cookie as `chrome.cookies.getAll` returns it (the fields read).
#[derive(Deserialize)]
pub struct Cookie {
    pub name: String,
    pub value: String,
}

/// `chrome.declarativeNetRequest.updateSessionRules`: removals, then additions.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleUpdate<'a> {
    pub remove_rule_ids: &'a [u32],
    #[serde(skip_serializing_if = "<[SessionRule]>::is_empty")]
    pub add_rules: &'a [SessionRule],
}

/// `chrome.notifications.create`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub icon_url: &'a str,
    pub title: &'a str,
    pub message: &'a str,
}

/// `chrome.tabs.query`; the default asks for every tab.
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TabQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_window: Option<bool>,
}

/// A tab as `chrome.tabs` returns it (the fields read; all may be absent).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tab {
    pub id: Option<i32>,
    pub url: Option<String>,
    pub window_id: Option<i32>,
}

impl Tab {
    /// `None` for a tab without an id (devtools, apps).
    pub fn info(self) -> Option<TabInfo> {
        Some(TabInfo {
            id: self.id?,
            url: self.url.unwrap_or_default(),
        })
    }
}

/// `chrome.action.openPopup` options.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowRef {
    pub window_id: i32,
}

/// `chrome.windows.update`'s change.
#[derive(Serialize)]
struct Focus {
    focused: bool,
}

/// `chrome.tabs.create`.
#[derive(Serialize)]
pub struct NewTab<'a> {
    pub url: &'a str,
}

/// `chrome.permissions.request`.
#[derive(Serialize)]
pub struct Permissions<'a> {
    pub origins: &'a [String],
}

/// `chrome.action.setBadgeText`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BadgeText<'a> {
    pub tab_id: i32,
    pub text: &'a str,
}

/// `chrome.action.setTitle`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Title<'a> {
    pub tab_id: i32,
    pub title: &'a str,
}

/// `chrome.storage.local.set`: only the keys given are written.
#[derive(Serialize, Default)]
pub struct StorageItems<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<&'a Settings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applied: Option<&'a [Applied]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_list: Option<&'a CachedList>,
    /// The services whose environments notify (the environments page's toggles).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_services: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaiting_access: Option<&'a AwaitingAccess>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_granted: Option<&'a AwaitingAccess>,
}

/// What `chrome.permissions.onAdded` reports (the fields read).
#[derive(Deserialize)]
pub struct PermissionSet {
    #[serde(default)]
    pub origins: Vec<String>,
}

/// `navigator.userAgentData.brands[]`.
#[derive(Deserialize)]
pub struct Brand {
    pub brand: String,
}

mod raw {
    use super::*;

    #[wasm_bindgen]
    extern "C" {
        #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = sendNativeMessage, catch)]
        pub fn send_native_message(host: &str, message: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = connectNative, catch)]
        pub fn connect_native(host: &str) -> Result<Port, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = getURL)]
        pub fn get_url(path: &str) -> String;

        /// A `chrome.runtime.Port`.
        pub type Port;
        #[wasm_bindgen(method, js_name = postMessage, catch)]
        pub fn post_message(this: &Port, message: &JsValue) -> Result<(), JsValue>;
        #[wasm_bindgen(method, getter, js_name = onMessage)]
        pub fn on_message(this: &Port) -> ChromeEvent;
        #[wasm_bindgen(method, getter, js_name = onDisconnect)]
        pub fn on_disconnect(this: &Port) -> ChromeEvent;
        #[wasm_bindgen(method)]
        pub fn disconnect(this: &Port);

        /// A `chrome.events.Event`.
        pub type ChromeEvent;
        #[wasm_bindgen(method, js_name = addListener)]
        pub fn add_listener(this: &ChromeEvent, listener: &Function);

        #[wasm_bindgen(js_namespace = ["chrome", "tabs"], js_name = query, catch)]
        pub fn tabs_query(query: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "tabs"], js_name = get, catch)]
        pub fn tabs_get(tab_id: i32) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "tabs"], js_name = create, catch)]
        pub fn tabs_create(properties: &JsValue) -> Result<Promise, JsValue>;

        #[wasm_bindgen(js_namespace = ["chrome", "cookies"], js_name = getAll, catch)]
        pub fn cookies_get_all(details: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "cookies"], js_name = set, catch)]
        pub fn cookies_set(details: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "cookies"], js_name = remove, catch)]
        pub fn cookies_remove(details: &JsValue) -> Result<Promise, JsValue>;

        #[wasm_bindgen(js_namespace = ["chrome", "declarativeNetRequest"], js_name = getSessionRules, catch)]
        pub fn get_session_rules() -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "declarativeNetRequest"], js_name = updateSessionRules, catch)]
        pub fn update_session_rules(options: &JsValue) -> Result<Promise, JsValue>;

        #[wasm_bindgen(js_namespace = ["chrome", "action"], js_name = setBadgeText, catch)]
        pub fn set_badge_text(details: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "action"], js_name = setTitle, catch)]
        pub fn set_title(details: &JsValue) -> Result<Promise, JsValue>;

        #[wasm_bindgen(js_namespace = ["chrome", "notifications"], js_name = create, catch)]
        pub fn notifications_create(options: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "notifications"], js_name = create, catch)]
        pub fn notifications_create_with_id(
            id: &str,
            options: &JsValue,
        ) -> Result<Promise, JsValue>;

        #[wasm_bindgen(js_namespace = ["chrome", "storage", "local"], js_name = get, catch)]
        pub fn storage_get(keys: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "storage", "local"], js_name = set, catch)]
        pub fn storage_set(items: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "storage", "local"], js_name = remove, catch)]
        pub fn storage_remove(keys: &JsValue) -> Result<Promise, JsValue>;

        #[wasm_bindgen(js_namespace = ["chrome", "action"], js_name = openPopup, catch)]
        pub fn open_popup(options: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = getContexts, catch)]
        pub fn get_contexts(filter: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "windows"], js_name = update, catch)]
        pub fn windows_update(window_id: i32, update: &JsValue) -> Result<Promise, JsValue>;

        #[wasm_bindgen(js_namespace = ["chrome", "permissions"], js_name = request, catch)]
        pub fn permissions_request(permissions: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "permissions"], js_name = contains, catch)]
        pub fn permissions_contains(permissions: &JsValue) -> Result<Promise, JsValue>;

        #[wasm_bindgen(js_namespace = ["chrome", "scripting"], js_name = executeScript, catch)]
        pub fn execute_script(injection: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "scripting"], js_name = insertCSS, catch)]
        pub fn insert_css(injection: &JsValue) -> Result<Promise, JsValue>;

        #[wasm_bindgen(js_namespace = ["chrome", "i18n"], js_name = getMessage)]
        pub fn get_message(key: &str, substitutions: &js_sys::Array) -> String;
        #[wasm_bindgen(js_namespace = ["chrome", "tabs"], js_name = reload, catch)]
        pub fn tabs_reload(tab_id: i32) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "action"], js_name = setBadgeBackgroundColor, catch)]
        pub fn set_badge_background_color(details: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "storage", "session"], js_name = get, catch)]
        pub fn session_get(keys: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "storage", "session"], js_name = set, catch)]
        pub fn session_set(items: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "storage", "session"], js_name = remove, catch)]
        pub fn session_remove(keys: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["navigator", "clipboard"], js_name = writeText, catch)]
        pub fn clipboard_write_text(text: &str) -> Result<Promise, JsValue>;

        /// Exists in pages and workers alike.
        #[wasm_bindgen(js_name = setTimeout)]
        pub fn set_timeout(callback: &Function, ms: u32);
    }
}

pub use raw::Port;

pub fn send_native_message(request: &Request) -> Call {
    Call::with(request, |m| raw::send_native_message(crate::HOST_NAME, m))
}

pub fn connect_native() -> Result<Port, JsError> {
    Ok(raw::connect_native(crate::HOST_NAME)?)
}

impl Port {
    pub fn post(&self, request: &Request) -> Result<(), JsError> {
        Ok(self.post_message(&to_js(request)?)?)
    }

    pub fn on_message_add(&self, listener: &Function) {
        self.on_message().add_listener(listener);
    }

    pub fn on_disconnect_add(&self, listener: &Function) {
        self.on_disconnect().add_listener(listener);
    }
}

/// `chrome.runtime.lastError.message`, empty when there is none.
pub fn last_error() -> String {
    js_sys::Reflect::get(&js_sys::global(), &"chrome".into())
        .and_then(|c| js_sys::Reflect::get(&c, &"runtime".into()))
        .and_then(|r| js_sys::Reflect::get(&r, &"lastError".into()))
        .ok()
        .filter(|e| !e.is_undefined() && !e.is_null())
        .map(|e| JsError::from(e).into_message())
        .unwrap_or_default()
}

/// `chrome.permissions.onAdded.addListener(listener)`; nothing where the API is missing.
pub fn on_permissions_added(listener: &Function) {
    let event = ["chrome", "permissions", "onAdded"].into_iter().try_fold(
        JsValue::from(js_sys::global()),
        |o, k| {
            js_sys::Reflect::get(&o, &k.into())
                .ok()
                .filter(JsValue::is_object)
        },
    );
    if let Some(event) = event {
        event
            .unchecked_into::<raw::ChromeEvent>()
            .add_listener(listener);
    }
}

/// The extension URL of a packaged file.
pub fn get_url(path: &str) -> String {
    raw::get_url(path)
}

pub fn tabs_query(query: &TabQuery) -> Call {
    Call::with(query, raw::tabs_query)
}

pub fn tabs_get(tab_id: i32) -> Call {
    Call::started(raw::tabs_get(tab_id))
}

pub fn tabs_create(tab: &NewTab) -> Call {
    Call::with(tab, raw::tabs_create)
}

// The cookies calls go through `browser::cookies`, which adds Firefox's `firstPartyDomain`
// when first-party isolation asks for it.
pub fn cookies_get_all(of: &CookiesOf) -> Call {
    super::browser::cookies(of, of.url, cookies_get_all_js)
}

pub fn cookies_set(details: &CookieDetails) -> Call {
    super::browser::cookies(details, details.url, |d| Call::started(raw::cookies_set(d)))
}

pub fn cookies_remove(cookie: &CookieRef) -> Call {
    super::browser::cookies(cookie, cookie.url, |d| {
        Call::started(raw::cookies_remove(d))
    })
}

/// `chrome.cookies.getAll` with details built by hand.
pub fn cookies_get_all_js(details: &JsValue) -> Call {
    Call::started(raw::cookies_get_all(details))
}

pub fn get_session_rules() -> Call {
    Call::started(raw::get_session_rules())
}

pub fn update_session_rules(update: &RuleUpdate) -> Call {
    Call::with(update, raw::update_session_rules)
}

pub fn set_badge_text(badge: &BadgeText) -> Call {
    Call::with(badge, raw::set_badge_text)
}

pub fn set_title(title: &Title) -> Call {
    Call::with(title, raw::set_title)
}

pub fn notifications_create(notification: &Notification) -> Call {
    Call::with(notification, raw::notifications_create)
}

/// `chrome.notifications.create(id, …)`: a second one with the same id replaces the first.
pub fn notifications_create_with_id(id: &str, notification: &Notification) -> Call {
    Call::with(notification, |options| {
        raw::notifications_create_with_id(id, options)
    })
}

pub fn storage_get(keys: &[&str]) -> Call {
    Call::with(keys, raw::storage_get)
}

pub fn storage_set(items: &StorageItems) -> Call {
    Call::with(items, raw::storage_set)
}

pub fn storage_remove(keys: &[&str]) -> Call {
    Call::with(keys, raw::storage_remove)
}

/// `chrome.action.openPopup({windowId})`: the popup on that window's active tab.
pub fn open_popup(window: &WindowRef) -> Call {
    Call::with(window, raw::open_popup)
}

/// `chrome.runtime.getContexts({contextTypes: ["POPUP"]})`: the extension's open popups.
pub fn popup_contexts() -> Call {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Filter {
        context_types: [&'static str; 1],
    }
    Call::with(
        &Filter {
            context_types: ["POPUP"],
        },
        raw::get_contexts,
    )
}

/// `chrome.windows.update(id, {focused: true})`.
pub fn focus_window(window_id: i32) -> Call {
    Call::with(&Focus { focused: true }, |f| {
        raw::windows_update(window_id, f)
    })
}

/// Must be called synchronously inside the user's click: the browser requires a gesture.
pub fn permissions_request(permissions: &Permissions) -> Call {
    Call::with(permissions, raw::permissions_request)
}

/// `chrome.permissions.contains`: whether the extension holds them now (no prompt).
pub fn permissions_contains(permissions: &Permissions) -> Call {
    Call::with(permissions, raw::permissions_contains)
}

/// `chrome.runtime.id`: this extension's id (Firefox: its add-on id).
pub fn runtime_id() -> String {
    ["chrome", "runtime", "id"]
        .into_iter()
        .try_fold(JsValue::from(js_sys::global()), |o, k| {
            js_sys::Reflect::get(&o, &k.into()).ok()
        })
        .and_then(|id| id.as_string())
        .unwrap_or_default()
}

/// `{target: {tabId}, files: [file]}`: the tab's top frame (no `frameIds`, no `allFrames`).
/// Built by hand: a few calls do not earn a serializer of their own in the wasm.
fn injection(tab_id: i32, file: Option<&str>) -> JsValue {
    let target = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&target, &"tabId".into(), &tab_id.into());
    let injection = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&injection, &"target".into(), &target);
    if let Some(file) = file {
        let files = js_sys::Array::of1(&file.into());
        let _ = js_sys::Reflect::set(&injection, &"files".into(), &files);
    }
    injection.into()
}

/// `chrome.scripting.insertCSS({target, files: [file], origin: "USER"})`: the page's own
/// rules, even `!important`, cannot override a user-origin sheet.
pub fn insert_user_css(tab_id: i32, file: &str) -> Call {
    let injection = injection(tab_id, Some(file));
    let _ = js_sys::Reflect::set(&injection, &"origin".into(), &"USER".into());
    Call::started(raw::insert_css(&injection))
}

/// `chrome.scripting.executeScript({target, files: [file]})`, in the extension's isolated
/// world.
pub fn execute_file(tab_id: i32, file: &str) -> Call {
    Call::started(raw::execute_script(&injection(tab_id, Some(file))))
}

pub fn execute_function<T: Serialize>(tab_id: i32, global: &str, arg: &T) -> Call {
    let func = js_sys::Reflect::get(&js_sys::global(), &global.into())
        .ok()
        .filter(JsValue::is_function);
    let Some(func) = func else {
        return Call::failed(JsError(format!("{global} is not defined")));
    };
    match to_js(arg) {
        Ok(arg) => {
            let injection = injection(tab_id, None);
            let _ = js_sys::Reflect::set(&injection, &"func".into(), &func);
            let _ = js_sys::Reflect::set(&injection, &"args".into(), &js_sys::Array::of1(&arg));
            Call::started(raw::execute_script(&injection))
        }
        Err(e) => Call::failed(e),
    }
}

/// `chrome.i18n.getMessage`: the browser's language's words (Chromium follows `--lang`),
/// the catalogue of every word the extension shows.
pub struct Messages;

impl crate::i18n::Catalogue for Messages {
    fn message(&self, key: &str, args: &[String]) -> String {
        let substitutions: js_sys::Array = args.iter().map(|a| JsValue::from_str(a)).collect();
        raw::get_message(key, &substitutions)
    }
}

pub fn tabs_reload(tab_id: i32) -> Call {
    Call::started(raw::tabs_reload(tab_id))
}

/// `chrome.action.setBadgeBackgroundColor`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BadgeColor<'a> {
    pub tab_id: i32,
    pub color: &'a str,
}

pub fn set_badge_background_color(color: &BadgeColor) -> Call {
    Call::with(color, raw::set_badge_background_color)
}

/// `chrome.storage.session.get`: what lives as long as the browser session (the last
/// response seen per tab).
pub fn session_get(keys: &[&str]) -> Call {
    Call::with(keys, raw::session_get)
}

/// `chrome.storage.session.set({key: value})`.
pub fn session_set<T: Serialize>(key: &str, value: &T) -> Call {
    let mut items = std::collections::BTreeMap::new();
    items.insert(key, value);
    Call::with(&items, raw::session_set)
}

pub fn session_remove(keys: &[&str]) -> Call {
    Call::with(keys, raw::session_remove)
}

/// `navigator.clipboard.writeText`, inside the user's click.
pub fn clipboard_write_text(text: &str) -> Call {
    Call::started(raw::clipboard_write_text(text))
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: u32) {
    let promise = Promise::new(&mut |resolve, _| raw::set_timeout(&resolve, ms));
    let _ = JsFuture::from(promise).await;
}
