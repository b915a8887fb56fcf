//! The glue's decisions, pure: what `web/` once decided by itself about talking to the
//! companion and walking the browser's tabs. A [`Worker`] holds the one [`State`] and the
//! [`Live`] list; a closed [`Event`] goes in (a state event, a companion answer, a port
//! message or closing, the open tabs) and [`Effect`]s come out for `web/` to run, which
//! reports their outcomes back as events. It owns:
//! - listings ([`Listing`]): paging by `next_cursor`, the one restart on `cursor_expired`,
//!   and the `refresh` that follows a stale list;
//! - the subscription (service worker): each new one is seeded from a full `list` and its
//!   events are held until then (`live`); a closed port is reopened after a pause of 1 s,
//!   doubling to 60 s, that any message resets;
//! - the badge walk (service worker): after a cleanup, every open web tab in turn, the next
//!   once the state has read the current one's cookies, rules and records; those answers
//!   drive it, not a timer;
//! - the popup's start: settings, the cached list shown at once, then the companion's;
//! - the source ([`relay`]): the local companion, or the team relay when the user set one
//!   (or the team preset one and no companion is installed); on a relay, lists are
//!   `GET /v1/previews` and the subscription is the `/v1/events` stream, resumed after its
//!   last event id, reseeded on `reset`.
//!
//! The popup page and the service worker each run one `Worker`.

mod listing;
pub mod relay;

use std::collections::VecDeque;

use protocol::Preview;
use protocol::envs::Notification;
use protocol::messages::{
    AppAction, AppRef, ErrorBody, ErrorCode, PROTOCOL_VERSION, Reply, Request, RequestBody,
};
use serde::{Deserialize, Serialize};

use crate::envs::{self, Envs};
use crate::failure::{BrowserCall, EXTENSION_VERSION, Failure, LocalError};
use crate::i18n::Text;
use crate::live::Live;
use crate::settings::{Managed, Settings};
use crate::state::{self, State, parse_web_url};

pub use listing::{Listed, Listing, Step};
pub use relay::{HttpAnswer, Source};

/// The first pause before a closed port is reopened.
pub const RETRY_FIRST_MS: u32 = 1_000;
/// The longest pause: a companion that stays away is retried once a minute.
pub const RETRY_MAX_MS: u32 = 60_000;

/// The last list seen, kept in `chrome.storage.local` under `last_list` so that the popup
/// shows rows at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedList {
    pub previews: Vec<Preview>,
    /// Unix milliseconds of the fetch behind the list.
    pub fetched_at_ms: u64,
}

/// A tab as `chrome.tabs` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TabInfo {
    pub id: i32,
    pub url: String,
}

/// What the popup found in `chrome.storage.local` when it opened (`None`: absent or not
/// readable, so skipped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stored {
    pub settings: Option<Settings>,
    pub last_list: Option<CachedList>,
    /// `chrome.storage.managed`: what the team preset.
    pub managed: Option<Managed>,
    /// A choice whose access the user granted after the popup had closed (the service
    /// worker stored it and reopened the popup to finish it).
    pub access_granted: Option<state::AwaitingAccess>,
}

/// Everything `web/` reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The popup page started on `tab` (`None`: no tab could be read) at `now_ms`.
    PopupStarted {
        tab: Option<TabInfo>,
        /// Boxed: the largest of the events by far, and sent once per popup.
        stored: Box<Stored>,
        /// The browser's names: Chromium's `navigator.userAgentData` brands, Firefox's
        /// `runtime.getBrowserInfo().name` (`web::browser::names`).
        brands: Vec<String>,
        /// `navigator.platform` (`Linux x86_64`, `Win32`, `MacIntel`).
        platform: String,
        now_ms: u64,
    },
    /// The service worker started.
    WorkerStarted,
    /// The answer to [`Effect::LoadSettings`]: the user's settings and the team's preset.
    SettingsLoaded {
        settings: Option<Settings>,
        managed: Option<Managed>,
    },
    /// `storage.onChanged` for the settings or the managed storage.
    SettingsChanged,
    /// The answer to [`Effect::Fetch`] `id`: the HTTP answer, or why there is none (the
    /// browser's words).
    Fetched {
        id: u64,
        answer: Result<HttpAnswer, String>,
    },
    /// The stream of [`Effect::Follow`] `id` answered 200 and is open.
    StreamOpened { id: u64 },
    /// More of that stream arrived (an event or a keep-alive).
    StreamAlive { id: u64 },
    /// One event of that stream, read.
    Streamed { id: u64, streamed: relay::Streamed },
    /// That stream ended: refused at the start (`answer`: its non-200 answer), or broken
    /// later (`why`: the browser's words).
    StreamClosed {
        id: u64,
        answer: Option<HttpAnswer>,
        why: String,
    },
    /// For the state: user input, a browser read, a tab event.
    State(state::Event),
    /// The answer to the [`Effect::Send`] with request `id`, or why there is none.
    Answered {
        id: u64,
        reply: Result<Reply, LocalError>,
    },
    /// A message on the subscription port (`Err`: it could not be read).
    PortMessage(Result<Reply, LocalError>),
    /// The port closed or could not be opened; `browser_said` is `runtime.lastError`.
    PortClosed { browser_said: String },
    /// The pause of [`Effect::ReconnectAfter`] is over.
    ReconnectDue,
    /// The answer to [`Effect::QueryTabs`]: every tab, in the browser's order.
    TabsListed(Vec<TabInfo>),
    /// The user did something on the environments parts of the popup.
    Envs(envs::Input),
    /// The answer to [`Effect::LoadNotify`]: the services whose environments notify.
    NotifyLoaded(Vec<String>),
    /// A notification was clicked (`chrome.notifications.onClicked`).
    NotificationClicked(String),
    /// `permissions.onAdded`, in either context.
    PermissionsAdded { origins: Vec<String> },
    /// The answer to [`Effect::LoadAwaiting`]: the stored `awaiting_access`, at `now_ms`,
    /// and whether a popup is open.
    AwaitingLoaded {
        awaiting: Option<state::AwaitingAccess>,
        now_ms: u64,
        popup_open: bool,
    },
}

