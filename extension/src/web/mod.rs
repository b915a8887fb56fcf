//! The browser shell (wasm32 only): the popup and service-worker entry points, a dispatch
//! loop that feeds [`Event`]s to the one [`State`] and runs the [`Effect`]s it returns with
//! `chrome.*` calls, reporting outcomes back as events. It decides nothing: every rule lives
//! in `state` and `view`.

mod chrome;
mod options;
mod render;
#[cfg(test)]
mod smoke;
mod wire;

use std::cell::{Cell, RefCell};

use serde::Serialize;
use serde::de::DeserializeOwned;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};

use crate::failure::{BrowserCall, Failure, LocalError};
use crate::routing::SessionRule;
use crate::state::{Applied, Config, CookieSeen, Effect, Event, State};

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::new(Config::default()));
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
    /// The worker's copy of every preview: seeded by a `list` after each `subscribed`, then
    /// kept current by `previews_changed` events.
    static LIVE: RefCell<crate::live::Live> = RefCell::new(crate::live::Live::default());
    static IS_WORKER: Cell<bool> = const { Cell::new(false) };
    /// The pause before the worker reopens its companion port.
    static RETRY_MS: Cell<i32> = const { Cell::new(1000) };
    /// Cookie writes not yet confirmed; opening a tab waits for them.
    static PENDING_COOKIES: RefCell<Vec<js_sys::Promise>> = const { RefCell::new(Vec::new()) };
}

/// Feeds one event to the state and runs what it asks for. The state is borrowed only for
/// `update`, so effects may dispatch again.
pub(crate) fn dispatch(event: Event) {
    let effects = STATE.with_borrow_mut(|s| s.update(event));
    for effect in effects {
        run(effect);
    }
}

fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .unwrap_or(JsValue::NULL)
}

fn describe(err: &JsValue) -> String {
    js_sys::Reflect::get(err, &"message".into())
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| err.as_string())
        .unwrap_or_else(|| format!("{err:?}"))
}

/// Awaits a chrome.* promise, folding a synchronous throw into the same error.
async fn call(promise: Result<js_sys::Promise, JsValue>) -> Result<JsValue, String> {
    match promise {
        Ok(p) => JsFuture::from(p).await.map_err(|e| describe(&e)),
        Err(e) => Err(describe(&e)),
    }
}

fn decode<T: DeserializeOwned>(value: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(value).map_err(|e| e.to_string())
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        let _ = js_sys::Reflect::set(&o, &(*k).into(), v);
    }
    o.into()
}

/// Runs a browser call in the background; a failure becomes [`Event::EffectFailed`].
fn background(what: BrowserCall, promise: Result<js_sys::Promise, JsValue>) {
    spawn_local(async move {
        if let Err(error) = call(promise).await {
            dispatch(Event::EffectFailed(LocalError::Browser {
                call: what,
                error,
            }));
        }
    });
}

fn now_secs() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

fn next_id() -> u64 {
    NEXT_ID.with(|n| n.replace(n.get() + 1))
}

/// One `list` over `sendNativeMessage` (a fresh companion process per call, answering
/// from its cache), following `next_cursor` until the last page. A cursor that expired
/// because a refresh replaced the data restarts the listing once.
async fn fetch_list(refresh: bool) -> Result<wire::Listed, Failure> {
    let mut restarted = false;
    let mut cursor: Option<String> = None;
    let mut listed = wire::Listed {
        previews: Vec::new(),
        failures: Vec::new(),
        age_ms: 0,
        fetched_at_ms: 0,
        stale: false,
    };
    loop {
        let request = if refresh && cursor.is_none() {
            wire::refresh(next_id())
        } else {
            wire::list(next_id(), cursor.take())
        };
        let request = to_js(&request);
        let message = call(chrome::send_native_message(crate::HOST_NAME, &request))
            .await
            .map_err(|error| Failure::from(LocalError::unreachable(&error)))?;
        match decode::<wire::Reply>(message).map_err(wire::unreadable)? {
            wire::Reply::List(page) => {
                if listed.previews.is_empty() {
                    listed.age_ms = page.age_ms;
                    listed.fetched_at_ms = page.fetched_at_ms;
                    listed.failures = page.failures;
                }
                listed.stale |= page.stale;
                listed.previews.extend(page.previews);
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => return Ok(listed),
                }
            }
            wire::Reply::Error(e)
                if e.error.code == protocol::messages::ErrorCode::CursorExpired && !restarted =>
            {
                restarted = true;
                listed.previews.clear();
                listed.stale = false;
            }
            wire::Reply::Error(e) => return Err(e.error.into()),
            other => {
                return Err(wire::unreadable(format!(
                    "expected a list, got {}",
                    reply_kind(&other)
                )));
            }
        }
    }
}

