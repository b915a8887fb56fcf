//! The browser shell (wasm32 only), a thin executor: the entry points (`start_popup`,
//! `start_worker`, the tab events `background.js` forwards), a dispatch loop that feeds
//! [`Event`]s to the context's one [`Worker`] and runs each [`Effect`] it returns with one
//! `chrome.*` call (`chrome`), reporting the outcome back as an event. It decides nothing:
//! what to ask, when, and what an answer means live in `worker`, `state` and `view`.

mod browser;
mod chrome;
mod envs;
mod options;
mod relay;
mod render;
#[cfg(test)]
mod smoke;

use std::cell::RefCell;

use protocol::messages::{Reply, Request};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};

use crate::failure::{BrowserCall, LocalError};
use crate::routing::SessionRule;
use crate::state::{self, Applied, CookieSeen};
use crate::worker::{Effect, Event, Stored, Worker};
use chrome::{Call, JsError};

thread_local! {
    static WORKER: RefCell<Worker> = RefCell::new(Worker::default());
    /// Cookie writes not yet confirmed; opening a tab waits for them.
    static PENDING_COOKIES: RefCell<Vec<js_sys::Promise>> = const { RefCell::new(Vec::new()) };
    /// The subscription port, for requests posted on it (`watch_envs`) and to close it
    /// when the worker moves to a relay.
    static PORT: RefCell<Option<chrome::Port>> = const { RefCell::new(None) };
}

/// Feeds one event to the worker and runs what it asks for. The worker is borrowed only
/// for `update`, so effects may dispatch again.
pub(crate) fn dispatch(event: impl Into<Event>) {
    let effects = WORKER.with_borrow_mut(|w| w.update(event.into()));
    // A render shows the state as this update left it, whatever the other effects are, so
    // it is drawn once and first: the popup's rows are on screen before the browser calls
    // of the same update start (each costs the page its argument checks), and a batch that
    // asks for several renders draws once.
    let is_render = |e: &Effect| matches!(e, Effect::State(state::Effect::Render));
    if effects.iter().any(is_render) {
        run(Effect::State(state::Effect::Render));
    }
    for effect in effects.into_iter().filter(|e| !is_render(e)) {
        run(effect);
    }
}

/// A reply as the companion sent it, or why it cannot be read.
fn reply(message: JsValue) -> Result<Reply, LocalError> {
    chrome::decode(message).map_err(|e| LocalError::Unreadable {
        detail: e.into_message(),
    })
}

fn browser_failed(call: BrowserCall, error: JsError) -> Event {
    state::Event::EffectFailed(LocalError::Browser {
        call,
        error: error.into_message(),
    })
    .into()
}