impl From<state::Event> for Event {
    fn from(e: state::Event) -> Self {
        Event::State(e)
    }
}

/// What `web/` must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// One of the state's effects. Never [`state::Effect::RequestList`]: the worker turns
    /// that into [`Effect::Send`]s.
    State(state::Effect),
    /// `chrome.runtime.sendNativeMessage` (a fresh companion per call); answer with
    /// [`Event::Answered`] and the request's id.
    Send(Request),
    /// Read `settings` from storage; answer with [`Event::SettingsLoaded`].
    LoadSettings,
    /// Open a `connectNative` port and post this `subscribe` on it; report each message
    /// with [`Event::PortMessage`] and the closing (or a failure to open) with
    /// [`Event::PortClosed`].
    Subscribe(Request),
    /// Wait, then report [`Event::ReconnectDue`].
    ReconnectAfter { ms: u32 },
    /// A line for the console, for people debugging.
    Warn(String),
    /// `chrome.tabs.query({})`; answer with [`Event::TabsListed`].
    QueryTabs,
    /// Store the list under `last_list`; a failure is reported as
    /// [`BrowserCall::RememberList`].
    RememberList(CachedList),
    /// `GET url` with the browser's cookies for it (the relay's sign-in); answer with
    /// [`Event::Fetched`].
    Fetch { id: u64, url: String },
    /// Open the event stream at `url` (sending `Last-Event-ID` when given), closing any
    /// other; report with [`Event::StreamOpened`], [`Event::StreamText`] and
    /// [`Event::StreamClosed`], each naming `id`.
    Follow {
        id: u64,
        url: String,
        last_event_id: Option<String>,
    },
    /// Close the event stream, if one is open (no event follows).
    Unfollow,
    /// Close the `subscribe` port, if one is open (no event follows).
    ClosePort,
    /// A call that tells the browser the service worker is busy: a relay stream alone
    /// does not keep it alive the way a native port does.
    StayAwake,
    /// Read `notify_services` from storage; answer with [`Event::NotifyLoaded`].
    LoadNotify,
    /// Store `notify_services`.
    SaveNotify(Vec<String>),
    /// `chrome.notifications.create(id, …)`: the same id replaces, never adds.
    ShowNotification {
        id: String,
        title: String,
        message: String,
    },
    /// Post this request on the open subscription port.
    PostOnPort(Request),
    /// Read `awaiting_access` from storage and whether a popup is open
    /// (`runtime.getContexts`); answer with [`Event::AwaitingLoaded`].
    LoadAwaiting,
    /// Store it under `access_granted` and remove `awaiting_access`.
    GrantAwaiting(state::AwaitingAccess),
    /// `chrome.action.openPopup()` (no user gesture needed) in the window of tab `tab_id`,
    /// focused first (the user just granted access there; Chromium opens a popup only in
    /// the focused window). When it cannot (a window that is not active), `access_granted`
    /// stays: the next popup the user opens on that tab finishes the choice.
    OpenPopup { tab_id: i32 },
}

/// A request of the environments parts, waiting for its answer.
#[derive(Debug, Clone)]
enum EnvsAsk {
    Envs { refresh: bool },
    Links(AppRef),
    Act(AppRef),
}

/// What the environments part says on a team relay when this browser has no companion.
pub fn no_local_companion() -> Text {
    crate::text!("envs_need_local_companion")
}

/// Why a listing was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// To show: the popup's list, or the worker's when it had none.
    Show,
    /// To seed the worker's live list after `subscribed`.
    Seed,
}