fn reply_kind(reply: &wire::Reply) -> &'static str {
    match reply {
        wire::Reply::Hello(_) => "hello",
        wire::Reply::List(_) => "list",
        wire::Reply::Subscribed(_) => "subscribed",
        wire::Reply::Unsubscribed(_) => "unsubscribed",
        wire::Reply::PreviewsChanged(_) => "previews_changed",
        wire::Reply::Error(_) => "error",
    }
}

/// The last list seen, kept in `chrome.storage.local` so the popup shows rows at once.
#[derive(serde::Serialize, serde::Deserialize)]
struct CachedList {
    previews: Vec<protocol::Preview>,
    fetched_at_ms: f64,
}

fn save_cached(previews: &[protocol::Preview], fetched_at_ms: f64) {
    let cached = CachedList {
        previews: previews.to_vec(),
        fetched_at_ms,
    };
    background(
        BrowserCall::RememberList,
        chrome::storage_set(&obj(&[("last_list", to_js(&cached))])),
    );
}

fn apply_settings(settings: crate::settings::Settings) {
    let config = settings.config();
    STATE.with_borrow_mut(|s| s.config = config);
}

fn stored_request() -> Result<js_sys::Promise, JsValue> {
    chrome::storage_get(&to_js(&["settings", "last_list"]))
}

/// Reads `settings` and `last_list` from storage (missing or unreadable ones are skipped).
/// Takes the `storage.local.get` promise, so callers can start it alongside other calls.
async fn load_stored(request: Result<js_sys::Promise, JsValue>) -> Option<CachedList> {
    let stored = call(request).await.ok()?;
    let field = |k: &str| {
        js_sys::Reflect::get(&stored, &k.into())
            .ok()
            .filter(|v| !v.is_undefined())
    };
    apply_settings(
        field("settings")
            .and_then(|v| decode(v).ok())
            .unwrap_or_default(),
    );
    field("last_list").and_then(|v| decode(v).ok())
}

/// Resolves after `ms` milliseconds (`setTimeout` exists in pages and workers alike).
async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let set_timeout = js_sys::Reflect::get(&js_sys::global(), &"setTimeout".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
        if let Some(f) = set_timeout {
            let _ = f.call2(&JsValue::NULL, &resolve, &ms.into());
        }
    });
    let _ = JsFuture::from(promise).await;
}

/// After a cleanup removed routing, every open tab may need another badge, not only the
/// one the worker looked at last. The state follows one tab at a time, so the tabs are
/// walked in turn, each until its cookies, records and rules were read (at most ~2 s).
async fn refresh_badges() {
    let Ok(tabs) = call(chrome::tabs_query(&obj(&[]))).await else {
        return;
    };
    for tab in js_sys::Array::from(&tabs).iter() {
        let Some((tab_id, url)) = js_tab(&tab) else {
            continue;
        };
        if crate::state::parse_web_url(&url).is_none() {
            continue;
        }
        dispatch(Event::TabUpdated { tab_id, url });
        for _ in 0..100 {
            let settled = STATE
                .with_borrow(|s| s.cookies.is_some() && s.applied.is_some() && s.rules.is_some());
            if settled {
                break;
            }
            sleep(20).await;
        }
    }
}

/// The worker's answer to a `previews_changed` event or another port message.
fn port_message(message: JsValue) {
    let event = match decode::<wire::Reply>(message) {
        Ok(wire::Reply::Subscribed(_)) => {
            spawn_local(seed());
            None
        }
        Ok(wire::Reply::PreviewsChanged(changed)) => {
            let update = LIVE.with_borrow_mut(|live| live.changed(changed.changes));
            if let Some(update) = update {
                save_cached(&update.previews, changed.fetched_at_ms as f64);
                dispatch(Event::PreviewsChanged {
                    previews: update.previews,
                    deleted: update.deleted,
                });
            }
            Some(Event::ServersFailed {
                failures: changed.failures,
            })
        }
        Ok(wire::Reply::Error(e)) => Some(Event::CompanionFailed(e.error.into())),
        Ok(_) => None,
        Err(e) => Some(Event::CompanionFailed(wire::unreadable(e))),
    };
    if let Some(event) = event {
        dispatch(event);
    }
}