/// Waits for a call started now; a failure becomes [`state::Event::EffectFailed`].
fn background(what: BrowserCall, call: Call) {
    spawn_local(async move {
        if let Err(error) = call.done().await {
            dispatch(browser_failed(what, error));
        }
    });
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

fn run(effect: Effect) {
    match effect {
        Effect::State(effect) => run_state(effect),
        Effect::Send(request) => {
            let call = chrome::send_native_message(&request);
            spawn_local(async move {
                let reply = match call.done().await {
                    Ok(message) => reply(message),
                    Err(e) => Err(LocalError::unreachable(&e.into_message())),
                };
                dispatch(Event::Answered {
                    id: request.id,
                    reply,
                });
            });
        }
        Effect::LoadSettings => {
            let call = chrome::storage_get(&["settings"]);
            spawn_local(async move {
                let items = call.done().await.ok();
                let settings = items.and_then(|items| chrome::stored(&items, "settings"));
                let managed = relay::managed().await;
                dispatch(Event::SettingsLoaded { settings, managed });
            });
        }
        Effect::Fetch { id, url } => relay::fetch(id, url),
        Effect::Follow {
            id,
            url,
            last_event_id,
        } => relay::follow(id, url, last_event_id),
        Effect::Unfollow => relay::unfollow(),
        Effect::ClosePort => {
            if let Some(port) = PORT.with_borrow_mut(Option::take) {
                port.disconnect();
            }
        }
        Effect::StayAwake => relay::stay_awake(),
        Effect::Subscribe(request) => subscribe(&request),
        Effect::ReconnectAfter { ms } => spawn_local(async move {
            chrome::sleep(ms).await;
            dispatch(Event::ReconnectDue);
        }),
        Effect::Warn(line) => web_sys::console::warn_1(&line.into()),
        Effect::QueryTabs => {
            let call = chrome::tabs_query(&chrome::TabQuery::default());
            spawn_local(async move {
                // Always answered (empty on failure), so the walk ends.
                let tabs = call.decoded::<Vec<chrome::Tab>>().await.unwrap_or_default();
                dispatch(Event::TabsListed(
                    tabs.into_iter().filter_map(chrome::Tab::info).collect(),
                ));
            });
        }
        Effect::LoadAwaiting => {
            let call = chrome::storage_get(&["awaiting_access"]);
            let popups = chrome::popup_contexts();
            spawn_local(async move {
                let awaiting = call
                    .done()
                    .await
                    .ok()
                    .and_then(|items| chrome::stored(&items, "awaiting_access"));
                let popup_open = popups
                    .decoded::<Vec<serde::de::IgnoredAny>>()
                    .await
                    .is_ok_and(|open| !open.is_empty());
                dispatch(Event::AwaitingLoaded {
                    awaiting,
                    now_ms: now_ms(),
                    popup_open,
                });
            });
        }
        Effect::GrantAwaiting(awaiting) => {
            let call = chrome::storage_set(&chrome::StorageItems {
                access_granted: Some(&awaiting),
                ..Default::default()
            });
            spawn_local(async move {
                let _ = call.done().await;
                let _ = chrome::storage_remove(&["awaiting_access"]).done().await;
            });
        }
        Effect::OpenPopup { tab_id } => {
            let tab = chrome::tabs_get(tab_id);
            spawn_local(async move {
                let opened = async {
                    let window_id = tab
                        .decoded::<chrome::Tab>()
                        .await?
                        .window_id
                        .ok_or_else(|| chrome::JsError::from(JsValue::from_str("no window")))?;
                    chrome::focus_window(window_id).done().await?;
                    chrome::open_popup(&chrome::WindowRef { window_id })
                        .done()
                        .await
                };
                // `access_granted` stays for the next popup the user opens on that tab.
                if let Err(e) = opened.await {
                    web_sys::console::warn_1(&format!("could not reopen the popup: {e}").into());
                }
            });
        }
        Effect::RememberList(list) => background(
            BrowserCall::RememberList,
            chrome::storage_set(&chrome::StorageItems {
                last_list: Some(&list),
                ..Default::default()
            }),
        ),
        Effect::LoadNotify => {
            let call = chrome::storage_get(&["notify_services"]);
            spawn_local(async move {
                let items = call.done().await.ok();
                let list = items
                    .and_then(|items| chrome::stored::<Vec<String>>(&items, "notify_services"))
                    .unwrap_or_default();
                dispatch(Event::NotifyLoaded(list));
            });
        }
        Effect::SaveNotify(list) => background(
            BrowserCall::RememberList,
            chrome::storage_set(&chrome::StorageItems {
                notify_services: Some(&list),
                ..Default::default()
            }),
        ),
        Effect::ShowNotification { id, title, message } => background(
            BrowserCall::Notify,
            chrome::notifications_create_with_id(
                &id,
                &chrome::Notification {
                    kind: "basic",
                    icon_url: &chrome::get_url("icons/icon128.png"),
                    title: &title,
                    message: &message,
                },
            ),
        ),
        Effect::PostOnPort(request) => PORT.with_borrow(|port| {
            if let Some(port) = port {
                // A closed port throws; its onDisconnect reopens it and asks again.
                let _ = port.post(&request);
            }
        }),
    }
}

fn run_state(effect: state::Effect) {
    match effect {
        // The worker turns it into `Effect::Send`s; it never arrives here.
        state::Effect::RequestList => {}
        state::Effect::ReadCookies { url, host } => {
            let call = chrome::cookies_get_all(&chrome::CookiesOf { url: &url });
            spawn_local(async move {
                match call.decoded::<Vec<chrome::Cookie>>().await {
                    Ok(cookies) => dispatch(state::Event::CookiesRead {
                        host,
                        cookies: cookies
                            .into_iter()
                            .map(|c| CookieSeen {
                                name: c.name,
                                value: c.value,
                            })
                            .collect(),
                    }),
                    Err(e) => dispatch(browser_failed(BrowserCall::ReadCookies { url }, e)),
                }
            });
        }
        state::Effect::ReadRules => {
            let call = chrome::get_session_rules();
            spawn_local(async move {
                let rules = call.done().await.and_then(|rules| {
                    chrome::decode::<Vec<SessionRule>>(browser::without_nulls(rules))
                });
                match rules {
                    Ok(rules) => dispatch(state::Event::RulesRead { rules }),
                    Err(e) => dispatch(browser_failed(BrowserCall::ReadRules, e)),
                }
            });
        }
        state::Effect::LoadApplied => {
            let call = chrome::storage_get(&["applied"]);
            spawn_local(async move {
                let applied = read_applied(call).await;
                dispatch(state::Event::AppliedLoaded { applied });
            });
        }
        // Read, change by key, write: the other context's changes since its last read stay.
        state::Effect::SaveApplied { drop, add } => {
            let call = chrome::storage_get(&["applied"]);
            spawn_local(async move {
                let stored = read_applied(call).await;
                let applied = state::merge_applied(stored, &drop, &add);
                let saved = chrome::storage_set(&chrome::StorageItems {
                    applied: Some(&applied),
                    ..Default::default()
                });
                if let Err(e) = saved.done().await {
                    dispatch(browser_failed(BrowserCall::RememberApplied, e));
                }
            });
        }
        state::Effect::RememberAwaiting(Some(awaiting)) => background(
            BrowserCall::RememberAwaiting,
            chrome::storage_set(&chrome::StorageItems {
                awaiting_access: Some(&awaiting),
                ..Default::default()
            }),
        ),
        state::Effect::RememberAwaiting(None) => background(
            BrowserCall::RememberAwaiting,
            chrome::storage_remove(&["awaiting_access", "access_granted"]),
        ),
        state::Effect::RequestHostPermission {
            origins,
            service,
            choice,
            then,
        } => {
            // Started here, synchronously inside the click: the browser requires a gesture.
            let call = chrome::permissions_request(&chrome::Permissions { origins: &origins });
            spawn_local(async move {
                let granted = call.done().await.is_ok_and(|v| v.is_truthy());
                dispatch(state::Event::HostPermission {
                    service,
                    choice,
                    then,
                    granted,
                });
            });
        }
        state::Effect::SetCookie {
            url,
            name,
            value,
            secure,
            expires_in_secs,
        } => {
            let call = chrome::cookies_set(&chrome::CookieDetails {
                url: &url,
                name: &name,
                value: &value,
                path: "/",
                secure,
                same_site: "lax",
                expiration_date: (now_ms() / 1000 + expires_in_secs) as f64,
            });
            if let Some(promise) = call.promise() {
                PENDING_COOKIES.with_borrow_mut(|v| v.push(promise));
            }
            spawn_local(async move {
                let failed = match call.done().await {
                    Ok(v) if v.is_null() || v.is_undefined() => {
                        Some(LocalError::CookieRefused { name, url })
                    }
                    Ok(_) => None,
                    Err(e) => Some(LocalError::Browser {
                        call: BrowserCall::SetCookie { name, url },
                        error: e.into_message(),
                    }),
                };
                if let Some(error) = failed {
                    dispatch(state::Event::EffectFailed(error));
                }
            });
        }
        state::Effect::RemoveCookie { url, name } => background(
            BrowserCall::RemoveCookie {
                name: name.clone(),
                url: url.clone(),
            },
            chrome::cookies_remove(&chrome::CookieRef {
                url: &url,
                name: &name,
            }),
        ),
        state::Effect::AddSessionRule { rule } => background(
            BrowserCall::AddRule,
            chrome::update_session_rules(&chrome::RuleUpdate {
                remove_rule_ids: &[rule.id],
                add_rules: std::slice::from_ref(&rule),
            }),
        ),
        state::Effect::RemoveSessionRules { ids } => background(
            BrowserCall::RemoveRules,
            chrome::update_session_rules(&chrome::RuleUpdate {
                remove_rule_ids: &ids,
                add_rules: &[],
            }),
        ),
        state::Effect::SetBadge {
            tab_id,
            text,
            title,
            tone,
        } => {
            if let Some(color) = crate::view::badge_color(tone) {
                background(
                    BrowserCall::SetBadge,
                    chrome::set_badge_background_color(&chrome::BadgeColor { tab_id, color }),
                );
            }
            let title = title.render(&chrome::Messages);
            background(
                BrowserCall::SetBadge,
                chrome::set_badge_text(&chrome::BadgeText {
                    tab_id,
                    text: &text,
                }),
            );
            background(
                BrowserCall::SetTitle,
                chrome::set_title(&chrome::Title {
                    tab_id,
                    title: &title,
                }),
            );
        }
        state::Effect::Notify { title, message } => background(
            BrowserCall::Notify,
            chrome::notifications_create(&chrome::Notification {
                kind: "basic",
                icon_url: &chrome::get_url("icons/icon128.png"),
                title: &title.render(&chrome::Messages),
                message: &message.render(&chrome::Messages),
            }),
        ),
        state::Effect::ReloadTab { tab_id } => {
            // The reloaded page's first request must carry the cookies just set.
            let pending = PENDING_COOKIES.with_borrow_mut(std::mem::take);
            spawn_local(async move {
                let all =
                    js_sys::Promise::all_settled(&pending.into_iter().collect::<js_sys::Array>());
                let _ = JsFuture::from(all).await;
                if let Err(e) = chrome::tabs_reload(tab_id).done().await {
                    dispatch(browser_failed(BrowserCall::ReloadTab, e));
                }
            });
        }
        state::Effect::CopyText { text } => {
            // Started inside the click: the clipboard wants the user's gesture.
            let call = chrome::clipboard_write_text(&text);
            spawn_local(async move {
                let result = call.done().await.map(drop).map_err(|e| e.into_message());
                dispatch(state::Event::Copied { result });
            });
        }
        state::Effect::RememberSeen { tab_id, seen } => {
            let key = seen_key(tab_id);
            let call = match seen {
                Some(seen) => chrome::session_set(&key, &seen),
                None => chrome::session_remove(&[&key]),
            };
            background(BrowserCall::RememberSeen, call);
        }
        state::Effect::LoadDismissed { tab_id } => spawn_local(async move {
            let services = read_hidden(tab_id).await;
            dispatch(state::Event::DismissedLoaded { tab_id, services });
        }),
        // Read, change by key, write: the popup and the worker both change a tab's list.
        state::Effect::SaveDismissed {
            tab_id,
            service,
            hidden,
        } => {
            spawn_local(async move {
                let stored = read_hidden(tab_id).await;
                if let Some(list) = state::ribbon::merge_hidden(stored, &service, hidden)
                    && let Err(e) = chrome::session_set(&hidden_key(tab_id), &list).done().await
                {
                    dispatch(browser_failed(BrowserCall::RememberHidden, e));
                }
            });
        }
        state::Effect::ForgetDismissed { tab_id } => background(
            BrowserCall::RememberHidden,
            chrome::session_remove(&[&hidden_key(tab_id)]),
        ),
        state::Effect::CheckAccess { tab_id, origin } => {
            let call = chrome::permissions_contains(&chrome::Permissions {
                origins: std::slice::from_ref(&origin),
            });
            spawn_local(async move {
                let granted = call.done().await.is_ok_and(|v| v.is_truthy());
                dispatch(state::Event::AccessChecked {
                    tab_id,
                    origin,
                    granted,
                });
            });
        }
        state::Effect::ShowRibbon { tab_id, ribbon } => {
            let words = ribbon.words(&chrome::Messages);
            spawn_local(async move {
                let shown = async {
                    chrome::insert_user_css(tab_id, "ribbon.css").done().await?;
                    chrome::execute_file(tab_id, "ribbon.js").done().await?;
                    chrome::execute_function(tab_id, "previewSwitchShowRibbon", &words)
                        .done()
                        .await
                };
                // The tab may have moved on or closed meanwhile: nothing to tell the user.
                if let Err(e) = shown.await {
                    web_sys::console::warn_1(
                        &format!("could not show the page ribbon: {e}").into(),
                    );
                }
            });
        }
        state::Effect::OpenTab { url } => {
            // The new tab's first request must carry the cookie just set: wait for it.
            let pending = PENDING_COOKIES.with_borrow_mut(std::mem::take);
            spawn_local(async move {
                let all =
                    js_sys::Promise::all_settled(&pending.into_iter().collect::<js_sys::Array>());
                let _ = JsFuture::from(all).await;
                if let Err(e) = chrome::tabs_create(&chrome::NewTab { url: &url })
                    .done()
                    .await
                {
                    dispatch(browser_failed(BrowserCall::OpenTab { url }, e));
                }
            });
        }
        state::Effect::Render => {
            let (view, extra) = WORKER.with_borrow(|w| {
                (
                    crate::view::view(w.state(), &chrome::Messages),
                    crate::envs::popup(w.envs(), w.state(), &chrome::Messages),
                )
            });
            render::render(&view, &extra);
        }
    }
}

/// The `storage.session` key of the last response seen in tab `tab_id`.
fn seen_key(tab_id: i32) -> String {
    format!("seen_{tab_id}")
}

/// The `storage.session` key of the services whose ribbon the user hid in tab `tab_id`.
fn hidden_key(tab_id: i32) -> String {
    format!("ribbon_hidden_{tab_id}")
}

/// The services whose ribbon the user hid in the tab; unreadable counts as none (the ribbon
/// shows, and × hides it again).
async fn read_hidden(tab_id: i32) -> Vec<String> {
    let key = hidden_key(tab_id);
    chrome::session_get(&[&key])
        .done()
        .await
        .ok()
        .and_then(|items| chrome::stored(&items, &key))
        .unwrap_or_default()
}

/// The stored records of domain cookies set; none when absent or unreadable.
async fn read_applied(call: Call) -> Vec<Applied> {
    call.done()
        .await
        .ok()
        .and_then(|items| chrome::stored(&items, "applied"))
        .unwrap_or_default()
}

/// The popup's entry point, called by `popup.js` after init with the calls `boot.js` started
/// while the wasm compiled (`early`: `stored`, `managed`, `tabs`; any of them may be
/// missing, and is then made here). The tab is the active one, or `?tab=<id>` when the popup
/// is opened as a page (how the end-to-end suite drives it).
#[wasm_bindgen]
pub fn start_popup(early: JsValue) {
    render::localize_page();
    render::wire_static();
    spawn_local(async move {
        let search = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        let pinned = web_sys::UrlSearchParams::new_with_str(&search)
            .ok()
            .and_then(|p| p.get("tab"))
            .and_then(|t| t.parse::<i32>().ok());
        // Access granted outside a pending request's prompt finishes the choice waiting for it.
        let on_added = Closure::<dyn Fn(JsValue)>::new(|added: JsValue| {
            let origins = chrome::decode::<chrome::PermissionSet>(added)
                .map(|p| p.origins)
                .unwrap_or_default();
            dispatch(Event::PermissionsAdded { origins });
        });
        chrome::on_permissions_added(on_added.as_ref().unchecked_ref());
        on_added.forget(); // lives as long as the popup
        // The browser calls run at once (or already run, from boot.js): this is the popup's
        // time to first rows.
        let names = browser::names();
        let stored = chrome::Call::early(&early, "stored")
            .unwrap_or_else(|| chrome::storage_get(&crate::POPUP_STORED_KEYS));
        let managed = relay::managed_from(
            chrome::Call::early(&early, "managed").unwrap_or_else(relay::managed_get),
        );
        let tab = match pinned {
            Some(id) => chrome::tabs_get(id).decoded::<chrome::Tab>().await.ok(),
            None => chrome::Call::early(&early, "tabs")
                .unwrap_or_else(|| {
                    chrome::tabs_query(&chrome::TabQuery {
                        active: Some(true),
                        current_window: Some(true),
                    })
                })
                .decoded::<Vec<chrome::Tab>>()
                .await
                .ok()
                .and_then(|tabs| tabs.into_iter().next()),
        };
        let mut stored = match stored.done().await {
            Ok(items) => Stored {
                settings: chrome::stored(&items, "settings"),
                last_list: chrome::stored(&items, "last_list"),
                managed: None,
                access_granted: chrome::stored(&items, "access_granted"),
            },
            Err(_) => Stored::default(),
        };
        stored.managed = managed.await;
        let tab = tab.and_then(chrome::Tab::info);
        let tab_id = tab.as_ref().map(|t| t.id);
        dispatch(Event::PopupStarted {
            tab,
            stored: Box::new(stored),
            brands: names.await,
            platform: browser::platform(),
            now_ms: now_ms(),
        });
        render::mark_ready();
        // Whether the preview answered: the last response the service worker saw there.
        if let Some(tab_id) = tab_id {
            let key = seen_key(tab_id);
            let seen = chrome::session_get(&[&key])
                .done()
                .await
                .ok()
                .and_then(|items| chrome::stored::<state::Seen>(&items, &key))
                .filter(|s| s.tab_id == tab_id);
            dispatch(state::Event::SeenLoaded(seen));
        }
    });
}

/// The service worker's entry point, called once by `background.js` after the lazy init:
/// reads the settings and opens the `subscribe` port for live updates (which also keeps
/// the worker alive).
#[wasm_bindgen]
pub fn start_worker() {
    dispatch(Event::WorkerStarted);
}

/// Opens a `connectNative` port and posts `request` (a `subscribe`) on it; every message
/// and the closing go to the worker.
fn subscribe(request: &Request) {
    let port = match chrome::connect_native() {
        Ok(port) => port,
        Err(e) => {
            return dispatch(Event::PortClosed {
                browser_said: e.into_message(),
            });
        }
    };
    let on_message = Closure::<dyn Fn(JsValue)>::new(|message: JsValue| {
        dispatch(Event::PortMessage(reply(message)));
    });
    port.on_message_add(on_message.as_ref().unchecked_ref());
    on_message.forget(); // lives as long as the port
    let on_disconnect = Closure::<dyn Fn(JsValue)>::new(|port: JsValue| {
        dispatch(Event::PortClosed {
            browser_said: browser::disconnect_reason(&port),
        });
    });
    port.on_disconnect_add(on_disconnect.as_ref().unchecked_ref());
    on_disconnect.forget();
    // A port that is already closed throws here; its onDisconnect reports it.
    let _ = port.post(request);
    PORT.with_borrow_mut(|p| *p = Some(port));
}

/// `storage.onChanged` for the settings or the managed storage (forwarded by
/// `background.js`): the worker reads them again and follows the source they name.
#[wasm_bindgen]
pub fn worker_settings_changed() {
    dispatch(Event::SettingsChanged);
}

/// `chrome.notifications.onClicked` (forwarded by `background.js`).
#[wasm_bindgen]
pub fn worker_notification_clicked(id: String) {
    dispatch(Event::NotificationClicked(id));
}

/// `chrome.tabs.onUpdated` complete (forwarded by `background.js`): that tab's badge, and
/// its page ribbon where the extension routed it.
#[wasm_bindgen]
pub fn worker_tab_updated(tab_id: i32, url: String) {
    dispatch(state::Event::PageLoaded { tab_id, url });
}

/// `chrome.runtime.onMessage` (forwarded by `background.js`): the page ribbon's *back to
/// dev* and ×, taken only from the script the worker injected into a tab
/// (`state::ribbon::message_event`); anything else is dropped.
#[wasm_bindgen]
pub fn worker_ribbon_message(message: JsValue, sender: JsValue) {
    // Read field by field (no decoder of their own: a few kilobytes of wasm less).
    let field = |o: &JsValue, k: &str| js_sys::Reflect::get(o, &k.into()).ok();
    let text = |o: &JsValue, k: &str| field(o, k).and_then(|v| v.as_string());
    let number = |o: &JsValue, k: &str| field(o, k).and_then(|v| v.as_f64());
    let (Some(kind), Some(service)) = (
        text(&message, "previewSwitchRibbon"),
        text(&message, "service"),
    ) else {
        return;
    };
    let tab = field(&sender, "tab").filter(JsValue::is_object);
    let sender = state::ribbon::Sender {
        id: text(&sender, "id"),
        tab: tab.map(|t| state::ribbon::SenderTab {
            id: number(&t, "id").map(|n| n as i32),
            url: text(&t, "url"),
        }),
        frame_id: number(&sender, "frameId").map(|n| n as i64),
        url: text(&sender, "url"),
    };
    let message = state::ribbon::Message { kind, service };
    if let Some(event) = state::ribbon::message_event(&chrome::runtime_id(), &sender, &message) {
        dispatch(event);
    }
}

/// `chrome.permissions.onAdded` (forwarded by `background.js`): finish a choice whose popup
/// closed while the browser asked for access.
#[wasm_bindgen]
pub fn worker_permissions_added(added: JsValue) {
    let origins = chrome::decode::<chrome::PermissionSet>(added)
        .map(|p| p.origins)
        .unwrap_or_default();
    dispatch(Event::PermissionsAdded { origins });
}

/// `chrome.webRequest.onHeadersReceived` for a main frame (forwarded by `background.js`):
/// its response headers, for whether the preview answered.
#[wasm_bindgen]
pub fn worker_response_seen(tab_id: i32, url: String, headers: JsValue) {
    #[derive(serde::Deserialize)]
    struct Header {
        name: String,
        #[serde(default)]
        value: Option<String>,
    }
    let headers = chrome::decode::<Vec<Header>>(headers)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|h| Some((h.name.to_ascii_lowercase(), h.value?)))
        .collect();
    dispatch(state::Event::ResponseSeen {
        tab_id,
        url,
        headers,
    });
}

/// `chrome.commands.onCommand` `back-to-dev` (forwarded by `background.js`): every service
/// routing the tab back to dev, then a reload, without the popup.
#[wasm_bindgen]
pub fn worker_back_to_dev(tab_id: i32, url: String) {
    dispatch(state::Event::BackToDev { tab_id, url });
}

/// `chrome.tabs.onRemoved`: drop that tab's routing rules.
#[wasm_bindgen]
pub fn worker_tab_closed(tab_id: i32) {
    dispatch(state::Event::TabClosed { tab_id });
}