#[derive(Debug)]
struct Pending {
    /// The request whose answer the listing waits for.
    id: u64,
    purpose: Purpose,
    listing: Listing,
}

/// Where the badge walk stands.
#[derive(Debug, Default)]
enum Walk {
    #[default]
    Idle,
    /// `QueryTabs` sent.
    Asked,
    Visiting {
        rest: VecDeque<TabInfo>,
        /// A tab was handed to the state and its reads are awaited.
        reading: bool,
        /// One of those reads failed: its answer will not come.
        stuck: bool,
        /// Another cleanup came while visiting: tabs already visited need another look.
        again: bool,
    },
}

/// The relay's event stream, as the service worker follows it.
#[derive(Debug, Default)]
struct Stream {
    /// The [`Effect::Follow`] whose events count; others are late ones from a closed stream.
    id: u64,
    /// Where a reconnect resumes; `None`: the list must be read again.
    last_event_id: Option<String>,
}

#[derive(Debug)]
pub struct Worker {
    state: State,
    /// The service worker (subscribes, walks tabs); else the popup page.
    background: bool,
    next_id: u64,
    listings: Vec<Pending>,
    /// Relay lists in flight: the request id and why.
    fetches: Vec<(u64, Purpose)>,
    live: Live,
    retry_ms: u32,
    walk: Walk,
    settings: Settings,
    managed: Option<Managed>,
    /// The native companion is not installed (the browser said so).
    companion_missing: bool,
    source: Source,
    /// The service worker follows its source (after its settings were read).
    following: bool,
    stream: Stream,
    envs: Envs,
    envs_asks: Vec<(u64, EnvsAsk)>,
    /// Notifications waiting for the opt-in list to be read.
    held_notes: Vec<Notification>,
    /// The popup asked for the environments already.
    envs_asked: bool,
    /// The subscription port is open and subscribed.
    subscribed: bool,
    /// The opt-ins were read since the last notification arrived.
    notify_loaded: bool,
    /// Origins just granted, until the stored waiting choice is read.
    added_origins: Vec<String>,
    /// A list failure that another protocol version may explain, held until the `hello`
    /// with this id answers (it is shown then, or the version mismatch instead).
    diagnosing: Option<(u64, Failure)>,
}

impl Default for Worker {
    fn default() -> Self {
        Worker {
            state: State::new(state::Config::default()),
            background: false,
            next_id: 1,
            listings: Vec::new(),
            fetches: Vec::new(),
            live: Live::default(),
            retry_ms: RETRY_FIRST_MS,
            walk: Walk::Idle,
            settings: Settings::default(),
            managed: None,
            companion_missing: false,
            source: Source::Companion,
            following: false,
            stream: Stream::default(),
            envs: Envs::default(),
            envs_asks: Vec::new(),
            held_notes: Vec::new(),
            envs_asked: false,
            subscribed: false,
            notify_loaded: false,
            added_origins: Vec::new(),
            diagnosing: None,
        }
    }
}