fn run(effect: Effect) {
    match effect {
        // The companion answers `list` at once from its cache; when that is stale, it is
        // shown and a `refresh` (which waits for Argo CD) follows.
        Effect::RequestList => spawn_local(async {
            let mut refresh = false;
            loop {
                match fetch_list(refresh).await {
                    Ok(listed) => {
                        save_cached(&listed.previews, listed.fetched_at_ms as f64);
                        let stale = listed.stale;
                        dispatch(Event::ListArrived {
                            previews: listed.previews,
                            age_secs: listed.age_ms / 1000,
                            stale,
                        });
                        dispatch(Event::ServersFailed {
                            failures: listed.failures,
                        });
                        if !stale || refresh {
                            return;
                        }
                        refresh = true;
                        dispatch(Event::Refreshing { on: true });
                    }
                    // A failed refresh after a list that worked leaves the list shown, and
                    // says why beside it.
                    Err(failure) if refresh => return dispatch(Event::RefreshFailed(failure)),
                    Err(failure) => return dispatch(Event::CompanionFailed(failure)),
                }
            }
        }),
        Effect::ReadCookies { url, host } => spawn_local(async move {
            let details = obj(&[("url", url.clone().into())]);
            match call(chrome::cookies_get_all(&details)).await {
                Ok(list) => {
                    let cookies = js_sys::Array::from(&list)
                        .iter()
                        .map(|c| CookieSeen {
                            name: js_string(&c, "name"),
                            value: js_string(&c, "value"),
                        })
                        .collect();
                    dispatch(Event::CookiesRead { host, cookies });
                }
                Err(error) => dispatch(Event::EffectFailed(LocalError::Browser {
                    call: BrowserCall::ReadCookies { url },
                    error,
                })),
            }
        }),
        Effect::ReadRules => spawn_local(async {
            let rules = call(chrome::get_session_rules())
                .await
                .and_then(decode::<Vec<SessionRule>>);
            match rules {
                Ok(rules) => dispatch(Event::RulesRead { rules }),
                Err(error) => dispatch(Event::EffectFailed(LocalError::Browser {
                    call: BrowserCall::ReadRules,
                    error,
                })),
            }
        }),
        Effect::LoadApplied => spawn_local(async {
            let stored = call(chrome::storage_get(&"applied".into())).await;
            let applied = stored
                .and_then(|o| js_sys::Reflect::get(&o, &"applied".into()).map_err(|e| describe(&e)))
                .and_then(|v| {
                    if v.is_undefined() {
                        Ok(Vec::new())
                    } else {
                        decode::<Vec<Applied>>(v)
                    }
                })
                .unwrap_or_default();
            dispatch(Event::AppliedLoaded { applied });
        }),
        // Read, change by key, write: the other context's changes since its last read stay.
        Effect::SaveApplied { drop, add } => spawn_local(async move {
            let stored = call(chrome::storage_get(&"applied".into()))
                .await
                .and_then(|o| js_sys::Reflect::get(&o, &"applied".into()).map_err(|e| describe(&e)))
                .ok()
                .filter(|v| !v.is_undefined())
                .and_then(|v| decode::<Vec<Applied>>(v).ok())
                .unwrap_or_default();
            let applied = crate::state::merge_applied(stored, &drop, &add);
            if let Err(error) =
                call(chrome::storage_set(&obj(&[("applied", to_js(&applied))]))).await
            {
                dispatch(Event::EffectFailed(LocalError::Browser {
                    call: BrowserCall::RememberApplied,
                    error,
                }));
            }
        }),
        Effect::RequestHostPermission {
            origins,
            service,
            choice,
            open,
        } => {
            // Called synchronously inside the click: the browser requires a user gesture.
            let promise = chrome::permissions_request(&obj(&[("origins", to_js(&origins))]));
            spawn_local(async move {
                let granted = call(promise).await.map(|v| v.is_truthy());
                dispatch(Event::HostPermission {
                    service,
                    choice,
                    open,
                    granted: granted.unwrap_or(false),
                });
            });
        }
        Effect::SetCookie {
            url,
            name,
            value,
            secure,
            expires_in_secs,
        } => {
            // No `domain`: a host-only cookie (PLATFORM B).
            let details = obj(&[
                ("url", url.clone().into()),
                ("name", name.clone().into()),
                ("value", value.into()),
                ("path", "/".into()),
                ("secure", secure.into()),
                ("sameSite", "lax".into()),
                (
                    "expirationDate",
                    ((now_secs() + expires_in_secs) as f64).into(),
                ),
            ]);
            let promise = chrome::cookies_set(&details);
            if let Ok(p) = &promise {
                PENDING_COOKIES.with_borrow_mut(|v| v.push(p.clone()));
            }
            spawn_local(async move {
                let failed = match call(promise).await {
                    Ok(v) if v.is_null() || v.is_undefined() => {
                        Some(LocalError::CookieRefused { name, url })
                    }
                    Ok(_) => None,
                    Err(error) => Some(LocalError::Browser {
                        call: BrowserCall::SetCookie { name, url },
                        error,
                    }),
                };
                if let Some(error) = failed {
                    dispatch(Event::EffectFailed(error));
                }
            });
        }
        Effect::RemoveCookie { url, name } => background(
            BrowserCall::RemoveCookie {
                name: name.clone(),
                url: url.clone(),
            },
            chrome::cookies_remove(&obj(&[("url", url.into()), ("name", name.into())])),
        ),
        Effect::AddSessionRule { rule } => background(
            BrowserCall::AddRule,
            chrome::update_session_rules(&obj(&[
                ("removeRuleIds", to_js(&[rule.id])),
                ("addRules", to_js(&[rule])),
            ])),
        ),
        Effect::RemoveSessionRules { ids } => background(
            BrowserCall::RemoveRules,
            chrome::update_session_rules(&obj(&[("removeRuleIds", to_js(&ids))])),
        ),
        Effect::SetBadge {
            tab_id,
            text,
            title,
        } => {
            background(
                BrowserCall::SetBadge,
                chrome::set_badge_text(&obj(&[("tabId", tab_id.into()), ("text", text.into())])),
            );
            background(
                BrowserCall::SetTitle,
                chrome::set_title(&obj(&[("tabId", tab_id.into()), ("title", title.into())])),
            );
        }
        Effect::Notify { title, message } => {
            if IS_WORKER.get() {
                spawn_local(refresh_badges());
            }
            background(
                BrowserCall::Notify,
                chrome::notifications_create(&obj(&[
                    ("type", "basic".into()),
                    ("iconUrl", chrome::get_url("icons/icon128.png").into()),
                    ("title", title.into()),
                    ("message", message.into()),
                ])),
            )
        }
        Effect::OpenTab { url } => {
            // The new tab's first request must carry the cookie just set: wait for it.
            let pending = PENDING_COOKIES.with_borrow_mut(std::mem::take);
            spawn_local(async move {
                let all =
                    js_sys::Promise::all_settled(&pending.into_iter().collect::<js_sys::Array>());
                let _ = JsFuture::from(all).await;
                if let Err(error) =
                    call(chrome::tabs_create(&obj(&[("url", url.clone().into())]))).await
                {
                    dispatch(Event::EffectFailed(LocalError::Browser {
                        call: BrowserCall::OpenTab { url },
                        error,
                    }));
                }
            });
        }
        Effect::Render => {
            let view = STATE.with_borrow(crate::view::view);
            render::render(&view);
        }
    }
}