impl Worker {
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The environments and what the user does with them.
    pub fn envs(&self) -> &Envs {
        &self.envs
    }

    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        let mut out = Vec::new();
        match event {
            Event::PopupStarted {
                tab,
                stored,
                brands,
                platform,
                now_ms,
            } => {
                let stored = *stored;
                self.settings = stored.settings.unwrap_or_default();
                self.managed = stored.managed;
                self.configure();
                self.state.browser = crate::view::browser_from_brands(&brands);
                self.state.os = crate::view::Os::from_platform(&platform);
                out.push(Effect::LoadNotify);
                let (tab_id, url) = tab.map_or((-1, String::new()), |t| (t.id, t.url));
                self.feed(
                    state::Event::PopupOpened {
                        tab_id,
                        url,
                        now_secs: now_ms / 1000,
                    },
                    &mut out,
                );
                if let Some(granted) = stored.access_granted {
                    self.feed(state::Event::Resume(granted), &mut out);
                }
                // Until the companion answers, the last list seen shows at once, marked
                // stale with its age.
                if let Some(cached) = stored.last_list {
                    let age_secs = now_ms.saturating_sub(cached.fetched_at_ms) / 1000;
                    self.feed(
                        state::Event::ListArrived {
                            previews: cached.previews,
                            age_secs,
                            stale: true,
                        },
                        &mut out,
                    );
                    self.feed(state::Event::Refreshing { on: true }, &mut out);
                }
            }
            // The companion at once, as before there were relays: its subscription must be
            // the first thing that lists (the companion's first diff is what its
            // notifications count as first seen). The settings may name a relay instead.
            Event::WorkerStarted => {
                self.background = true;
                out.push(Effect::LoadSettings);
                let before = self.source.clone();
                self.configure();
                self.follow_source(&before, &mut out);
            }
            Event::SettingsLoaded { settings, managed } => {
                self.settings = settings.unwrap_or_default();
                self.managed = managed;
                let before = self.source.clone();
                self.configure();
                if self.background && (!self.following || self.source != before) {
                    self.follow_source(&before, &mut out);
                }
            }
            Event::SettingsChanged => out.push(Effect::LoadSettings),
            Event::Fetched { id, answer } => self.fetched(id, answer, &mut out),
            Event::StreamOpened { id } if id == self.stream.id => {
                self.retry_ms = RETRY_FIRST_MS;
                // A fresh stream (or one the relay could not resume) needs the whole list.
                if self.stream.last_event_id.is_none() {
                    self.start_listing(Purpose::Seed, false, &mut out);
                }
            }
            Event::StreamAlive { id } if id == self.stream.id => out.push(Effect::StayAwake),
            Event::Streamed { id, streamed } if id == self.stream.id => {
                self.streamed(streamed, &mut out)
            }
            Event::StreamClosed { id, answer, why } if id == self.stream.id => {
                if let (Some(answer), Source::Relay(relay)) = (&answer, &self.source) {
                    let failure = relay::failure(relay, Ok(answer));
                    self.feed(state::Event::CompanionFailed(failure), &mut out);
                }
                self.reconnect_later(&why, &mut out);
            }
            Event::StreamOpened { .. }
            | Event::StreamAlive { .. }
            | Event::Streamed { .. }
            | Event::StreamClosed { .. } => {}
            Event::State(event) => {
                if let Walk::Visiting { reading, stuck, .. } = &mut self.walk
                    && *reading
                    && is_failed_read(&event)
                {
                    *stuck = true;
                }
                self.feed(event, &mut out);
                self.flush_notes(&mut out);
            }
            Event::Answered { id, reply } => self.answered(id, reply, &mut out),
            // A port's late words after the worker moved to the relay are not news.
            Event::PortMessage(_) | Event::PortClosed { .. }
                if self.source != Source::Companion => {}
            Event::PortMessage(message) => {
                self.retry_ms = RETRY_FIRST_MS;
                self.port_message(message, &mut out);
            }
            Event::Envs(input) => {
                match self.envs.input(input) {
                    envs::Todo::Nothing => {}
                    envs::Todo::Act(app, action) => {
                        let body = match action {
                            AppAction::Refresh => RequestBody::RefreshApp(app.clone()),
                            AppAction::Sync => RequestBody::SyncApp(app.clone()),
                        };
                        let id = self.send(body, &mut out);
                        self.envs_asks.push((id, EnvsAsk::Act(app)));
                    }
                    envs::Todo::SaveNotify(list) => out.push(Effect::SaveNotify(list)),
                }
                out.push(Effect::State(state::Effect::Render));
            }
            Event::NotifyLoaded(list) => {
                self.envs.notify_services = list;
                self.notify_loaded = true;
                if self.background && self.subscribed {
                    self.watch_envs(&mut out);
                }
                self.flush_notes(&mut out);
                if !self.background {
                    out.push(Effect::State(state::Effect::Render));
                }
            }
            Event::NotificationClicked(id) => {
                if let Some(url) = envs::clicked(&id) {
                    out.push(Effect::State(state::Effect::OpenTab { url }));
                }
            }
            Event::PortClosed { browser_said } => {
                self.subscribed = false;
                let missing = matches!(
                    LocalError::unreachable(&browser_said),
                    LocalError::NotInstalled { .. }
                );
                if missing && self.companion_gone(&mut out) {
                    return out;
                }
                self.reconnect_later(&browser_said, &mut out);
            }
            Event::ReconnectDue => match self.source.clone() {
                Source::Companion => self.subscribe(&mut out),
                Source::Relay(relay) => self.follow_relay(&relay, &mut out),
            },
            // An open popup finishes its own waiting choice. The worker finishes one whose
            // popup is gone (Chromium closes it for the permission prompt): it marks the
            // choice granted and reopens the popup, which applies it.
            Event::PermissionsAdded { origins } if !self.background => {
                self.feed(state::Event::PermissionsAdded { origins }, &mut out);
            }
            Event::PermissionsAdded { origins } => {
                self.added_origins = origins;
                out.push(Effect::LoadAwaiting);
            }
            Event::AwaitingLoaded {
                awaiting,
                now_ms,
                popup_open,
            } => {
                let origins = std::mem::take(&mut self.added_origins);
                if let Some(a) = awaiting
                    .filter(|a| !popup_open && a.reached_by(&origins) && a.fresh_at(now_ms / 1000))
                {
                    let tab_id = a.tab_id;
                    out.push(Effect::GrantAwaiting(a));
                    out.push(Effect::OpenPopup { tab_id });
                }
            }
            Event::TabsListed(tabs) => {
                if matches!(self.walk, Walk::Asked) {
                    self.walk = Walk::Visiting {
                        rest: tabs
                            .into_iter()
                            .filter(|t| parse_web_url(&t.url).is_some())
                            .collect(),
                        reading: false,
                        stuck: false,
                        again: false,
                    };
                }
            }
        }
        self.advance_walk(&mut out);
        out
    }

    /// Feeds the state and takes over the effects that are the worker's to run.
    fn feed(&mut self, event: state::Event, out: &mut Vec<Effect>) {
        for effect in self.state.update(event) {
            match effect {
                state::Effect::RequestList => self.start_listing(Purpose::Show, false, out),
                state::Effect::Notify { .. } => {
                    // A cleanup removed routing: every open tab may need another badge, not
                    // only the one the state follows.
                    if self.background {
                        self.walk_again(out);
                    }
                    out.push(Effect::State(effect));
                }
                effect => out.push(Effect::State(effect)),
            }
        }
    }

    fn send(&mut self, body: RequestBody, out: &mut Vec<Effect>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        out.push(match body {
            RequestBody::Subscribe => Effect::Subscribe(Request { id, body }),
            body => Effect::Send(Request { id, body }),
        });
        id
    }

    fn start_listing(&mut self, purpose: Purpose, refresh: bool, out: &mut Vec<Effect>) {
        if let Source::Relay(relay) = &self.source {
            let id = self.next_id;
            self.next_id += 1;
            out.push(Effect::Fetch {
                id,
                url: relay::previews_url(relay),
            });
            self.fetches.push((id, purpose));
            return;
        }
        let (listing, first) = Listing::start(refresh);
        let id = self.send(first, out);
        self.listings.push(Pending {
            id,
            purpose,
            listing,
        });
    }

    fn answered(&mut self, id: u64, reply: Result<Reply, LocalError>, out: &mut Vec<Effect>) {
        if let Some((_, failure)) = self.diagnosing.take_if(|(hello, _)| *hello == id) {
            let failure = match reply {
                Ok(Reply::Hello(h)) if h.protocol != PROTOCOL_VERSION => {
                    Failure::Local(LocalError::Mismatch {
                        protocol: h.protocol,
                        companion_version: h.companion_version,
                        installed: h.installed,
                    })
                }
                _ => failure,
            };
            self.feed(state::Event::CompanionFailed(failure), out);
            return;
        }
        if let Some(at) = self.envs_asks.iter().position(|(i, _)| *i == id) {
            let (_, ask) = self.envs_asks.remove(at);
            self.envs_answered(ask, reply, out);
            out.push(Effect::State(state::Effect::Render));
            return;
        }
        // An answer nobody waits for (a seed of a subscription since replaced) is dropped.
        let Some(at) = self.listings.iter().position(|p| p.id == id) else {
            return;
        };
        match self.listings[at].listing.answer(reply) {
            Step::Send(body) => {
                let id = self.send(body, out);
                self.listings[at].id = id;
            }
            Step::Done(listed) => {
                let done = self.listings.remove(at);
                self.listed(done.purpose, done.listing.is_refresh(), listed, out);
            }
            Step::Failed(failure) => {
                let done = self.listings.remove(at);
                let missing = matches!(failure, Failure::Local(LocalError::NotInstalled { .. }));
                // The team's relay stands in for a companion this browser does not have.
                if missing && done.purpose == Purpose::Show && self.companion_gone(out) {
                    return;
                }
                self.list_failed(done.purpose, done.listing.is_refresh(), failure, out);
            }
        }
    }

    fn listed(
        &mut self,
        purpose: Purpose,
        was_refresh: bool,
        listed: Listed,
        out: &mut Vec<Effect>,
    ) {
        let Listed {
            previews,
            failures,
            age_ms,
            fetched_at_ms,
            stale,
        } = listed;
        match purpose {
            Purpose::Seed => {
                let update = self.live.seed(Some(previews));
                self.live_update(update, fetched_at_ms, out);
            }
            Purpose::Show => {
                out.push(Effect::RememberList(CachedList {
                    previews: previews.clone(),
                    fetched_at_ms,
                }));
                self.feed(
                    state::Event::ListArrived {
                        previews,
                        age_secs: age_ms / 1000,
                        stale,
                    },
                    out,
                );
                self.feed(state::Event::ServersFailed { failures }, out);
                if !self.background {
                    if self.companion_missing {
                        // On a team relay without a local companion: environments, refresh
                        // and sync act with the user's own Argo CD rights, which only a
                        // local companion holds.
                        self.envs.failed = Some(no_local_companion());
                    } else {
                        self.ask_envs(out);
                    }
                }
                // The companion answers `list` at once from its cache; a stale one is shown,
                // and a `refresh` (which waits for Argo CD) follows, once. A relay keeps its
                // list current by itself: nothing to ask it.
                if stale && !was_refresh && self.source == Source::Companion {
                    self.start_listing(Purpose::Show, true, out);
                    self.feed(state::Event::Refreshing { on: true }, out);
                }
            }
        }
    }

    fn list_failed(
        &mut self,
        purpose: Purpose,
        was_refresh: bool,
        failure: Failure,
        out: &mut Vec<Effect>,
    ) {
        match purpose {
            // The old list stays; held events apply on top of it.
            Purpose::Seed => {
                let update = self.live.seed(None);
                self.feed(
                    state::Event::PreviewsChanged {
                        previews: update.previews,
                        deleted: update.deleted,
                    },
                    out,
                );
            }
            // A failed refresh leaves the list shown and says why beside it.
            Purpose::Show if was_refresh => self.feed(state::Event::RefreshFailed(failure), out),
            // Before a reply it cannot read or a request the companion does not know is
            // shown, `hello` tells whether the two speak different protocol versions.
            Purpose::Show
                if self.source == Source::Companion
                    && self.diagnosing.is_none()
                    && protocol_may_differ(&failure) =>
            {
                let id = self.send(
                    RequestBody::Hello {
                        protocol: PROTOCOL_VERSION,
                        extension_version: Some(EXTENSION_VERSION.to_owned()),
                    },
                    out,
                );
                self.diagnosing = Some((id, failure));
            }
            Purpose::Show => self.feed(state::Event::CompanionFailed(failure), out),
        }
    }

    /// Opens a new subscription; its events wait for its seed.
    fn subscribe(&mut self, out: &mut Vec<Effect>) {
        self.forget_seeds();
        self.send(RequestBody::Subscribe, out);
    }

    /// The source for the settings read, and the state's words for it.
    fn configure(&mut self) {
        self.source = relay::choose(
            &self.settings,
            self.managed.as_ref(),
            self.companion_missing,
        );
        self.state.config = crate::settings::config(&self.settings, self.managed.as_ref());
        self.state.config.relay = match &self.source {
            Source::Relay(url) => Some(url.clone()),
            Source::Companion => None,
        };
    }

    /// The service worker starts following the source, leaving `before`.
    fn follow_source(&mut self, before: &Source, out: &mut Vec<Effect>) {
        if self.following {
            out.push(match before {
                Source::Companion => Effect::ClosePort,
                Source::Relay(_) => Effect::Unfollow,
            });
        }
        // Whatever the closed stream still says is not news.
        self.stream.id = 0;
        self.following = true;
        self.retry_ms = RETRY_FIRST_MS;
        match self.source.clone() {
            Source::Companion => self.subscribe(out),
            Source::Relay(relay) => {
                self.stream.last_event_id = None;
                self.follow_relay(&relay, out);
            }
        }
    }

    /// Opens the relay's event stream, resuming after the last event seen if any; without
    /// one, its events wait for a seed read once it is open.
    fn follow_relay(&mut self, relay: &str, out: &mut Vec<Effect>) {
        if self.stream.last_event_id.is_none() {
            self.forget_seeds();
        }
        let id = self.next_id;
        self.next_id += 1;
        self.stream.id = id;
        out.push(Effect::Follow {
            id,
            url: relay::events_url(relay),
            last_event_id: self.stream.last_event_id.clone(),
        });
    }

    /// The browser says no companion is installed: with a relay the team preset, the list
    /// comes from there now. Whether it switched.
    fn companion_gone(&mut self, out: &mut Vec<Effect>) -> bool {
        self.companion_missing = true;
        let before = self.source.clone();
        self.configure();
        if self.source == before {
            return false;
        }
        out.push(Effect::Warn(
            "no preview-switch companion in this browser: reading the team relay".into(),
        ));
        if self.background {
            // The port that told us is closed already.
            self.following = false;
            self.follow_source(&before, out);
        } else {
            self.start_listing(Purpose::Show, false, out);
        }
        true
    }

    fn reconnect_later(&mut self, why: &str, out: &mut Vec<Effect>) {
        let ms = self.retry_ms;
        self.retry_ms = ms.saturating_mul(2).min(RETRY_MAX_MS);
        let what = match self.source {
            Source::Companion => "preview-switch companion port",
            Source::Relay(_) => "team relay stream",
        };
        out.push(Effect::Warn(format!(
            "{what} closed ({why}); reconnecting in {ms} ms"
        )));
        out.push(Effect::ReconnectAfter { ms });
    }

    fn fetched(&mut self, id: u64, answer: Result<HttpAnswer, String>, out: &mut Vec<Effect>) {
        let Some(at) = self.fetches.iter().position(|(i, _)| *i == id) else {
            return;
        };
        let (_, purpose) = self.fetches.remove(at);
        let Source::Relay(relay) = self.source.clone() else {
            return; // the source changed meanwhile
        };
        match relay::list_answer(&relay, answer) {
            Ok((listed, last_event_id)) => {
                if purpose == Purpose::Seed && self.stream.last_event_id.is_none() {
                    self.stream.last_event_id = Some(last_event_id);
                }
                self.listed(purpose, false, listed, out);
            }
            Err(failure) => self.list_failed(purpose, false, failure, out),
        }
    }

    /// One event of the relay's stream.
    fn streamed(&mut self, streamed: relay::Streamed, out: &mut Vec<Effect>) {
        match streamed {
            relay::Streamed::Changed { changes, id } => {
                if id.is_some() {
                    self.stream.last_event_id = id;
                }
                self.changed(
                    changes.changes,
                    changes.fetched_at_ms,
                    changes.failures,
                    out,
                );
            }
            relay::Streamed::Reset => {
                self.stream.last_event_id = None;
                self.forget_seeds();
                self.start_listing(Purpose::Seed, false, out);
            }
            relay::Streamed::Unknown { event } => out.push(Effect::Warn(format!(
                "skipping a team relay event the extension does not know: {event}"
            ))),
        }
    }

    /// Live changes, from the companion's port or the relay's stream.
    fn changed(
        &mut self,
        changes: Vec<protocol::messages::Change>,
        fetched_at_ms: u64,
        failures: Vec<protocol::messages::ServerFailure>,
        out: &mut Vec<Effect>,
    ) {
        if let Some(update) = self.live.changed(changes) {
            self.live_update(update, fetched_at_ms, out);
        }
        self.feed(state::Event::ServersFailed { failures }, out);
    }

    /// The live list moved: remember it and hand it to the state.
    fn live_update(
        &mut self,
        update: crate::live::Update,
        fetched_at_ms: u64,
        out: &mut Vec<Effect>,
    ) {
        out.push(Effect::RememberList(CachedList {
            previews: update.previews.clone(),
            fetched_at_ms,
        }));
        self.feed(
            state::Event::PreviewsChanged {
                previews: update.previews,
                deleted: update.deleted,
            },
            out,
        );
    }

    /// A new subscription or stream: the live list waits for a seed, and a seed still
    /// running belongs to the old one (it must not release the new one's events).
    fn forget_seeds(&mut self) {
        self.live.subscribed_again();
        self.listings.retain(|p| p.purpose != Purpose::Seed);
        self.fetches.retain(|(_, p)| *p != Purpose::Seed);
    }

    fn port_message(&mut self, message: Result<Reply, LocalError>, out: &mut Vec<Effect>) {
        match message {
            // The subscription's first events are only a diff from the companion's disk
            // cache: read the whole list once.
            Ok(Reply::Subscribed(_)) => {
                self.subscribed = true;
                out.push(Effect::LoadNotify);
                self.start_listing(Purpose::Seed, false, out)
            }
            Ok(Reply::Notification(n)) => {
                // Shown once the opt-ins (they change from the popup) and the routing
                // records are read.
                self.held_notes.push(*n);
                self.notify_loaded = false;
                out.push(Effect::LoadNotify);
                if self.state.applied.is_none() {
                    out.push(Effect::State(state::Effect::LoadApplied));
                }
            }
            Ok(Reply::PreviewsChanged(changed)) => self.changed(
                changed.changes,
                changed.fetched_at_ms,
                changed.failures,
                out,
            ),
            Ok(Reply::Error(e)) => self.feed(state::Event::CompanionFailed(e.error.into()), out),
            Ok(_) => {}
            Err(local) => self.feed(state::Event::CompanionFailed(local.into()), out),
        }
    }

    /// The popup's environments and the deep links of the previews it shows, once.
    fn ask_envs(&mut self, out: &mut Vec<Effect>) {
        if self.envs_asked {
            return;
        }
        self.envs_asked = true;
        let id = self.send(
            RequestBody::Envs {
                service: None,
                refresh: false,
            },
            out,
        );
        self.envs_asks.push((id, EnvsAsk::Envs { refresh: false }));
        let host = self.state.tab.as_ref().and_then(|t| t.host.clone());
        let shown: Vec<AppRef> = host
            .map(|h| {
                crate::hosts::previews_for_host(self.state.previews(), &h)
                    .into_iter()
                    .map(envs::app_ref)
                    .collect()
            })
            .unwrap_or_default();
        for app in shown {
            let id = self.send(RequestBody::AppLinks(app.clone()), out);
            self.envs_asks.push((id, EnvsAsk::Links(app)));
        }
    }

    fn envs_answered(
        &mut self,
        ask: EnvsAsk,
        reply: Result<Reply, LocalError>,
        out: &mut Vec<Effect>,
    ) {
        let failure = |reply: Result<Reply, LocalError>| -> Failure {
            match reply {
                Ok(Reply::Error(e)) => e.error.into(),
                Ok(other) => LocalError::Unreadable {
                    detail: format!("expected an answer, got {}", other.kind()),
                }
                .into(),
                Err(local) => local.into(),
            }
        };
        match (ask, reply) {
            (EnvsAsk::Envs { refresh }, Ok(Reply::Envs(r))) => {
                let stale = r.stale;
                self.envs.arrived(
                    r.services,
                    r.fetched_at_ms,
                    stale,
                    r.failures
                        .iter()
                        .map(|f| crate::text!("server_unreadable", &f.server, &f.error.message))
                        .collect(),
                );
                // A stale answer came from the companion's cache: ask Argo CD once.
                if stale && !refresh {
                    let id = self.send(
                        RequestBody::Envs {
                            service: None,
                            refresh: true,
                        },
                        out,
                    );
                    self.envs_asks.push((id, EnvsAsk::Envs { refresh: true }));
                }
            }
            (EnvsAsk::Envs { .. }, reply) => {
                let f = failure(reply);
                self.envs.failed = Some(f.text());
            }
            (EnvsAsk::Links(app), Ok(Reply::AppLinks(r))) => self.envs.links_arrived(&app, r.links),
            (EnvsAsk::Links(_), _) => {}
            (EnvsAsk::Act(app), Ok(Reply::AppAction(r))) => {
                self.envs.finished(&app, Text::plain(r.message), false);
                // Its new state shows in the list.
                self.start_listing(Purpose::Show, true, out);
            }
            (EnvsAsk::Act(app), reply) => {
                let f = failure(reply);
                self.envs.finished(&app, f.text(), true);
            }
        }
    }

    /// Shows the held notifications the user wants, once what decides it is read.
    fn flush_notes(&mut self, out: &mut Vec<Effect>) {
        if self.held_notes.is_empty() || !self.notify_loaded || self.state.applied.is_none() {
            return;
        }
        let routed = self.routed();
        for n in std::mem::take(&mut self.held_notes) {
            if envs::should_show(&n, &self.envs.notify_services, &routed) {
                out.push(Effect::ShowNotification {
                    id: envs::notification_id(&n),
                    title: n.title,
                    message: n.message,
                });
            }
        }
    }

    /// Tells the companion which services' environments to watch.
    fn watch_envs(&mut self, out: &mut Vec<Effect>) {
        let id = self.next_id;
        self.next_id += 1;
        out.push(Effect::PostOnPort(Request {
            id,
            body: RequestBody::WatchEnvs {
                services: self.envs.notify_services.clone(),
            },
        }));
    }

    /// The previews the user is routed to: our domain cookies, and tab rules whose cookie
    /// or header is a listed preview's route.
    fn routed(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = self
            .state
            .applied
            .iter()
            .flatten()
            .map(|a| (a.service.clone(), a.pr))
            .collect();
        for rule in self.state.rules.iter().flatten() {
            if let Some((name, value)) = rule.route_pair()
                && let Some(p) = self.state.previews().iter().find(|p| {
                    p.routes
                        .iter()
                        .any(|r| r.name.eq_ignore_ascii_case(name) && r.value == value)
                })
            {
                out.push((p.service.clone(), p.pr));
            }
        }
        out
    }

    fn walk_again(&mut self, out: &mut Vec<Effect>) {
        match &mut self.walk {
            Walk::Idle => {
                self.walk = Walk::Asked;
                out.push(Effect::QueryTabs);
            }
            // No tab was looked at yet: the walk will see this cleanup's result.
            Walk::Asked => {}
            Walk::Visiting { again, .. } => *again = true,
        }
    }

    /// Hands the state the next tab once the current one is read (or its read failed).
    fn advance_walk(&mut self, out: &mut Vec<Effect>) {
        loop {
            let Walk::Visiting {
                rest,
                reading,
                stuck,
                again,
            } = &mut self.walk
            else {
                return;
            };
            if *reading && !*stuck && !self.state.records_read() {
                return;
            }
            let Some(tab) = rest.pop_front() else {
                let again = *again;
                self.walk = Walk::Idle;
                if again {
                    self.walk_again(out);
                }
                return;
            };
            *reading = true;
            *stuck = false;
            self.feed(
                state::Event::TabUpdated {
                    tab_id: tab.id,
                    url: tab.url,
                },
                out,
            );
        }
    }
}

/// A read the state waits for that failed, so its answer will never come.
/// A failure a companion of another protocol version gives: a reply this extension cannot
/// read, or a request (or an error code) the companion and the extension do not share.
fn protocol_may_differ(failure: &Failure) -> bool {
    matches!(
        failure,
        Failure::Local(LocalError::Unreadable { .. })
            | Failure::Companion(ErrorBody {
                code: ErrorCode::UnknownType
                    | ErrorCode::BadRequest
                    | ErrorCode::BadJson
                    | ErrorCode::Unknown,
                ..
            })
    )
}

fn is_failed_read(event: &state::Event) -> bool {
    matches!(
        event,
        state::Event::EffectFailed(LocalError::Browser {
            call: BrowserCall::ReadCookies { .. } | BrowserCall::ReadRules,
            ..
        })
    )
}

#[cfg(test)]
mod tests;