fn js_string(o: &JsValue, key: &str) -> String {
    js_sys::Reflect::get(o, &key.into())
        .ok()
        .and_then(|v| v.as_string())
        .unwrap_or_default()
}

fn js_tab(tab: &JsValue) -> Option<(i32, String)> {
    let id = js_sys::Reflect::get(tab, &"id".into()).ok()?.as_f64()? as i32;
    Some((id, js_string(tab, "url")))
}

/// `navigator.userAgentData.brands[].brand` (empty where the browser has none).
fn brands() -> Vec<String> {
    let get = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &k.into()).ok();
    let Some(brands) = get(&js_sys::global(), "navigator")
        .and_then(|n| get(&n, "userAgentData"))
        .and_then(|d| get(&d, "brands"))
        .filter(js_sys::Array::is_array)
    else {
        return Vec::new();
    };
    js_sys::Array::from(&brands)
        .iter()
        .map(|b| js_string(&b, "brand"))
        .collect()
}

/// The popup's entry point, called by `popup.js` after init. The tab is the active one, or
/// `?tab=<id>` when the popup is opened as a page (how the end-to-end suite drives it).
#[wasm_bindgen]
pub fn start_popup() {
    render::wire_static();
    spawn_local(async {
        let search = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        let pinned = web_sys::UrlSearchParams::new_with_str(&search)
            .ok()
            .and_then(|p| p.get("tab"))
            .and_then(|t| t.parse::<i32>().ok());
        // Both browser calls run at once: this is the popup's time to first rows.
        let stored = stored_request();
        let tab = match pinned {
            Some(id) => call(chrome::tabs_get(id)).await,
            None => call(chrome::tabs_query(&obj(&[
                ("active", true.into()),
                ("currentWindow", true.into()),
            ])))
            .await
            .map(|tabs| js_sys::Array::from(&tabs).get(0)),
        };
        let (tab_id, url) = tab
            .ok()
            .as_ref()
            .and_then(js_tab)
            .unwrap_or((-1, String::new()));
        let cached = load_stored(stored).await;
        let browser = crate::view::browser_from_brands(&brands());
        STATE.with_borrow_mut(|s| s.browser = browser);
        dispatch(Event::PopupOpened {
            tab_id,
            url,
            now_secs: now_secs(),
        });
        // The companion's answer is awaited in the background: until it comes, the last
        // known list (marked stale, with its age) shows at once.
        if let Some(cached) = cached {
            let age_ms = (js_sys::Date::now() - cached.fetched_at_ms).max(0.0);
            dispatch(Event::ListArrived {
                previews: cached.previews,
                age_secs: (age_ms / 1000.0) as u64,
                stale: true,
            });
            dispatch(Event::Refreshing { on: true });
        }
        render::mark_ready();
    });
}

/// The service worker's entry point, called once by `background.js` after the lazy init:
/// reads the settings and opens the `subscribe` port for live updates (which also keeps
/// the worker alive).
#[wasm_bindgen]
pub fn start_worker() {
    IS_WORKER.set(true);
    spawn_local(async {
        load_stored(stored_request()).await;
    });
    subscribe();
}

/// Reads the whole list once subscribed: the subscription's first events are only a diff
/// from the companion's disk cache, so they are held until this seed is in.
async fn seed() {
    let listed = fetch_list(false).await.ok();
    let fetched_at_ms = listed.as_ref().map(|l| l.fetched_at_ms as f64);
    let update = LIVE.with_borrow_mut(|live| live.seed(listed.map(|l| l.previews)));
    if let Some(at) = fetched_at_ms {
        save_cached(&update.previews, at);
    }
    dispatch(Event::PreviewsChanged {
        previews: update.previews,
        deleted: update.deleted,
    });
}

/// Opens a `connectNative` port and subscribes. When the port closes (the companion
/// exited, was updated, or is not installed), it is opened again after a pause growing
/// from 1 s to 60 s; a message on the port resets the pause.
fn subscribe() {
    // Events of the new subscription wait for its seed (see `seed`).
    LIVE.with_borrow_mut(crate::live::Live::subscribed_again);
    let port = match chrome::connect_native(crate::HOST_NAME) {
        Ok(port) => port,
        Err(e) => return resubscribe_later(&describe(&e)),
    };
    let on_message = Closure::<dyn Fn(JsValue)>::new(|message: JsValue| {
        RETRY_MS.set(1000);
        port_message(message);
    });
    port.on_message()
        .add_listener(on_message.as_ref().unchecked_ref());
    on_message.forget(); // lives as long as the port
    let on_disconnect = Closure::<dyn Fn()>::new(|| {
        let error = js_sys::Reflect::get(&js_sys::global(), &"chrome".into())
            .and_then(|c| js_sys::Reflect::get(&c, &"runtime".into()))
            .and_then(|r| js_sys::Reflect::get(&r, &"lastError".into()))
            .map(|e| describe(&e))
            .unwrap_or_default();
        resubscribe_later(&error);
    });
    port.on_disconnect()
        .add_listener(on_disconnect.as_ref().unchecked_ref());
    on_disconnect.forget();
    let _ = port.post_message(&to_js(&wire::subscribe(next_id())));
}

fn resubscribe_later(error: &str) {
    let ms = RETRY_MS.get();
    RETRY_MS.set((ms * 2).min(60_000));
    web_sys::console::warn_1(
        &format!("preview-switch companion port closed ({error}); reconnecting in {ms} ms").into(),
    );
    spawn_local(async move {
        sleep(ms).await;
        subscribe();
    });
}

/// `chrome.tabs.onUpdated` (forwarded by `background.js`): refresh that tab's badge.
#[wasm_bindgen]
pub fn worker_tab_updated(tab_id: i32, url: String) {
    dispatch(Event::TabUpdated { tab_id, url });
}

/// `chrome.tabs.onRemoved`: drop that tab's routing rules.
#[wasm_bindgen]
pub fn worker_tab_closed(tab_id: i32) {
    dispatch(Event::TabClosed { tab_id });
}
