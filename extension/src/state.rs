//! The extension's brain: a closed [`Event`] goes in, [`Effect`]s come out (rust-analyzer's
//! main-loop shape). It owns every rule of DESIGN §6: one routing choice per (host, service),
//! domain cookies only on the hosts the companion listed and only after re-validation by the
//! one policy, the route that names the target host (never another), cookie ownership (only
//! the extension's own or a hand-set routing cookie is replaced or removed; a cookie of the
//! site's own blocks the route, on every host it would set), per-tab session rules, the
//! badge, and cleanup when a preview disappears.
//! It never touches the browser: `worker` takes its effects (running the companion requests
//! itself), the `web` glue runs the rest and reports back as events. The page ribbon's
//! decisions live in [`ribbon`].

use protocol::messages::ServerFailure;
use protocol::{Preview, Route, RouteKind};
use serde::{Deserialize, Serialize};

use crate::failure::{Failure, LocalError};
use crate::i18n::Text;
use crate::routing::{self, Refusal, SessionRule};
use crate::text;

pub mod ribbon;

pub use ribbon::{Ribbon, RibbonLine};

/// What the user picked for one service on the active tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Choice {
    Dev,
    Domain { pr: u64 },
    Tab { pr: u64 },
}

/// A cookie the browser holds for the active tab's host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSeen {
    pub name: String,
    pub value: String,
}

/// A domain-mode cookie set by this extension, kept in `chrome.storage.local` so that a
/// cookie set by hand can be told apart and so cleanup knows every host it went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    pub service: String,
    pub pr: u64,
    pub name: String,
    pub value: String,
    pub hosts: Vec<String>,
    pub https: bool,
}

/// Settings a user may change; defaults per DESIGN §6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub cookie_lifetime_secs: u64,
    /// Hosts whose `/<owner>/<repo>/pull/<n>` pages are pull requests (GitHub Enterprise too).
    pub github_hosts: Vec<String>,
    /// The share links' query parameter where a preview's share rule names none.
    pub share_param: String,
    /// The team relay the list comes from; `None`: the local companion.
    pub relay: Option<String>,
    /// The routing-cookie names the team allows (a glob, `settings::name_matches`); `None`:
    /// any name the cookie policy accepts.
    pub cookie_name_pattern: Option<String>,
    /// Where the page ribbon shows.
    pub page_marker: crate::settings::PageMarker,
    /// The mode the popup leads with.
    pub default_mode: crate::settings::Mode,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cookie_lifetime_secs: 24 * 60 * 60,
            github_hosts: vec!["github.com".into()],
            share_param: protocol::policy::DEFAULT_SHARE_PARAM.into(),
            relay: None,
            cookie_name_pattern: None,
            page_marker: crate::settings::PageMarker::default(),
            default_mode: crate::settings::Mode::default(),
        }
    }
}

/// What happens once a choice is applied: nothing more; open the page it names (GitHub's
/// *open with preview*); or reload the tab, so the page shows what was asked for (a share
/// link, *back to dev* from the keyboard).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Then {
    #[default]
    Stay,
    Open(String),
    Reload,
}

impl Then {
    /// The page a choice is for when it is not the tab's own.
    fn open_url(&self) -> Option<&str> {
        match self {
            Then::Open(url) => Some(url),
            _ => None,
        }
    }
}

/// The last main-frame response the worker saw in a tab: its host and the headers that may
/// be a preview's marker (kept in `storage.session` under `seen_<tab>` for the popup).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub tab_id: i32,
    pub host: String,
    pub headers: Vec<(String, String)>,
}

/// Deletions kept for records not read yet, at most (the oldest go first).
const MAX_WAITING_DELETIONS: usize = 64;

/// Most response headers kept from one response, and the longest value kept.
const MAX_SEEN_HEADERS: usize = 32;
const MAX_SEEN_VALUE: usize = 256;

/// Whether the page in the tab came from the preview it is routed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// No marker to check, or no response seen since the routing was set: nothing to say.
    Unknown,
    /// The response carried the preview's marker.
    Answered { header: String, value: String },
    /// The routing went out, but the response lacked the marker (or carried another
    /// value): dev (or something else) answered.
    Missed {
        header: String,
        value: String,
        got: Option<String>,
    },
}

/// How the badge looks: no routing, routed (nothing proven), the preview answered, or the
/// page was served by something else than the preview it is routed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Routed,
    Answered,
    Warning,
}

/// Everything that can happen to the extension.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The popup opened on a tab (or the worker saw a tab navigate): start over for it.
    PopupOpened {
        tab_id: i32,
        url: String,
        now_secs: u64,
    },
    /// The worker looks at a tab (its walk after a cleanup): refresh its badge.
    TabUpdated {
        tab_id: i32,
        url: String,
    },
    /// A page finished loading in a tab (`tabs.onUpdated` complete, the worker): its badge,
    /// and the page ribbon where this extension routed it.
    PageLoaded {
        tab_id: i32,
        url: String,
    },
    /// The answer to [`Effect::LoadDismissed`]: the services whose ribbon the user hid in
    /// the tab (empty when none or unreadable).
    DismissedLoaded {
        tab_id: i32,
        services: Vec<String>,
    },
    /// The answer to [`Effect::CheckAccess`].
    AccessChecked {
        tab_id: i32,
        origin: String,
        granted: bool,
    },
    /// The ribbon's ×, from the script the worker injected into that tab.
    RibbonDismissed {
        tab_id: i32,
        service: String,
    },
    /// The ribbon's *back to dev*, from the script the worker injected into that tab (`url`:
    /// the tab's, as the browser reports it).
    RibbonBackToDev {
        tab_id: i32,
        url: String,
        service: String,
    },
    AppliedLoaded {
        applied: Vec<Applied>,
    },
    CookiesRead {
        host: String,
        cookies: Vec<CookieSeen>,
    },
    RulesRead {
        rules: Vec<SessionRule>,
    },
    ListArrived {
        previews: Vec<Preview>,
        age_secs: u64,
        stale: bool,
    },
    /// A live update over the `subscribe` port: the worker's whole list after it, and the
    /// previews it deleted. Only those deletions clean up: the worker's list may lack
    /// previews it never heard of, so absence from it proves nothing.
    PreviewsChanged {
        previews: Vec<Preview>,
        deleted: Vec<Preview>,
    },
    /// The servers that failed in the fetch behind the list just shown (empty: none).
    ServersFailed {
        failures: Vec<ServerFailure>,
    },
    /// The refresh asked for after a stale list failed; the stale list stays shown.
    RefreshFailed(Failure),
    /// The worker is asking the companion for fresher data than the list shown (`on`), or
    /// gave up (`on: false`, the list stays as it is).
    Refreshing {
        on: bool,
    },
    /// The companion gave no list: its error, or why it could not be reached or read.
    CompanionFailed(Failure),
    Filter {
        text: String,
    },
    /// `/` pressed: the filter shows even when the list is short.
    FilterOpened,
    /// One click (or Enter) on a row's action: apply `choice` now.
    Choose {
        service: String,
        choice: Choice,
    },
    /// One click on the share link's offer: apply `choice`, then reload the tab.
    FollowLink {
        service: String,
        choice: Choice,
    },
    /// *Copy link* on a routed service.
    CopyLink {
        service: String,
    },
    /// The answer to [`Effect::CopyText`] (`Err`: the browser's words).
    Copied {
        result: Result<(), String>,
    },
    /// A main-frame response reached a tab (worker): its headers, names lower-cased.
    ResponseSeen {
        tab_id: i32,
        url: String,
        headers: Vec<(String, String)>,
    },
    /// The popup read its tab's last response from storage.
    SeenLoaded(Option<Seen>),
    /// Back to dev for every service routing the tab, then reload it (the keyboard command,
    /// without opening the popup.
    BackToDev {
        tab_id: i32,
        url: String,
    },
    /// "Open with preview" on a GitHub PR page: route the domain, then open the service on
    /// `host`, which names the route to apply (the tab's own host, github.com, names none).
    OpenWithPreview {
        service: String,
        pr: u64,
        host: String,
    },
    /// The answer to [`Effect::RequestHostPermission`].
    HostPermission {
        service: String,
        choice: Choice,
        then: Then,
        granted: bool,
    },
    /// `permissions.onAdded`: the user granted host access some other way than the prompt
    /// (Chromium's site-access menu, the add-on manager) while a request was pending; a
    /// pending `permissions.request` is then never answered.
    PermissionsAdded {
        origins: Vec<String>,
    },
    /// The popup was reopened by the service worker because access a choice waited for
    /// was granted after the popup had closed: finish that choice once the routing is read.
    Resume(AwaitingAccess),
    /// A browser call failed.
    EffectFailed(LocalError),
    TabClosed {
        tab_id: i32,
    },
}

/// What must be done, in order (by `worker` for [`Effect::RequestList`], else by `web`).
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    RequestList,
    ReadCookies {
        url: String,
        host: String,
    },
    ReadRules,
    LoadApplied,
    /// Changes the stored records by key, never writing the whole list: the popup and the
    /// worker both change it, each from its own copy (see [`merge_applied`]).
    SaveApplied {
        drop: Vec<Applied>,
        add: Vec<Applied>,
    },
    /// Store the choice waiting for access under `awaiting_access` (`None`: remove it and
    /// `access_granted`: nothing waits any more).
    RememberAwaiting(Option<AwaitingAccess>),
    /// `chrome.permissions.request`; answer with [`Event::HostPermission`].
    RequestHostPermission {
        origins: Vec<String>,
        service: String,
        choice: Choice,
        then: Then,
    },
    SetCookie {
        url: String,
        name: String,
        value: String,
        secure: bool,
        expires_in_secs: u64,
    },
    RemoveCookie {
        url: String,
        name: String,
    },
    /// Add (replacing any rule with the same id) one session rule.
    AddSessionRule {
        rule: SessionRule,
    },
    RemoveSessionRules {
        ids: Vec<u32>,
    },
    SetBadge {
        tab_id: i32,
        text: String,
        title: Text,
        tone: Tone,
    },
    Notify {
        title: Text,
        message: Text,
    },
    OpenTab {
        url: String,
    },
    /// Reload the tab once every cookie and rule change before it is done.
    ReloadTab {
        tab_id: i32,
    },
    /// Put `text` on the clipboard; answer with [`Event::Copied`].
    CopyText {
        text: String,
    },
    /// Store (or with `None` remove) the tab's last response under `seen_<tab>`.
    RememberSeen {
        tab_id: i32,
        seen: Option<Seen>,
    },
    /// Read the services whose ribbon the user hid in the tab (`storage.session`); answer
    /// with [`Event::DismissedLoaded`], also when unreadable.
    LoadDismissed {
        tab_id: i32,
    },
    /// Add (`hidden`) or remove `service` in the tab's stored list, read and written
    /// by [`ribbon::merge_hidden`].
    SaveDismissed {
        tab_id: i32,
        service: String,
        hidden: bool,
    },
    /// Remove the tab's stored list (the tab closed).
    ForgetDismissed {
        tab_id: i32,
    },
    /// `permissions.contains` for the page's origin, never a request; answer with
    /// [`Event::AccessChecked`].
    CheckAccess {
        tab_id: i32,
        origin: String,
    },
    /// Show `ribbon` in the tab's top frame (`ribbon.css`, `ribbon.js`, then its words).
    ShowRibbon {
        tab_id: i32,
        ribbon: Ribbon,
    },
    Render,
}

/// Where the companion's answer stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Companion {
    Loading,
    Ready {
        previews: Vec<Preview>,
        age_secs: u64,
        stale: bool,
    },
    Failed(Failure),
}

/// The active tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tab {
    pub id: i32,
    pub url: String,
    /// Lower-cased host, `None` for non-web pages (chrome://, file:, ...).
    pub host: Option<String>,
    pub https: bool,
}

/// A choice whose [`Effect::RequestHostPermission`] is not answered yet. Also kept in
/// `chrome.storage.local` (`awaiting_access`): Chromium closes the popup when it shows its
/// permission prompt, so the service worker finishes the choice once access is granted, by
/// reopening the popup (`access_granted`, see `worker`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwaitingAccess {
    pub service: String,
    pub choice: Choice,
    #[serde(default)]
    pub then: Then,
    /// The hosts access was asked for.
    pub hosts: Vec<String>,
    /// The tab the choice is for.
    pub tab_id: i32,
    /// When it was asked (Unix seconds): an old request is not finished any more.
    pub since_secs: u64,
}

/// How long after asking a granted access still finishes the choice (a user who granted
/// it much later may have moved on).
pub const AWAITING_ACCESS_SECS: u64 = 120;

impl AwaitingAccess {
    /// Whether `origins` (just granted) reach every host it waits for.
    pub fn reached_by(&self, origins: &[String]) -> bool {
        self.hosts
            .iter()
            .all(|h| origins.iter().any(|o| origin_reaches(o, h)))
    }

    /// Still worth finishing at `now_secs`.
    pub fn fresh_at(&self, now_secs: u64) -> bool {
        now_secs.saturating_sub(self.since_secs) <= AWAITING_ACCESS_SECS
    }
}

/// Whether a granted match pattern (`*://a.test/*`, `http://*/*`, `https://*.test/*`)
/// reaches `host`.
fn origin_reaches(pattern: &str, host: &str) -> bool {
    let Some((_, rest)) = pattern.split_once("://") else {
        return pattern == "<all_urls>";
    };
    let pattern_host = rest.split('/').next().unwrap_or("");
    pattern_host == "*"
        || pattern_host.eq_ignore_ascii_case(host)
        || pattern_host.strip_prefix("*.").is_some_and(|suffix| {
            host.len() > suffix.len()
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
                && host.as_bytes()[host.len() - suffix.len() - 1] == b'.'
        })
        || pattern == "<all_urls>"
}

/// How one service routes the active tab right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Active {
    Dev,
    Domain {
        pr: u64,
        by_hand: bool,
    },
    Tab {
        pr: u64,
    },
    /// A cookie with the service's route name whose value matches no listed preview.
    Unknown {
        name: String,
        value: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub config: Config,
    pub tab: Option<Tab>,
    pub now_secs: u64,
    pub companion: Companion,
    /// Cookies on the active tab's host; `None` until read.
    pub cookies: Option<Vec<CookieSeen>>,
    pub rules: Option<Vec<SessionRule>>,
    pub applied: Option<Vec<Applied>>,
    pub filter: String,
    /// `/` opened the filter.
    pub filter_open: bool,
    /// Things the user must be told (refusals, cleanups, failures), newest last.
    pub messages: Vec<Text>,
    /// A fresher list than the one shown has been asked for.
    pub refreshing: bool,
    /// The `--browser` the install command names (from the browser's brands).
    pub browser: &'static str,
    /// The operating system, for how to get the companion (from `navigator.platform`).
    pub os: crate::view::Os,
    /// Servers the companion could not list: their previews may be missing or old.
    pub failures: Vec<ServerFailure>,
    /// Why the last refresh of a stale list failed.
    pub refresh_error: Option<Failure>,
    /// The share link last copied, and whether it worked.
    pub copied: Option<Copied>,
    /// The last main-frame response seen per tab (the worker's tabs; the popup's own).
    pub seen: Vec<Seen>,
    /// A choice applied but waiting for the user to allow access to its hosts.
    pub awaiting_access: Option<AwaitingAccess>,
    /// The choice `PermissionsAdded` applied, whose own answer may still come.
    settled_access: Option<(String, Choice)>,
    /// A choice to finish once the routing is read ([`Event::Resume`]).
    resume: Option<AwaitingAccess>,
    last_badge: Option<(i32, String, Text, Tone)>,
    /// The list shown is a whole, fresh `list` answer: what it lacks is gone.
    complete: bool,
    /// Routes of previews deleted by live updates, cleaned up once records that carry them
    /// are read (or a whole, fresh list arrives).
    deleted: Vec<Route>,
    /// Tabs closed before the rules were read: their rules go once they are.
    closed_tabs: Vec<i32>,
    /// [`Event::BackToDev`] for this tab, once its routing is read.
    back_to_dev: Option<i32>,
    /// A granted choice waiting for the cookies on its route's other hosts.
    pending: Option<Pending>,
    /// Pages loaded whose ribbon is not decided yet (tab, URL), oldest first.
    ribbon_due: Vec<(i32, String)>,
    /// The services whose ribbon the user hid, per tab, as far as read.
    hidden: Vec<(i32, Vec<String>)>,
    /// The tab whose hidden services were read since it was last opened for a ribbon.
    hidden_read: Option<i32>,
    /// Ribbons waiting for the browser's word on access to their page (tab, origin).
    ribbon_access: Vec<(i32, String, Ribbon)>,
    /// The ribbon's *back to dev* (tab, service), once the tab's routing is read.
    ribbon_back: Option<(i32, String)>,
}

/// What a share link in the tab's URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRequest {
    pub service: String,
    pub pr: u64,
    /// Why it cannot be followed here (not listed, unroutable, another host, unreadable).
    pub refused: Option<Text>,
}

/// A share link the user copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub url: String,
    /// The preview's share rule (`None`: the cluster has none, the link needs the extension).
    pub share: Option<protocol::Share>,
    /// `None` while the clipboard has not answered; `Err`: the browser's words.
    pub result: Option<Result<(), String>>,
}

/// A choice whose route sets a cookie on hosts besides the tab's: it is applied once their
/// cookies are read and none of them is the site's own cookie of the route's name.
#[derive(Debug, Clone, PartialEq)]
struct Pending {
    service: String,
    choice: Choice,
    then: Then,
    name: String,
    waiting: Vec<String>,
    /// Hosts where the site has its own cookie of that name.
    site: Vec<String>,
}

/// The stored records after one [`Effect::SaveApplied`]: `drop` removed, then each of `add`
/// replacing any record of its service (one domain choice per service).
pub fn merge_applied(stored: Vec<Applied>, drop: &[Applied], add: &[Applied]) -> Vec<Applied> {
    let mut out: Vec<Applied> = stored
        .into_iter()
        .filter(|a| !drop.contains(a) && !add.iter().any(|n| n.service == a.service))
        .collect();
    out.extend(add.iter().cloned());
    out
}

/// Splits `scheme://host[:port]/...` into (https, lower-cased host) for http(s) URLs only.
pub fn parse_web_url(url: &str) -> Option<(bool, String)> {
    let (https, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return None;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = if host_port.starts_with('[') {
        host_port.split(']').next().map(|h| format!("{h}]"))?
    } else {
        host_port.split(':').next().unwrap_or("").to_string()
    };
    if host.is_empty() {
        return None;
    }
    Some((https, host.to_ascii_lowercase()))
}

/// The match patterns to ask access for: http and https spelled out, because Firefox reads
/// `*://` as also ws and wss, which the manifest's `optional_host_permissions` do not list,
/// and refuses the whole request.
fn origins(hosts: &[String]) -> Vec<String> {
    hosts
        .iter()
        .flat_map(|h| [format!("https://{h}/*"), format!("http://{h}/*")])
        .collect()
}

fn url_for(https: bool, host: &str) -> String {
    format!("{}://{host}/", if https { "https" } else { "http" })
}

/// Whether `route` is what a cookie or tab rule `name=value` carries. A header rule holds
/// its header name lower-cased; cookie names are case-sensitive.
fn carries(route: &Route, name: &str, value: &str) -> bool {
    route.value == value
        && (route.name == name
            || (route.kind == RouteKind::Header && route.name.eq_ignore_ascii_case(name)))
}

impl State {
    pub fn new(config: Config) -> Self {
        State {
            config,
            tab: None,
            now_secs: 0,
            companion: Companion::Loading,
            cookies: None,
            rules: None,
            applied: None,
            filter: String::new(),
            filter_open: false,
            messages: Vec::new(),
            refreshing: false,
            browser: "chromium",
            os: crate::view::Os::default(),
            failures: Vec::new(),
            refresh_error: None,
            copied: None,
            seen: Vec::new(),
            awaiting_access: None,
            settled_access: None,
            resume: None,
            last_badge: None,
            complete: false,
            deleted: Vec::new(),
            closed_tabs: Vec::new(),
            back_to_dev: None,
            pending: None,
            ribbon_due: Vec::new(),
            hidden: Vec::new(),
            hidden_read: None,
            ribbon_access: Vec::new(),
            ribbon_back: None,
        }
    }

    /// The companion's previews, empty until a list arrived.
    pub fn previews(&self) -> &[Preview] {
        match &self.companion {
            Companion::Ready { previews, .. } => previews,
            _ => &[],
        }
    }

    fn preview(&self, service: &str, pr: u64) -> Option<&Preview> {
        self.previews()
            .iter()
            .find(|p| p.service == service && p.pr == pr)
    }

    /// The route names used by a service's previews (usually one).
    fn route_names(&self, service: &str) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .previews()
            .iter()
            .filter(|p| p.service == service)
            .flat_map(|p| p.routes.iter().map(|r| r.name.as_str()))
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// How `service` routes the active tab now: a tab rule wins over a cookie (it is the
    /// narrower, newer choice), then a cookie of the service's route name, else dev.
    pub fn active(&self, service: &str) -> Active {
        let Some(tab) = &self.tab else {
            return Active::Dev;
        };
        let id = routing::rule_id(tab.id, service);
        if let Some(rule) = self
            .rules
            .iter()
            .flatten()
            .find(|r| r.id == id && r.condition.tab_ids.contains(&tab.id))
            && let Some((name, value)) = rule.route_pair()
            && let Some(p) = self
                .previews()
                .iter()
                .find(|p| p.service == service && p.routes.iter().any(|r| carries(r, name, value)))
        {
            return Active::Tab { pr: p.pr };
        }
        let Some(host) = &tab.host else {
            return Active::Dev;
        };
        let names = self.route_names(service);
        let ours = |pr: u64| {
            self.applied
                .iter()
                .flatten()
                .any(|a| a.service == service && a.pr == pr && a.hosts.iter().any(|h| h == host))
        };
        match &self.cookies {
            Some(cookies) => {
                if let Some(c) = cookies.iter().find(|c| names.contains(&c.name.as_str())) {
                    let hit = self.previews().iter().find(|p| {
                        p.service == service
                            && p.routes.iter().any(|r| {
                                r.kind == RouteKind::Cookie
                                    && r.name == c.name
                                    && r.value == c.value
                            })
                    });
                    return match hit {
                        Some(p) => Active::Domain {
                            pr: p.pr,
                            by_hand: !ours(p.pr),
                        },
                        None => Active::Unknown {
                            name: c.name.clone(),
                            value: c.value.clone(),
                        },
                    };
                }
                Active::Dev
            }
            // Cookies not read yet: trust our own record meanwhile.
            None => self
                .applied
                .iter()
                .flatten()
                .find(|a| a.service == service && a.hosts.iter().any(|h| h == host))
                .map_or(Active::Dev, |a| Active::Domain {
                    pr: a.pr,
                    by_hand: false,
                }),
        }
    }

    /// The choice that matches how `service` routes the tab now (`None`: a cookie matching
    /// no listed preview).
    pub fn active_choice(&self, service: &str) -> Option<Choice> {
        match self.active(service) {
            Active::Dev => Some(Choice::Dev),
            Active::Domain { pr, .. } => Some(Choice::Domain { pr }),
            Active::Tab { pr } => Some(Choice::Tab { pr }),
            Active::Unknown { .. } => None,
        }
    }

    /// Whether the records a choice rests on (cookies, rules, our applied cookies) are read:
    /// a choice made before would overwrite what it does not know.
    pub fn records_read(&self) -> bool {
        self.cookies.is_some() && self.rules.is_some() && self.applied.is_some()
    }

    /// The services with a preview routable on the active tab's host, in list order.
    pub fn services_on_host(&self) -> Vec<&str> {
        let Some(host) = self.tab.as_ref().and_then(|t| t.host.as_deref()) else {
            return Vec::new();
        };
        let mut out: Vec<&str> = Vec::new();
        for p in crate::hosts::previews_for_host(self.previews(), host) {
            if !out.contains(&p.service.as_str()) {
                out.push(&p.service);
            }
        }
        out
    }

    pub fn update(&mut self, event: Event) -> Vec<Effect> {
        let mut fx = self.handle(event);
        if self.resume.is_some() {
            fx.extend(self.try_resume());
        }
        if self.back_to_dev.is_some() {
            fx.extend(self.try_back_to_dev());
        }
        if self.ribbon_back.is_some() {
            fx.extend(self.try_ribbon_back());
        }
        if !self.ribbon_due.is_empty() {
            fx.extend(self.try_ribbon());
        }
        fx
    }

    /// Finishes [`Event::BackToDev`] once its tab's routing and a list are in: every
    /// service routing the tab goes back to dev, then the tab reloads.
    fn try_back_to_dev(&mut self) -> Vec<Effect> {
        let ready = matches!(self.companion, Companion::Ready { .. }) && self.records_read();
        let Some(tab) = self.tab.clone() else {
            return Vec::new();
        };
        if !ready || self.back_to_dev != Some(tab.id) {
            return Vec::new();
        }
        self.back_to_dev = None;
        let routed: Vec<String> = self.routed_services().into_iter().map(|(s, _)| s).collect();
        let mut fx = Vec::new();
        for service in &routed {
            fx.extend(self.apply(service, Choice::Dev, Then::Stay));
        }
        if !routed.is_empty() {
            fx.push(Effect::ReloadTab { tab_id: tab.id });
        }
        fx
    }

    /// The services routing the active tab now, with how, in list order (and services only
    /// our records name after them).
    pub fn routed_services(&self) -> Vec<(String, Active)> {
        let Some(tab) = &self.tab else {
            return Vec::new();
        };
        let mut services: Vec<&str> = self.services_on_host();
        for a in self.applied.iter().flatten() {
            if tab.host.as_ref().is_some_and(|h| a.hosts.contains(h))
                && !services.contains(&a.service.as_str())
            {
                services.push(&a.service);
            }
        }
        services
            .into_iter()
            .map(|s| (s.to_string(), self.active(s)))
            .filter(|(_, a)| *a != Active::Dev)
            .collect()
    }

    /// Finishes the choice of [`Event::Resume`] once its tab's routing and a list are in.
    fn try_resume(&mut self) -> Vec<Effect> {
        let ready = matches!(self.companion, Companion::Ready { .. }) && self.records_read();
        let same_tab = self.tab.as_ref().map(|t| t.id) == self.resume.as_ref().map(|r| r.tab_id);
        if !ready || !same_tab {
            return Vec::new();
        }
        let Some(r) = self.resume.take() else {
            return Vec::new();
        };
        let mut fx = vec![Effect::RememberAwaiting(None)];
        fx.extend(self.apply(&r.service, r.choice, r.then));
        fx
    }

    fn handle(&mut self, event: Event) -> Vec<Effect> {
        match event {
            Event::PopupOpened {
                tab_id,
                url,
                now_secs,
            } => {
                self.now_secs = now_secs;
                self.companion = Companion::Loading;
                let mut fx = self.open_tab(tab_id, url);
                fx.push(Effect::RequestList);
                fx.push(Effect::Render);
                fx
            }
            Event::TabUpdated { tab_id, url } => {
                // Chromium clears a tab's badge when it navigates, even within the same host:
                // what was set before no longer shows, so it is set again.
                self.last_badge = None;
                let mut fx = self.open_tab(tab_id, url);
                if !matches!(self.companion, Companion::Ready { .. }) {
                    fx.push(Effect::RequestList);
                }
                fx
            }
            Event::PageLoaded { tab_id, url } => self.page_loaded(tab_id, url),
            Event::DismissedLoaded { tab_id, services } => self.hidden_loaded(tab_id, services),
            Event::AccessChecked {
                tab_id,
                origin,
                granted,
            } => self.access_checked(tab_id, &origin, granted),
            Event::RibbonDismissed { tab_id, service } => self.ribbon_dismissed(tab_id, service),
            Event::RibbonBackToDev {
                tab_id,
                url,
                service,
            } => self.ribbon_back_to_dev(tab_id, url, service),
            Event::AppliedLoaded { applied } => {
                self.applied = Some(applied);
                self.settle()
            }
            Event::CookiesRead { host, cookies } => {
                if self
                    .pending
                    .as_ref()
                    .is_some_and(|p| p.waiting.contains(&host))
                {
                    return self.route_host_read(&host, &cookies);
                }
                if self.tab.as_ref().and_then(|t| t.host.as_deref()) != Some(host.as_str()) {
                    return Vec::new(); // an answer for a tab we have left
                }
                self.cookies = Some(cookies);
                self.settle()
            }
            Event::RulesRead { rules } => {
                let closed = std::mem::take(&mut self.closed_tabs);
                let (dead, live): (Vec<SessionRule>, Vec<SessionRule>) = rules
                    .into_iter()
                    .partition(|r| r.condition.tab_ids.iter().any(|t| closed.contains(t)));
                self.rules = Some(live);
                let mut fx = Vec::new();
                if !dead.is_empty() {
                    fx.push(Effect::RemoveSessionRules {
                        ids: dead.iter().map(|r| r.id).collect(),
                    });
                }
                fx.extend(self.settle());
                fx
            }
            Event::ListArrived {
                previews,
                age_secs,
                stale,
            } => {
                self.refreshing = false;
                self.complete = !stale;
                if !stale {
                    self.refresh_error = None;
                }
                self.companion = Companion::Ready {
                    previews,
                    age_secs,
                    stale,
                };
                self.settle()
            }
            Event::PreviewsChanged { previews, deleted } => {
                self.complete = false;
                self.deleted
                    .extend(deleted.into_iter().flat_map(|p| p.routes.into_iter()));
                self.companion = Companion::Ready {
                    previews,
                    age_secs: 0,
                    stale: false,
                };
                // The popup may have changed both since this worker read them: cleanup
                // waits for fresh copies, so it never writes back an outdated record.
                self.applied = None;
                self.rules = None;
                let mut fx = vec![Effect::LoadApplied, Effect::ReadRules];
                fx.extend(self.settle());
                fx
            }
            Event::ServersFailed { failures } => {
                self.failures = failures;
                vec![Effect::Render]
            }
            Event::RefreshFailed(failure) => {
                self.refreshing = false;
                self.refresh_error = Some(failure);
                vec![Effect::Render]
            }
            Event::Refreshing { on } => {
                self.refreshing = on;
                vec![Effect::Render]
            }
            Event::CompanionFailed(failure) => {
                self.refreshing = false;
                self.companion = Companion::Failed(failure);
                vec![Effect::Render]
            }
            Event::Filter { text } => {
                self.filter = text;
                vec![Effect::Render]
            }
            Event::FilterOpened => {
                self.filter_open = true;
                vec![Effect::Render]
            }
            Event::Choose { service, choice } => self.choose(service, choice, Then::Stay),
            Event::FollowLink { service, choice } => self.choose(service, choice, Then::Reload),
            // The domain whatever the default mode: the page opens in a new tab, whose
            // first request must carry the routing, and no tab rule can name a tab before
            // it exists; the domain's cookie is set before the tab opens.
            Event::OpenWithPreview { service, pr, host } => match routing::check_host(&host) {
                Ok(host) => self.choose(
                    service,
                    Choice::Domain { pr },
                    Then::Open(url_for(true, &host)),
                ),
                Err(refusal) => {
                    self.messages.push(refusal.0);
                    vec![Effect::Render]
                }
            },
            Event::CopyLink { service } => match self.share_link(&service) {
                Ok(copied) => {
                    let text = copied.url.clone();
                    self.copied = Some(copied);
                    vec![Effect::CopyText { text }, Effect::Render]
                }
                Err(why) => {
                    self.messages.push(why);
                    vec![Effect::Render]
                }
            },
            Event::Copied { result } => {
                if let Some(c) = &mut self.copied {
                    c.result = Some(result);
                }
                vec![Effect::Render]
            }
            Event::ResponseSeen {
                tab_id,
                url,
                headers,
            } => {
                let Some((_, host)) = parse_web_url(&url) else {
                    return Vec::new();
                };
                // Only what could be a marker, bounded: never a credential header.
                let headers: Vec<(String, String)> = headers
                    .into_iter()
                    .filter(|(h, v)| {
                        v.len() <= MAX_SEEN_VALUE && protocol::policy::check_marker(h, v).is_ok()
                    })
                    .map(|(h, v)| (h.to_ascii_lowercase(), v))
                    .take(MAX_SEEN_HEADERS)
                    .collect();
                let seen = Seen {
                    tab_id,
                    host,
                    headers,
                };
                self.seen.retain(|s| s.tab_id != tab_id);
                self.seen.push(seen.clone());
                let mut fx = vec![Effect::RememberSeen {
                    tab_id,
                    seen: Some(seen),
                }];
                // The browser does not order this event before the tab's "complete" (Firefox
                // may tell the page loaded first): when the tab's badge is already drawn, it
                // is drawn again with what came back (`badge` skips an unchanged one).
                if self.tab.as_ref().is_some_and(|t| t.id == tab_id) {
                    fx.extend(self.badge());
                }
                fx
            }
            Event::SeenLoaded(seen) => {
                if let Some(seen) = seen {
                    self.seen.retain(|s| s.tab_id != seen.tab_id);
                    self.seen.push(seen);
                }
                let mut fx = self.badge();
                fx.push(Effect::Render);
                fx
            }
            Event::BackToDev { tab_id, url } => {
                let mut fx = self.open_tab(tab_id, url);
                self.back_to_dev = Some(tab_id);
                if !matches!(self.companion, Companion::Ready { .. }) {
                    fx.push(Effect::RequestList);
                }
                fx
            }
            Event::HostPermission {
                service,
                choice,
                then,
                granted,
            } => {
                let this = (service.clone(), choice);
                if self.settled_access.as_ref() == Some(&this) {
                    // `PermissionsAdded` applied it already (Firefox answers both ways).
                    self.settled_access = None;
                    return Vec::new();
                }
                let mut fx = Vec::new();
                if self
                    .awaiting_access
                    .as_ref()
                    .is_some_and(|a| a.service == service && a.choice == choice)
                {
                    self.awaiting_access = None;
                    fx.push(Effect::RememberAwaiting(None));
                }
                if !granted {
                    self.messages.push(text!("refused_access", service));
                    fx.push(Effect::Render);
                    return fx;
                }
                fx.extend(self.read_then_apply(&service, choice, then));
                fx
            }
            Event::PermissionsAdded { origins } => {
                let covered = self
                    .awaiting_access
                    .as_ref()
                    .is_some_and(|a| a.reached_by(&origins));
                match self.awaiting_access.take() {
                    Some(a) if covered => {
                        self.settled_access = Some((a.service.clone(), a.choice));
                        let mut fx = vec![Effect::RememberAwaiting(None)];
                        fx.extend(self.read_then_apply(&a.service, a.choice, a.then));
                        fx
                    }
                    other => {
                        self.awaiting_access = other;
                        Vec::new()
                    }
                }
            }
            Event::Resume(awaiting) => {
                if awaiting.fresh_at(self.now_secs) {
                    self.resume = Some(awaiting);
                }
                Vec::new()
            }
            Event::EffectFailed(error) => {
                // A choice waiting for cookies it could not read is dropped with the error.
                self.pending = None;
                self.messages.push(error.text());
                vec![Effect::Render]
            }
            Event::TabClosed { tab_id } => {
                // The popup, not this worker, may have added the tab's rule since the rules
                // were last read: read them again and remove every rule naming the tab.
                if !self.closed_tabs.contains(&tab_id) {
                    self.closed_tabs.push(tab_id);
                }
                self.seen.retain(|s| s.tab_id != tab_id);
                vec![
                    Effect::ReadRules,
                    Effect::RememberSeen { tab_id, seen: None },
                    self.ribbon_tab_closed(tab_id),
                ]
            }
        }
    }

    fn open_tab(&mut self, tab_id: i32, url: String) -> Vec<Effect> {
        let parsed = parse_web_url(&url);
        let host = parsed.as_ref().map(|(_, h)| h.clone());
        self.tab = Some(Tab {
            id: tab_id,
            url: url.clone(),
            https: parsed.is_some_and(|(s, _)| s),
            host: host.clone(),
        });
        // Re-read everything this tab's picture rests on; until then cleanup waits.
        self.cookies = None;
        self.applied = None;
        self.rules = None;
        let mut fx = vec![Effect::LoadApplied, Effect::ReadRules];
        match host {
            Some(host) => fx.push(Effect::ReadCookies { url, host }),
            None => self.cookies = Some(Vec::new()),
        }
        fx
    }

    /// After any new fact: clean up what the list no longer backs, refresh badge and view.
    fn settle(&mut self) -> Vec<Effect> {
        let mut fx = self.cleanup();
        fx.extend(self.badge());
        fx.push(Effect::Render);
        fx
    }

    /// Removes our cookies and rules whose preview is gone: deleted by a live update, or
    /// absent from a whole, fresh list (a stale list may predate a preview; a list built
    /// from live updates may lack previews). Never without our records: we would not know
    /// what to remove. Cookies set by hand are left alone (shown, not deleted).
    fn cleanup(&mut self) -> Vec<Effect> {
        let Companion::Ready {
            previews, stale, ..
        } = &self.companion
        else {
            return Vec::new();
        };
        let (Some(applied), Some(rules)) = (&self.applied, &self.rules) else {
            return Vec::new();
        };
        let listed = |name: &str, value: &str| {
            previews
                .iter()
                .any(|p| p.routes.iter().any(|r| carries(r, name, value)))
        };
        let absent_is_gone = self.complete && !*stale;
        let deleted = std::mem::take(&mut self.deleted);
        let backed = |name: &str, value: &str| {
            listed(name, value)
                || !(absent_is_gone || deleted.iter().any(|r| carries(r, name, value)))
        };
        let tab_host = self.tab.as_ref().and_then(|t| t.host.clone());
        let cookies_here = self.cookies.clone().unwrap_or_default();
        let mut fx = Vec::new();
        let (keep, gone): (Vec<Applied>, Vec<Applied>) = applied
            .iter()
            .cloned()
            .partition(|a| backed(&a.name, &a.value));
        for a in &gone {
            for host in &a.hosts {
                // A cookie of that name with another value (the site's own, or one set by
                // hand) took our cookie's place: it stays.
                if tab_host.as_deref() == Some(host.as_str())
                    && cookies_here
                        .iter()
                        .any(|c| c.name == a.name && c.value != a.value)
                {
                    continue;
                }
                fx.push(Effect::RemoveCookie {
                    url: url_for(a.https, host),
                    name: a.name.clone(),
                });
            }
            fx.push(Effect::Notify {
                title: text!("gone_title", &a.service, a.pr),
                message: text!("gone_cookie_removed", &a.name, a.hosts.join(", ")),
            });
        }
        // Our rules whose route is gone: their ids, and the route each carries.
        let dead_rules: Vec<(u32, (&str, &str))> = rules
            .iter()
            .filter_map(|r| Some((r.id, r.route_pair().filter(|(n, v)| !backed(n, v))?)))
            .collect();
        let dead: Vec<u32> = dead_rules.iter().map(|(id, _)| *id).collect();
        // A deletion none of these records carries stays for the next read: the records read
        // may predate the choice that set the routing (an answer is not matched to its
        // request), and dropping it here would leave that cookie routing to nothing. A whole,
        // fresh list settles every deletion; a preview listed again is no longer deleted.
        if !absent_is_gone {
            let mut waiting: Vec<Route> = deleted
                .into_iter()
                .filter(|r| {
                    !gone.iter().any(|a| carries(r, &a.name, &a.value))
                        && !dead_rules.iter().any(|(_, (n, v))| carries(r, n, v))
                        && !previews.iter().any(|p| p.routes.contains(r))
                })
                .collect();
            let over = waiting.len().saturating_sub(MAX_WAITING_DELETIONS);
            waiting.drain(..over);
            self.deleted = waiting;
        }
        if !dead.is_empty() {
            fx.push(Effect::RemoveSessionRules { ids: dead.clone() });
            fx.push(Effect::Notify {
                title: text!("gone_rules_title"),
                message: text!("gone_rules_removed", dead.len()),
            });
        }
        if !gone.is_empty() {
            for a in &gone {
                self.messages.push(text!("gone_message", &a.service, a.pr));
            }
            self.applied = Some(keep);
            fx.push(Effect::SaveApplied {
                drop: gone.clone(),
                add: Vec::new(),
            });
            if let Some(cookies) = &mut self.cookies {
                cookies.retain(|c| !gone.iter().any(|a| a.name == c.name && a.value == c.value));
            }
        }
        if let Some(rules) = &mut self.rules {
            rules.retain(|r| !dead.contains(&r.id));
        }
        fx
    }

    /// The badge for the active tab: the PR numbers it is routed to, coloured by whether the
    /// preview's marker came back, only when changed.
    fn badge(&mut self) -> Vec<Effect> {
        let Some(tab) = &self.tab else {
            return Vec::new();
        };
        // Only a complete picture: a half-read one would flash a wrong badge.
        if self.cookies.is_none() || self.applied.is_none() || self.rules.is_none() {
            return Vec::new();
        }
        let tab_id = tab.id;
        let mut prs = Vec::new();
        let mut title = Vec::new();
        let mut tone = Tone::Plain;
        for (s, active) in self.routed_services() {
            let proof = self.proof(&s);
            let (pr, line) = match &active {
                Active::Domain { pr, by_hand } => {
                    let line = if *by_hand {
                        text!("badge_domain_by_hand", &s, pr)
                    } else {
                        text!("badge_domain", &s, pr)
                    };
                    (*pr, line)
                }
                Active::Tab { pr } => (*pr, text!("badge_tab", &s, pr)),
                Active::Unknown { name, .. } => {
                    title.push(text!("badge_unknown", &s, name));
                    continue;
                }
                Active::Dev => continue,
            };
            prs.push(pr);
            title.push(line);
            tone = match (&proof, tone) {
                (Proof::Missed { .. }, _) | (_, Tone::Warning) => Tone::Warning,
                (Proof::Answered { .. }, Tone::Plain | Tone::Answered) => Tone::Answered,
                _ => Tone::Routed,
            };
            if let Proof::Missed { header, value, .. } = proof {
                title.push(text!("badge_served_by_dev", header, value));
            }
        }
        let text = match prs.as_slice() {
            [] => String::new(),
            [one] => one.to_string(),
            [first, ..] => format!("{first}+"),
        };
        let title = if title.is_empty() {
            text!("badge_title_dev")
        } else {
            text!("badge_title", title)
        };
        let key = (tab_id, text.clone(), title.clone(), tone);
        if self.last_badge.as_ref() == Some(&key) {
            return Vec::new();
        }
        self.last_badge = Some(key);
        vec![Effect::SetBadge {
            tab_id,
            text,
            title,
            tone,
        }]
    }

    /// Whether the page in the active tab came from the preview `service` routes it to:
    /// the last response seen in the tab (for its host) against the preview's marker.
    pub fn proof(&self, service: &str) -> Proof {
        let Some(tab) = &self.tab else {
            return Proof::Unknown;
        };
        let pr = match self.active(service) {
            Active::Domain { pr, .. } | Active::Tab { pr } => pr,
            _ => return Proof::Unknown,
        };
        let Some(marker) = self.preview(service, pr).and_then(|p| p.marker.as_ref()) else {
            return Proof::Unknown;
        };
        let Some(seen) = self
            .seen
            .iter()
            .find(|s| s.tab_id == tab.id && Some(&s.host) == tab.host.as_ref())
        else {
            return Proof::Unknown;
        };
        let header = marker.header.to_ascii_lowercase();
        let got = seen
            .headers
            .iter()
            .find(|(h, _)| *h == header)
            .map(|(_, v)| v.clone());
        if got.as_deref() == Some(marker.value.as_str()) {
            Proof::Answered {
                header,
                value: marker.value.clone(),
            }
        } else {
            Proof::Missed {
                header,
                value: marker.value.clone(),
                got,
            }
        }
    }

    /// The share link for `service`'s routed PR from the active tab's page: the preview's
    /// share parameter (the cluster rule's) or the configured one.
    fn share_link(&self, service: &str) -> Result<Copied, Text> {
        let pr = match self.active(service) {
            Active::Domain { pr, .. } | Active::Tab { pr } => pr,
            _ => return Err(text!("copy_not_routed", service)),
        };
        let (Some(tab), Some(preview)) = (&self.tab, self.preview(service, pr)) else {
            return Err(text!("copy_not_routed", service));
        };
        let value = protocol::policy::share_value(service, pr)
            .ok_or_else(|| text!("copy_bad_service", service))?;
        let param = preview
            .share
            .as_ref()
            .map_or(self.config.share_param.as_str(), |s| s.param.as_str());
        Ok(Copied {
            url: protocol::policy::with_share_param(&tab.url, param, &value),
            share: preview.share.clone(),
            result: None,
        })
    }

    /// The preview a share link in the active tab's URL asks for (under the configured
    /// parameter or any listed preview's), with the route for this tab, or why it cannot
    /// be offered. A link names a preview, never a route: the route is the listed one.
    pub fn link_request(&self) -> Option<LinkRequest> {
        let tab = self.tab.as_ref()?;
        let mut params: Vec<&str> = vec![self.config.share_param.as_str()];
        for p in self.previews() {
            if let Some(s) = &p.share
                && !params.contains(&s.param.as_str())
            {
                params.push(&s.param);
            }
        }
        let (_, raw) = protocol::policy::share_param_in(&tab.url, &params)?;
        let (service, pr) = match protocol::policy::parse_share_value(raw) {
            Ok(v) => v,
            Err(why) => {
                return Some(LinkRequest {
                    service: String::new(),
                    pr: 0,
                    refused: Some(text!("link_unreadable", why)),
                });
            }
        };
        let refused = match self.preview(&service, pr) {
            _ if !matches!(self.companion, Companion::Ready { .. }) => None,
            None => Some(text!("link_not_listed", &service, pr)),
            Some(p) if p.routes.is_empty() => Some(text!(
                "link_unroutable",
                &service,
                pr,
                p.unroutable.clone().unwrap_or_default()
            )),
            Some(p) => match tab.host.as_deref() {
                Some(host) if p.route_for(host).is_some() => None,
                host => Some(text!(
                    "link_wrong_host",
                    &service,
                    pr,
                    host.unwrap_or_default()
                )),
            },
        };
        Some(LinkRequest {
            service,
            pr,
            refused,
        })
    }

    fn choose(&mut self, service: String, choice: Choice, then: Then) -> Vec<Effect> {
        if !self.records_read() {
            self.messages.push(text!("refused_still_reading", service));
            return vec![Effect::Render];
        }
        let current = self.active(&service);
        let same = matches!(
            (&current, choice),
            (Active::Dev, Choice::Dev)
                | (Active::Tab { .. }, Choice::Tab { .. })
                | (Active::Domain { by_hand: false, .. }, Choice::Domain { .. })
        ) && match (&current, choice) {
            (Active::Tab { pr: a }, Choice::Tab { pr: b })
            | (Active::Domain { pr: a, .. }, Choice::Domain { pr: b }) => *a == b,
            _ => true,
        };
        if same && then == Then::Stay {
            return Vec::new();
        }
        let pr = match choice {
            Choice::Dev => return self.apply(&service, choice, then),
            Choice::Domain { pr } | Choice::Tab { pr } => pr,
        };
        match self.checked(&service, pr, choice, then.open_url()) {
            Ok(route) => {
                let awaiting = AwaitingAccess {
                    service: service.clone(),
                    choice,
                    then: then.clone(),
                    hosts: route.hosts.clone(),
                    tab_id: self.tab.as_ref().map_or(-1, |t| t.id),
                    since_secs: self.now_secs,
                };
                self.awaiting_access = Some(awaiting.clone());
                // The request first: the browser wants it inside the click. Then stored,
                // for the worker, in case the prompt closes the popup.
                vec![
                    Effect::RequestHostPermission {
                        origins: origins(&route.hosts),
                        service,
                        choice,
                        then,
                    },
                    Effect::RememberAwaiting(Some(awaiting)),
                    Effect::Render,
                ]
            }
            Err(refusal) => {
                self.messages.push(refusal.0);
                vec![Effect::Render]
            }
        }
    }

    /// The host an action is for: the page `open` names (GitHub's "open with preview"), else
    /// the active tab's.
    fn target_host(&self, open: Option<&str>) -> Option<String> {
        match open {
            Some(url) => parse_web_url(url).map(|(_, h)| h),
            None => self.tab.as_ref()?.host.clone(),
        }
    }

    /// The route `choice` would apply, re-checked by the one policy: the preview's route that
    /// names the target host (never another route, which could reach other sites), refused
    /// when none does, when it is a header route for the domain, or when it would overwrite
    /// a cookie of the site's own.
    fn checked(
        &self,
        service: &str,
        pr: u64,
        choice: Choice,
        open: Option<&str>,
    ) -> Result<Route, Refusal> {
        let preview = self
            .preview(service, pr)
            .ok_or_else(|| Refusal(text!("refused_not_listed", service, pr)))?;
        if preview.routes.is_empty() {
            let why = match &preview.unroutable {
                Some(why) => Text::plain(why),
                None => text!("no_route_found"),
            };
            return Err(Refusal(text!("refused_unroutable", service, pr, why)));
        }
        let host = self.target_host(open).unwrap_or_default();
        let route = preview.route_for(&host).ok_or_else(|| {
            Refusal(text!(
                "refused_no_route_for_host",
                service,
                pr,
                protocol::policy::quoted(&host)
            ))
        })?;
        let route = routing::check_route(route)?;
        if let Some(why) = self.policy_refusal(&route) {
            return Err(Refusal(text!("refused_by_team_pattern", why)));
        }
        if route.kind == RouteKind::Header && matches!(choice, Choice::Domain { .. }) {
            return Err(Refusal(text!(
                "refused_header_for_domain",
                service,
                pr,
                &route.name
            )));
        }
        if route.kind == RouteKind::Cookie
            && let Some(why) = self.site_cookie_refusal(&route)
        {
            return Err(Refusal(text!("refused_site_cookie", why)));
        }
        Ok(route)
    }

    /// Whether the cookie `name=value` on `host` may be replaced or removed: the extension
    /// set it (its records say so), or it is a routing cookie set by hand (a listed route
    /// of that name carries its value). Any other cookie is the site's own.
    fn may_touch(&self, host: &str, name: &str, value: &str) -> bool {
        let ours = self
            .applied
            .iter()
            .flatten()
            .any(|a| a.name == name && a.value == value && a.hosts.iter().any(|h| h == host));
        ours || self
            .previews()
            .iter()
            .flat_map(|p| &p.routes)
            .any(|r| r.kind == RouteKind::Cookie && r.name == name && r.value == value)
    }

    /// Why `route` cannot be applied on the tab's host, when a cookie of the site's own there
    /// has its name (the popup disables both modes with this reason).
    pub fn site_cookie_refusal(&self, route: &Route) -> Option<Text> {
        let site = self.site_cookie(route)?;
        Some(text!("site_cookie", &site.name))
    }

    /// Why the team's policy refuses `route` (its cookie-name pattern), if it does (the popup
    /// disables both modes with this reason).
    pub fn policy_refusal(&self, route: &Route) -> Option<Text> {
        crate::settings::pattern_refusal(self.config.cookie_name_pattern.as_deref(), &route.name)
    }

    /// A cookie of the site's own on the tab's host that `route` would overwrite.
    fn site_cookie(&self, route: &Route) -> Option<&CookieSeen> {
        let host = self.tab.as_ref()?.host.as_deref()?;
        if !route.hosts.iter().any(|h| h == host) {
            return None;
        }
        self.cookies
            .iter()
            .flatten()
            .find(|c| c.name == route.name && !self.may_touch(host, &c.name, &c.value))
    }

    /// After the permission: reads the cookies on the route's hosts other than the tab's (the
    /// tab's are known) before setting anything, so a cookie of the site's own there is
    /// never overwritten either; applies at once when there are none to read.
    fn read_then_apply(&mut self, service: &str, choice: Choice, then: Then) -> Vec<Effect> {
        let pr = match choice {
            Choice::Dev => return self.apply(service, choice, then),
            Choice::Domain { pr } | Choice::Tab { pr } => pr,
        };
        let route = match self.checked(service, pr, choice, then.open_url()) {
            Ok(route) => route,
            Err(refusal) => {
                self.messages.push(refusal.0);
                return vec![Effect::Render];
            }
        };
        let here = self.tab.as_ref().and_then(|t| t.host.clone());
        let waiting: Vec<String> = match route.kind {
            RouteKind::Cookie => route
                .hosts
                .into_iter()
                .filter(|h| Some(h) != here.as_ref())
                .collect(),
            RouteKind::Header => Vec::new(),
        };
        if waiting.is_empty() {
            return self.apply(service, choice, then);
        }
        // https: a read for the https URL also returns the cookies without `Secure`.
        let fx = waiting
            .iter()
            .map(|h| Effect::ReadCookies {
                url: url_for(true, h),
                host: h.clone(),
            })
            .collect();
        self.pending = Some(Pending {
            service: service.to_string(),
            choice,
            then,
            name: route.name,
            waiting,
            site: Vec::new(),
        });
        fx
    }

    /// The cookies of one host a pending choice waits for; the last one decides.
    fn route_host_read(&mut self, host: &str, cookies: &[CookieSeen]) -> Vec<Effect> {
        let Some(mut p) = self.pending.take() else {
            return Vec::new();
        };
        p.waiting.retain(|h| h != host);
        if cookies
            .iter()
            .any(|c| c.name == p.name && !self.may_touch(host, &c.name, &c.value))
        {
            p.site.push(host.to_string());
        }
        if !p.waiting.is_empty() {
            self.pending = Some(p);
            return Vec::new();
        }
        if !p.site.is_empty() {
            self.messages
                .push(text!("refused_site_cookie_on", &p.name, p.site.join(", ")));
            return vec![Effect::Render];
        }
        self.apply(&p.service, p.choice, p.then)
    }

    /// Removes whatever routes `service` now and applies `choice`: the one place where
    /// cookies and rules change, so "one choice per (host, service)" holds by construction.
    fn apply(&mut self, service: &str, choice: Choice, then: Then) -> Vec<Effect> {
        let Some(tab) = self.tab.clone() else {
            return Vec::new();
        };
        // Validate before removing anything: a refused route leaves the old routing intact.
        let route = match choice {
            Choice::Dev => None,
            Choice::Domain { pr } | Choice::Tab { pr } => {
                match self.checked(service, pr, choice, then.open_url()) {
                    Ok(r) => Some((pr, r)),
                    Err(refusal) => {
                        self.messages.push(refusal.0);
                        return vec![Effect::Render];
                    }
                }
            }
        };
        // Cookies on the tab's host that are the site's own: never removed.
        let keep_here: Vec<CookieSeen> = match &tab.host {
            Some(host) => self
                .cookies
                .iter()
                .flatten()
                .filter(|c| !self.may_touch(host, &c.name, &c.value))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        let mut fx = Vec::new();
        // 1. Our own domain cookies for this service, on every host they went to.
        let applied = self.applied.get_or_insert_with(Vec::new);
        let mut removed_here: Vec<String> = Vec::new();
        for a in applied.iter().filter(|a| a.service == service) {
            for host in &a.hosts {
                if tab.host.as_deref() == Some(host.as_str())
                    && keep_here.iter().any(|c| c.name == a.name)
                {
                    continue;
                }
                fx.push(Effect::RemoveCookie {
                    url: url_for(a.https, host),
                    name: a.name.clone(),
                });
                if tab.host.as_deref() == Some(host) {
                    removed_here.push(a.name.clone());
                }
            }
        }
        let (dropped, kept): (Vec<Applied>, Vec<Applied>) = std::mem::take(applied)
            .into_iter()
            .partition(|a| a.service == service);
        *applied = kept;
        // 2. A routing cookie with the service's route name on this host, set by hand. The
        // site's own cookies of that name are left alone.
        let names: Vec<String> = self
            .route_names(service)
            .into_iter()
            .map(str::to_string)
            .collect();
        let ours = |c: &CookieSeen| names.contains(&c.name) && !keep_here.contains(c);
        if let (Some(host), Some(cookies)) = (&tab.host, &mut self.cookies) {
            for c in cookies.iter().filter(|c| ours(c)) {
                if !removed_here.contains(&c.name) {
                    fx.push(Effect::RemoveCookie {
                        url: url_for(tab.https, host),
                        name: c.name.clone(),
                    });
                }
            }
            cookies.retain(|c| !ours(c));
        }
        // 3. This tab's rule for the service.
        let id = routing::rule_id(tab.id, service);
        let rules = self.rules.get_or_insert_with(Vec::new);
        if rules.iter().any(|r| r.id == id) {
            rules.retain(|r| r.id != id);
            if !matches!(choice, Choice::Tab { .. }) {
                fx.push(Effect::RemoveSessionRules { ids: vec![id] });
            }
        }
        // 4. A domain choice is the one choice for the service on its hosts: other tabs'
        // rules for the service there would make those tabs send two values.
        if let (Choice::Domain { .. }, Some((_, route))) = (choice, &route) {
            let others: Vec<u32> = rules
                .iter()
                .filter(|r| {
                    r.condition
                        .tab_ids
                        .iter()
                        .any(|t| r.id == routing::rule_id(*t, service))
                        && r.condition
                            .request_domains
                            .iter()
                            .any(|d| route.hosts.contains(d))
                })
                .map(|r| r.id)
                .collect();
            if !others.is_empty() {
                rules.retain(|r| !others.contains(&r.id));
                fx.push(Effect::RemoveSessionRules { ids: others });
            }
        }
        let mut added = Vec::new();
        match (choice, route) {
            (Choice::Domain { pr }, Some((_, route))) => {
                // The scheme of the tab when it is one of the route's hosts, else https.
                let https = match &tab.host {
                    Some(h) if route.hosts.contains(h) => tab.https,
                    _ => true,
                };
                for host in &route.hosts {
                    fx.push(Effect::SetCookie {
                        url: url_for(https, host),
                        name: route.name.clone(),
                        value: route.value.clone(),
                        secure: https,
                        expires_in_secs: self.config.cookie_lifetime_secs,
                    });
                }
                if let (Some(host), Some(cookies)) = (&tab.host, &mut self.cookies)
                    && route.hosts.contains(host)
                {
                    cookies.push(CookieSeen {
                        name: route.name.clone(),
                        value: route.value.clone(),
                    });
                }
                let record = Applied {
                    service: service.to_string(),
                    pr,
                    name: route.name,
                    value: route.value,
                    hosts: route.hosts,
                    https,
                };
                self.applied
                    .get_or_insert_with(Vec::new)
                    .push(record.clone());
                added.push(record);
            }
            (Choice::Tab { .. }, Some((_, route))) => {
                let header = (route.kind == RouteKind::Header).then_some(route.name.as_str());
                let rule = routing::tab_rule(
                    tab.id,
                    service,
                    header,
                    &route.name,
                    &route.value,
                    &route.hosts,
                );
                self.rules.get_or_insert_with(Vec::new).push(rule.clone());
                fx.push(Effect::AddSessionRule { rule });
            }
            _ => {}
        }
        if !dropped.is_empty() || !added.is_empty() {
            fx.push(Effect::SaveApplied {
                drop: dropped,
                add: added,
            });
        }
        // Routed again: a ribbon the user hid in this tab shows again.
        if choice != Choice::Dev {
            fx.push(self.unhide(tab.id, service));
        }
        // The tab's last response was served under the old routing: it proves nothing now.
        if self.seen.iter().any(|s| s.tab_id == tab.id) {
            self.seen.retain(|s| s.tab_id != tab.id);
            fx.push(Effect::RememberSeen {
                tab_id: tab.id,
                seen: None,
            });
        }
        fx.extend(self.badge());
        match then {
            Then::Open(url) => fx.push(Effect::OpenTab { url }),
            Then::Reload => fx.push(Effect::ReloadTab { tab_id: tab.id }),
            Then::Stay => {}
        }
        fx.push(Effect::Render);
        fx
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::i18n::testing::english;
    use protocol::{Links, RouteSource};

    /// `t` in English.
    pub(crate) fn en(t: &Text) -> String {
        t.render(english())
    }

    /// The badge `fx` sets: tab, text, title in English, tone.
    fn badge(fx: &[Effect]) -> Option<(i32, String, String, Tone)> {
        fx.iter().find_map(|e| match e {
            Effect::SetBadge {
                tab_id,
                text,
                title,
                tone,
            } => Some((*tab_id, text.clone(), en(title), *tone)),
            _ => None,
        })
    }

    pub(crate) fn preview(service: &str, pr: u64, name: &str, hosts: &[&str]) -> Preview {
        Preview {
            server: "https://argocd.dev".into(),
            context: "dev".into(),
            app: format!("{service}-pr-{pr}"),
            namespace: "argocd".into(),
            service: service.into(),
            pr,
            sync: Some("Synced".into()),
            health: Some("Healthy".into()),
            phase: Some("Succeeded".into()),
            revision: Some("1a2b3c4d5e6f".into()),
            image_tag: Some("dev-1a2b3c4".into()),
            created_at: Some("2026-11-20T15:00:00Z".into()),
            links: Links {
                argocd: Some(format!(
                    "https://argocd.dev/applications/argocd/{service}-pr-{pr}"
                )),
                pull_request: Some(format!("https://github.com/acme/{service}/pull/{pr}")),
            },
            routes: vec![Route {
                kind: RouteKind::Cookie,
                name: name.into(),
                value: pr.to_string(),
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                source: RouteSource::Annotation,
            }],
            unroutable: None,
            ..Default::default()
        }
    }

    pub(crate) fn fe(pr: u64) -> Preview {
        preview(
            "courses-fe",
            pr,
            "team-courses-fe-pr",
            &["app.test", "www.app.test"],
        )
    }

    /// A popup on `https://app.test/` with cookies and rules read and the list arrived.
    /// Answers the reads a popup starts with: no cookies on `host`, no rules, no records.
    pub(crate) fn records_read(s: &mut State, host: &str) {
        s.update(Event::AppliedLoaded { applied: vec![] });
        s.update(Event::RulesRead { rules: vec![] });
        s.update(Event::CookiesRead {
            host: host.into(),
            cookies: vec![],
        });
    }

    pub(crate) fn ready(previews: Vec<Preview>, cookies: Vec<CookieSeen>) -> State {
        let mut s = State::new(Config::default());
        s.update(Event::PopupOpened {
            tab_id: 7,
            url: "https://app.test/courses".into(),
            now_secs: 1_795_359_700,
        });
        s.update(Event::AppliedLoaded { applied: vec![] });
        s.update(Event::RulesRead { rules: vec![] });
        s.update(Event::CookiesRead {
            host: "app.test".into(),
            cookies,
        });
        s.update(Event::ListArrived {
            previews,
            age_secs: 3,
            stale: false,
        });
        s
    }

    pub(crate) fn granted(s: &mut State, service: &str, choice: Choice) -> Vec<Effect> {
        let fx = s.update(Event::Choose {
            service: service.into(),
            choice,
        });
        let Some(Effect::RequestHostPermission { origins, .. }) = fx.first() else {
            return fx;
        };
        // Only schemes the manifest's optional_host_permissions list (Firefox refuses more).
        assert!(
            origins
                .iter()
                .all(|o| o.starts_with("https://") || o.starts_with("http://")),
            "{origins:?}"
        );
        let fx = permission(s, service, choice, true);
        no_cookies_on_other_hosts(s, fx)
    }

    /// The browser's answer to the permission a choice asked for.
    fn permission(s: &mut State, service: &str, choice: Choice, granted: bool) -> Vec<Effect> {
        s.update(Event::HostPermission {
            service: service.into(),
            choice,
            then: Then::Stay,
            granted,
        })
    }

    /// Answers the reads of the route's other hosts (no cookies there) and returns every
    /// effect, the reads' included.
    pub(crate) fn no_cookies_on_other_hosts(s: &mut State, fx: Vec<Effect>) -> Vec<Effect> {
        let mut all = fx.clone();
        for e in fx {
            if let Effect::ReadCookies { host, .. } = e
                && s.tab.as_ref().and_then(|t| t.host.as_deref()) != Some(host.as_str())
            {
                all.extend(s.update(Event::CookiesRead {
                    host,
                    cookies: vec![],
                }));
            }
        }
        all
    }

    fn sets(fx: &[Effect]) -> Vec<(String, String, String)> {
        fx.iter()
            .filter_map(|e| match e {
                Effect::SetCookie {
                    url, name, value, ..
                } => Some((url.clone(), name.clone(), value.clone())),
                _ => None,
            })
            .collect()
    }

    fn browser_changes(fx: &[Effect]) -> usize {
        fx.iter()
            .filter(|e| {
                matches!(
                    e,
                    Effect::SetCookie { .. }
                        | Effect::RemoveCookie { .. }
                        | Effect::AddSessionRule { .. }
                        | Effect::RemoveSessionRules { .. }
                        | Effect::RequestHostPermission { .. }
                )
            })
            .count()
    }

    #[test]
    fn opening_the_popup_asks_for_everything_it_shows() {
        let mut s = State::new(Config::default());
        let fx = s.update(Event::PopupOpened {
            tab_id: 3,
            url: "http://App.Test:8080/x?y".into(),
            now_secs: 1,
        });
        assert_eq!(
            fx,
            vec![
                Effect::LoadApplied,
                Effect::ReadRules,
                Effect::ReadCookies {
                    url: "http://App.Test:8080/x?y".into(),
                    host: "app.test".into()
                },
                Effect::RequestList,
                Effect::Render
            ]
        );
        assert_eq!(s.tab.as_ref().unwrap().host.as_deref(), Some("app.test"));
        assert!(!s.tab.unwrap().https);
    }

    #[test]
    fn domain_mode_sets_one_host_only_cookie_per_listed_host() {
        let mut s = ready(vec![fe(123)], vec![]);
        let fx = granted(&mut s, "courses-fe", Choice::Domain { pr: 123 });
        assert_eq!(
            sets(&fx),
            vec![
                (
                    "https://app.test/".into(),
                    "team-courses-fe-pr".into(),
                    "123".into()
                ),
                (
                    "https://www.app.test/".into(),
                    "team-courses-fe-pr".into(),
                    "123".into()
                ),
            ]
        );
        assert!(fx.iter().any(|e| matches!(
            e,
            Effect::SetCookie {
                secure: true,
                expires_in_secs: 86_400,
                ..
            }
        )));
        assert_eq!(
            badge(&fx),
            Some((
                7,
                "123".into(),
                "Preview Switch: courses-fe: PR 123 for this domain".into(),
                Tone::Routed
            ))
        );
        assert_eq!(
            s.active("courses-fe"),
            Active::Domain {
                pr: 123,
                by_hand: false
            }
        );
    }

    /// Chromium never answers a `permissions.request` that the user settled elsewhere (the
    /// site-access menu): `permissions.onAdded` must finish the choice, once; Firefox sends
    /// both, and the late answer must not apply it a second time.
    #[test]
    fn access_granted_elsewhere_finishes_the_waiting_choice_once() {
        let mut s = ready(vec![fe(123)], vec![]);
        let fx = s.update(Event::Choose {
            service: "courses-fe".into(),
            choice: Choice::Domain { pr: 123 },
        });
        assert!(matches!(
            fx.first(),
            Some(Effect::RequestHostPermission { .. })
        ));
        assert_eq!(
            s.awaiting_access.as_ref().unwrap().hosts,
            ["app.test", "www.app.test"]
        );
        // Another site, or only one of the route's hosts: still waiting, nothing set.
        for origins in [vec!["*://other.test/*"], vec!["http://app.test/*"]] {
            let fx = s.update(Event::PermissionsAdded {
                origins: origins.iter().map(|o| o.to_string()).collect(),
            });
            assert_eq!(browser_changes(&fx), 0, "{origins:?}: {fx:?}");
            assert!(s.awaiting_access.is_some());
        }
        let fx = s.update(Event::PermissionsAdded {
            origins: vec!["http://app.test/*".into(), "https://*.app.test/*".into()],
        });
        let fx = no_cookies_on_other_hosts(&mut s, fx);
        assert_eq!(sets(&fx).len(), 2, "{fx:?}");
        assert!(s.awaiting_access.is_none());
        let late = s.update(Event::HostPermission {
            service: "courses-fe".into(),
            choice: Choice::Domain { pr: 123 },
            then: Then::Stay,
            granted: true,
        });
        assert_eq!(browser_changes(&late), 0, "applied once: {late:?}");
        // Nothing awaited: a grant elsewhere changes nothing.
        let fx = s.update(Event::PermissionsAdded {
            origins: vec!["<all_urls>".into()],
        });
        assert_eq!(fx, vec![]);
    }

    #[test]
    fn granted_patterns_reach_exactly_their_hosts() {
        for (pattern, host, reaches) in [
            ("*://app.test/*", "app.test", true),
            ("http://APP.test/*", "app.test", true),
            ("*://*/*", "app.test", true),
            ("<all_urls>", "app.test", true),
            ("*://*.app.test/*", "www.app.test", true),
            ("*://*.app.test/*", "app.test", false),
            ("*://*.app.test/*", "evilapp.test", false),
            ("*://app.test/*", "www.app.test", false),
            ("*://other.test/*", "app.test", false),
        ] {
            assert_eq!(origin_reaches(pattern, host), reaches, "{pattern} {host}");
        }
    }

    /// The team's cookie-name pattern holds in the state too (a choice that did not come
    /// from the popup's enabled options): nothing is set, and the user is told why.
    #[test]
    fn a_choice_the_teams_pattern_refuses_changes_nothing() {
        for choice in [Choice::Domain { pr: 123 }, Choice::Tab { pr: 123 }] {
            let mut s = ready(vec![fe(123)], vec![]);
            s.config.cookie_name_pattern = Some("qa-*".into());
            let fx = granted(&mut s, "courses-fe", choice);
            assert!(
                !fx.iter()
                    .any(|e| matches!(e, Effect::SetCookie { .. } | Effect::AddSessionRule { .. })),
                "{fx:?}"
            );
            assert_eq!(
                s.messages.last().map(en).as_deref(),
                Some(
                    "not switched: your team allows routing cookies named qa-* only, and this route is named team-courses-fe-pr: ask your team to rename the route or change the policy"
                )
            );
        }
    }

    #[test]
    fn domain_mode_on_http_sets_no_secure_flag() {
        let mut s = State::new(Config::default());
        s.update(Event::PopupOpened {
            tab_id: 1,
            url: "http://app.test/".into(),
            now_secs: 0,
        });
        records_read(&mut s, "app.test");
        s.update(Event::ListArrived {
            previews: vec![fe(5)],
            age_secs: 0,
            stale: false,
        });
        let fx = granted(&mut s, "courses-fe", Choice::Domain { pr: 5 });
        assert!(fx.iter().any(|e| matches!(e, Effect::SetCookie { url, secure: false, .. } if url == "http://app.test/")));
    }

    #[test]
    fn switching_pr_or_mode_removes_the_previous_choice() {
        let mut s = ready(vec![fe(123), fe(124)], vec![]);
        granted(&mut s, "courses-fe", Choice::Domain { pr: 123 });
        let fx = granted(&mut s, "courses-fe", Choice::Tab { pr: 124 });
        let removed: Vec<_> = fx
            .iter()
            .filter(|e| matches!(e, Effect::RemoveCookie { .. }))
            .collect();
        assert_eq!(removed.len(), 2, "both hosts of the old cookie: {fx:?}");
        assert!(sets(&fx).is_empty());
        let rule = fx
            .iter()
            .find_map(|e| match e {
                Effect::AddSessionRule { rule } => Some(rule),
                _ => None,
            })
            .expect("a tab rule");
        assert_eq!(rule.condition.tab_ids, vec![7]);
        assert_eq!(rule.cookie_pair(), Some(("team-courses-fe-pr", "124")));
        assert_eq!(s.active("courses-fe"), Active::Tab { pr: 124 });
        assert_eq!(s.applied, Some(vec![]));

        let fx = granted(&mut s, "courses-fe", Choice::Dev);
        assert!(fx.contains(&Effect::RemoveSessionRules {
            ids: vec![routing::rule_id(7, "courses-fe")]
        }));
        assert_eq!(s.active("courses-fe"), Active::Dev);
    }

    #[test]
    fn a_domain_choice_removes_other_tabs_rules_for_the_service_on_its_hosts() {
        let api = preview("api", 9, "team-api-pr", &["app.test"]);
        let mut s = ready(vec![fe(123), fe(124), api], vec![]);
        let hosts = vec!["app.test".to_string(), "www.app.test".to_string()];
        let other_tab =
            routing::tab_rule(8, "courses-fe", None, "team-courses-fe-pr", "124", &hosts);
        let other_service = routing::tab_rule(8, "api", None, "team-api-pr", "9", &hosts);
        let elsewhere = routing::tab_rule(
            9,
            "courses-fe",
            None,
            "team-courses-fe-pr",
            "124",
            &["x.test".into()],
        );
        s.update(Event::RulesRead {
            rules: vec![other_tab.clone(), other_service.clone(), elsewhere.clone()],
        });
        let fx = granted(&mut s, "courses-fe", Choice::Domain { pr: 123 });
        assert!(
            fx.contains(&Effect::RemoveSessionRules {
                ids: vec![other_tab.id]
            }),
            "{fx:?}"
        );
        assert_eq!(s.rules, Some(vec![other_service, elsewhere]));
    }

    #[test]
    fn choosing_the_current_choice_changes_nothing() {
        let mut s = ready(vec![fe(123)], vec![]);
        granted(&mut s, "courses-fe", Choice::Tab { pr: 123 });
        let fx = s.update(Event::Choose {
            service: "courses-fe".into(),
            choice: Choice::Tab { pr: 123 },
        });
        assert_eq!(fx, vec![]);
    }

    #[test]
    fn refused_host_permission_sets_nothing_and_says_why() {
        let mut s = ready(vec![fe(123)], vec![]);
        s.update(Event::Choose {
            service: "courses-fe".into(),
            choice: Choice::Domain { pr: 123 },
        });
        let fx = permission(&mut s, "courses-fe", Choice::Domain { pr: 123 }, false);
        assert_eq!(browser_changes(&fx), 0);
        assert!(en(s.messages.last().unwrap()).contains("access to the hosts"));
    }

    #[test]
    fn a_cookie_set_by_hand_is_detected_and_removed_when_switching_to_dev() {
        let hand = vec![CookieSeen {
            name: "team-courses-fe-pr".into(),
            value: "123".into(),
        }];
        let mut s = ready(vec![fe(123)], hand);
        assert_eq!(
            s.active("courses-fe"),
            Active::Domain {
                pr: 123,
                by_hand: true
            }
        );
        let fx = granted(&mut s, "courses-fe", Choice::Dev);
        assert_eq!(
            fx.iter()
                .filter(
                    |e| matches!(e, Effect::RemoveCookie { url, .. } if url == "https://app.test/")
                )
                .count(),
            1
        );
        assert_eq!(s.active("courses-fe"), Active::Dev);
    }

    #[test]
    fn a_hand_set_cookie_for_no_listed_pr_shows_as_unknown_and_survives_cleanup() {
        let hand = vec![CookieSeen {
            name: "team-courses-fe-pr".into(),
            value: "999".into(),
        }];
        let s = ready(vec![fe(123)], hand);
        assert_eq!(
            s.active("courses-fe"),
            Active::Unknown {
                name: "team-courses-fe-pr".into(),
                value: "999".into()
            }
        );
    }

    /// Answers are not matched to requests: records read before the popup recorded a
    /// choice may arrive after a deletion. The deletion then waits for records that carry
    /// the routing, instead of being spent on ones that do not (Firefox, under load, kept
    /// the deleted preview's cookie routing to nothing).
    #[test]
    fn a_deletion_waits_for_records_that_carry_its_routing() {
        let mut s = ready(vec![fe(123), fe(130)], vec![]);
        granted(&mut s, "courses-fe", Choice::Domain { pr: 130 });
        let (applied, rules) = (s.applied.clone().unwrap(), s.rules.clone().unwrap());
        let removed = |fx: &[Effect]| {
            fx.iter()
                .filter(|e| matches!(e, Effect::RemoveCookie { name, .. } if name == "team-courses-fe-pr"))
                .count()
        };
        s.update(Event::PreviewsChanged {
            previews: vec![fe(123)],
            deleted: vec![fe(130)],
        });
        s.update(Event::RulesRead {
            rules: rules.clone(),
        });
        // Records from before the choice: nothing of ours to remove yet, and nothing lost.
        let fx = s.update(Event::AppliedLoaded { applied: vec![] });
        assert_eq!(removed(&fx), 0, "{fx:?}");
        let fx = s.update(Event::AppliedLoaded {
            applied: applied.clone(),
        });
        assert_eq!(removed(&fx), 2, "both hosts of the cookie: {fx:?}");
        // Settled: the same records again remove nothing twice.
        let fx = s.update(Event::AppliedLoaded { applied });
        assert_eq!(removed(&fx), 0, "{fx:?}");
        // A whole, fresh list settles what still waits; a preview listed again is no
        // longer deleted.
        s.update(Event::PreviewsChanged {
            previews: vec![fe(123)],
            deleted: vec![fe(124)],
        });
        assert_eq!(s.deleted.len(), 1);
        s.update(Event::RulesRead { rules });
        s.update(Event::AppliedLoaded { applied: vec![] });
        assert_eq!(s.deleted.len(), 1, "waits for records that carry it");
        s.update(Event::PreviewsChanged {
            previews: vec![fe(123), fe(124)],
            deleted: vec![],
        });
        s.update(Event::RulesRead { rules: vec![] });
        s.update(Event::AppliedLoaded { applied: vec![] });
        assert!(s.deleted.is_empty(), "listed again: {:?}", s.deleted);
    }

    #[test]
    fn a_disappeared_preview_loses_its_cookies_and_rules_and_the_user_is_told() {
        let mut s = ready(vec![fe(123), fe(124)], vec![]);
        granted(&mut s, "courses-fe", Choice::Domain { pr: 123 });
        let mut other = preview("api", 9, "team-api-pr", &["app.test"]);
        other.routes[0].value = "9".into();
        s.update(Event::ListArrived {
            previews: vec![fe(123), fe(124), other.clone()],
            age_secs: 0,
            stale: false,
        });
        granted(&mut s, "api", Choice::Tab { pr: 9 });

        let (applied, rules) = (s.applied.clone(), s.rules.clone());
        // A stale list never cleans up: it may predate the preview.
        let fx = s.update(Event::ListArrived {
            previews: vec![fe(124)],
            age_secs: 900,
            stale: true,
        });
        assert_eq!(browser_changes(&fx), 0);

        let fx = s.update(Event::PreviewsChanged {
            previews: vec![fe(124)],
            deleted: vec![fe(123)],
        });
        assert_eq!(browser_changes(&fx), 0, "waits for fresh records: {fx:?}");
        let fx = s.update(Event::PreviewsChanged {
            previews: vec![fe(124)],
            deleted: vec![other.clone()],
        });
        assert_eq!(fx[..2], [Effect::LoadApplied, Effect::ReadRules]);
        s.update(Event::RulesRead {
            rules: rules.unwrap_or_default(),
        });
        let fx = s.update(Event::AppliedLoaded {
            applied: applied.unwrap_or_default(),
        });
        assert_eq!(
            fx.iter()
                .filter(|e| matches!(e, Effect::RemoveCookie { .. }))
                .count(),
            2
        );
        assert!(fx.contains(&Effect::RemoveSessionRules {
            ids: vec![routing::rule_id(7, "api")]
        }));
        assert_eq!(
            fx.iter()
                .filter(|e| matches!(e, Effect::Notify { .. }))
                .count(),
            2
        );
        assert!(fx.iter().any(
            |e| matches!(e, Effect::SaveApplied { drop, add } if drop.len() == 1 && add.is_empty())
        ));
        assert_eq!(s.active("courses-fe"), Active::Dev);
        assert_eq!(
            badge(&fx),
            Some((7, String::new(), "Preview Switch: dev".into(), Tone::Plain))
        );
    }

    /// A restarted companion's first event is a diff from its disk cache: a preview the
    /// worker's list lacks is not gone unless it was deleted, and chunks of an initial set
    /// clean nothing up.
    #[test]
    fn only_deleted_previews_lose_their_routing_on_live_updates() {
        let mut s = ready(vec![fe(123), fe(45)], vec![]);
        granted(&mut s, "courses-fe", Choice::Domain { pr: 123 });
        let applied = s.applied.clone().unwrap();
        let mut api = preview("checkout-api", 45, "team-api-pr", &["api.test"]);
        api.app = "checkout-api-pr-45".into();
        for event in [
            // An unrelated deletion while the worker's list lacks PR 123.
            Event::PreviewsChanged {
                previews: vec![],
                deleted: vec![api],
            },
            // The first chunk of an initial set.
            Event::PreviewsChanged {
                previews: vec![fe(45)],
                deleted: vec![],
            },
        ] {
            s.update(event);
            s.update(Event::RulesRead { rules: vec![] });
            let fx = s.update(Event::AppliedLoaded {
                applied: applied.clone(),
            });
            assert_eq!(browser_changes(&fx), 0, "{fx:?}");
            assert!(!fx.iter().any(|e| matches!(e, Effect::Notify { .. })));
        }
        // PR 123 itself deleted: now it goes.
        s.update(Event::PreviewsChanged {
            previews: vec![fe(45)],
            deleted: vec![fe(123)],
        });
        s.update(Event::RulesRead { rules: vec![] });
        let fx = s.update(Event::AppliedLoaded { applied });
        assert!(fx.iter().any(
            |e| matches!(e, Effect::Notify { title, .. } if en(title) == "courses-fe PR 123 is gone")
        ));
        assert!(fx.iter().any(
            |e| matches!(e, Effect::SaveApplied { drop, add } if drop.len() == 1 && add.is_empty())
        ));
    }

    #[test]
    fn the_worker_badges_a_tab_once_it_knows_its_cookies_and_the_list() {
        let mut s = State::new(Config::default());
        let fx = s.update(Event::TabUpdated {
            tab_id: 9,
            url: "https://app.test/page".into(),
        });
        assert_eq!(
            fx,
            vec![
                Effect::LoadApplied,
                Effect::ReadRules,
                Effect::ReadCookies {
                    url: "https://app.test/page".into(),
                    host: "app.test".into()
                },
                Effect::RequestList
            ]
        );
        s.update(Event::AppliedLoaded { applied: vec![] });
        s.update(Event::RulesRead { rules: vec![] });
        s.update(Event::CookiesRead {
            host: "app.test".into(),
            cookies: vec![CookieSeen {
                name: "team-courses-fe-pr".into(),
                value: "42".into(),
            }],
        });
        let fx = s.update(Event::ListArrived {
            previews: vec![fe(42)],
            age_secs: 0,
            stale: false,
        });
        assert_eq!(
            badge(&fx),
            Some((
                9,
                "42".into(),
                "Preview Switch: courses-fe: PR 42 for this domain (cookie set by hand)".into(),
                Tone::Routed
            ))
        );
        // Another page on the same host: Chromium cleared the badge, so it is set again.
        s.update(Event::TabUpdated {
            tab_id: 9,
            url: "https://app.test/other".into(),
        });
        let mut fx = s.update(Event::CookiesRead {
            host: "app.test".into(),
            cookies: vec![CookieSeen {
                name: "team-courses-fe-pr".into(),
                value: "42".into(),
            }],
        });
        fx.extend(s.update(Event::AppliedLoaded { applied: vec![] }));
        fx.extend(s.update(Event::RulesRead { rules: vec![] }));
        assert_eq!(
            fx.iter()
                .filter(|e| matches!(e, Effect::SetBadge { text, .. } if text == "42"))
                .count(),
            1,
            "{fx:?}"
        );
        // Nothing new on that page: no second call.
        let fx = s.update(Event::RulesRead { rules: vec![] });
        assert!(!fx.iter().any(|e| matches!(e, Effect::SetBadge { .. })));
    }

    /// The worker keeps only headers that may be a marker, never a credential, and the
    /// badge turns to the warning tone when the routing went out but the marker did not
    /// come back; without a marker nothing is claimed.
    #[test]
    fn the_marker_colours_the_badge_and_credentials_are_never_kept() {
        let mut marked = fe(123);
        marked.marker = Some(protocol::Marker {
            header: "x-preview-pr".into(),
            value: "123".into(),
        });
        let mut s = ready(vec![marked, fe(130)], vec![]);
        granted(&mut s, "courses-fe", Choice::Domain { pr: 123 });
        let fx = s.update(Event::ResponseSeen {
            tab_id: 7,
            url: "https://app.test/courses".into(),
            headers: vec![
                ("set-cookie".into(), "session=secret".into()),
                ("authorization".into(), "Bearer t0ken".into()),
                ("server".into(), "nginx".into()),
            ],
        });
        let Some(Effect::RememberSeen {
            seen: Some(seen), ..
        }) = fx.first()
        else {
            panic!("{fx:?}")
        };
        assert_eq!(seen.headers, [("server".to_string(), "nginx".to_string())]);
        assert!(!format!("{fx:?}").contains("secret") && !format!("{fx:?}").contains("t0ken"));
        // The page loads: the worker badges it, in the warning tone, and says why.
        let applied = s.applied.clone().unwrap();
        let fx = s.update(Event::TabUpdated {
            tab_id: 7,
            url: "https://app.test/courses".into(),
        });
        let mut all = fx;
        all.extend(s.update(Event::AppliedLoaded { applied }));
        all.extend(s.update(Event::RulesRead { rules: vec![] }));
        all.extend(s.update(Event::CookiesRead {
            host: "app.test".into(),
            cookies: vec![CookieSeen {
                name: "team-courses-fe-pr".into(),
                value: "123".into(),
            }],
        }));
        let (_, text, title, tone) = badge(&all).expect("a badge");
        assert_eq!((text.as_str(), tone), ("123", Tone::Warning));
        assert!(
            title.ends_with("the page was served by dev: no x-preview-pr: 123 in its response"),
            "{title}"
        );
        // The marker came back: the answered tone, drawn with the response itself.
        let fx = s.update(Event::ResponseSeen {
            tab_id: 7,
            url: "https://app.test/courses".into(),
            headers: vec![("X-Preview-PR".into(), "123".into())],
        });
        assert_eq!(badge(&fx).map(|b| b.3), Some(Tone::Answered));
        // Firefox may tell the page loaded before its response headers: the headers that
        // come after the badge was drawn redraw it (dev answered now: the warning again).
        let fx = s.update(Event::ResponseSeen {
            tab_id: 7,
            url: "https://app.test/courses".into(),
            headers: vec![],
        });
        assert_eq!(badge(&fx).map(|b| b.3), Some(Tone::Warning), "{fx:?}");
        // The same answer again changes nothing: no second call.
        let fx = s.update(Event::ResponseSeen {
            tab_id: 7,
            url: "https://app.test/courses".into(),
            headers: vec![],
        });
        assert_eq!(badge(&fx), None, "{fx:?}");
        // Another tab's response leaves this tab's badge alone.
        let fx = s.update(Event::ResponseSeen {
            tab_id: 8,
            url: "https://app.test/courses".into(),
            headers: vec![("x-preview-pr".into(), "123".into())],
        });
        assert_eq!(badge(&fx), None, "{fx:?}");
        // PR 130 has no marker: routed, nothing claimed either way.
        granted(&mut s, "courses-fe", Choice::Domain { pr: 130 });
        assert_eq!(s.proof("courses-fe"), Proof::Unknown);
    }

    /// The keyboard command: every service routing the tab goes back to dev once its
    /// routing is read, then the tab reloads; a tab on dev is left alone.
    #[test]
    fn back_to_dev_from_the_keyboard_clears_the_tab_and_reloads_it() {
        let mut s = ready(vec![fe(123)], vec![]);
        granted(&mut s, "courses-fe", Choice::Tab { pr: 123 });
        let rules = s.rules.clone().unwrap();
        let fx = s.update(Event::BackToDev {
            tab_id: 7,
            url: "https://app.test/courses".into(),
        });
        assert_eq!(
            browser_changes(&fx),
            0,
            "nothing before the routing is read"
        );
        s.update(Event::AppliedLoaded { applied: vec![] });
        s.update(Event::CookiesRead {
            host: "app.test".into(),
            cookies: vec![],
        });
        let fx = s.update(Event::RulesRead { rules });
        assert!(
            fx.contains(&Effect::RemoveSessionRules {
                ids: vec![routing::rule_id(7, "courses-fe")]
            }),
            "{fx:?}"
        );
        assert_eq!(fx.last(), Some(&Effect::ReloadTab { tab_id: 7 }));
        assert_eq!(s.active("courses-fe"), Active::Dev);

        let mut idle = ready(vec![fe(123)], vec![]);
        idle.update(Event::BackToDev {
            tab_id: 7,
            url: "https://app.test/courses".into(),
        });
        records_read(&mut idle, "app.test");
        let fx = idle.update(Event::RulesRead { rules: vec![] });
        assert!(!fx.contains(&Effect::ReloadTab { tab_id: 7 }), "{fx:?}");
    }

    #[test]
    fn closing_a_tab_removes_its_rules() {
        let mut s = ready(vec![fe(123)], vec![]);
        granted(&mut s, "courses-fe", Choice::Tab { pr: 123 });
        assert_eq!(
            s.update(Event::TabClosed { tab_id: 7 }),
            vec![
                Effect::ReadRules,
                Effect::RememberSeen {
                    tab_id: 7,
                    seen: None
                },
                Effect::ForgetDismissed { tab_id: 7 }
            ]
        );
        let rule = routing::tab_rule(7, "courses-fe", None, "n", "1", &["app.test".into()]);
        let fx = s.update(Event::RulesRead { rules: vec![rule] });
        assert_eq!(
            fx[0],
            Effect::RemoveSessionRules {
                ids: vec![routing::rule_id(7, "courses-fe")]
            }
        );
        assert_eq!(s.rules, Some(vec![]));
    }

    /// The popup added the rule after this worker last read the rules: the worker's copy is
    /// stale, and closing the tab must still remove it.
    #[test]
    fn closing_a_tab_removes_a_rule_the_worker_never_saw() {
        let mut worker = State::new(Config::default());
        worker.update(Event::TabUpdated {
            tab_id: 4,
            url: "https://app.test/".into(),
        });
        worker.update(Event::RulesRead { rules: vec![] });
        let rule = routing::tab_rule(4, "svc", None, "n", "1", &["app.test".into()]);
        let other = routing::tab_rule(5, "svc", None, "n", "1", &["app.test".into()]);
        assert_eq!(
            worker.update(Event::TabClosed { tab_id: 4 }),
            vec![
                Effect::ReadRules,
                Effect::RememberSeen {
                    tab_id: 4,
                    seen: None
                },
                Effect::ForgetDismissed { tab_id: 4 }
            ]
        );
        let fx = worker.update(Event::RulesRead {
            rules: vec![rule, other.clone()],
        });
        assert_eq!(
            fx[0],
            Effect::RemoveSessionRules {
                ids: vec![routing::rule_id(4, "svc")]
            }
        );
        assert_eq!(worker.rules, Some(vec![other]));
    }

    #[test]
    fn open_with_preview_routes_the_domain_then_opens_the_service() {
        let mut s = State::new(Config::default());
        s.update(Event::PopupOpened {
            tab_id: 2,
            url: "https://github.com/acme/courses-fe/pull/123".into(),
            now_secs: 0,
        });
        records_read(&mut s, "github.com");
        s.update(Event::ListArrived {
            previews: vec![fe(123)],
            age_secs: 0,
            stale: false,
        });
        let fx = s.update(Event::OpenWithPreview {
            service: "courses-fe".into(),
            pr: 123,
            host: "app.test".into(),
        });
        let Some(Effect::RequestHostPermission { then, choice, .. }) = fx.first().cloned() else {
            panic!("{fx:?}")
        };
        assert_eq!(choice, Choice::Domain { pr: 123 });
        let fx = s.update(Event::HostPermission {
            service: "courses-fe".into(),
            choice,
            then,
            granted: true,
        });
        // Nothing is set before the cookies of both route hosts are read.
        assert_eq!(
            fx,
            vec![
                Effect::RememberAwaiting(None),
                Effect::ReadCookies {
                    url: "https://app.test/".into(),
                    host: "app.test".into()
                },
                Effect::ReadCookies {
                    url: "https://www.app.test/".into(),
                    host: "www.app.test".into()
                }
            ]
        );
        let fx = no_cookies_on_other_hosts(&mut s, fx);
        assert_eq!(sets(&fx).len(), 2);
        assert!(fx.contains(&Effect::OpenTab {
            url: "https://app.test/".into()
        }));
    }

    /// Finding 1 on the route's other hosts: the tab is on app.test, and www.app.test has
    /// the site's own cookie of the route's name; nothing is set on either host.
    #[test]
    fn a_site_cookie_on_another_host_of_the_route_blocks_it_too() {
        let mut s = ready(vec![fe(123)], vec![]);
        s.update(Event::Choose {
            service: "courses-fe".into(),
            choice: Choice::Domain { pr: 123 },
        });
        let fx = permission(&mut s, "courses-fe", Choice::Domain { pr: 123 }, true);
        assert_eq!(
            fx,
            vec![
                Effect::RememberAwaiting(None),
                Effect::ReadCookies {
                    url: "https://www.app.test/".into(),
                    host: "www.app.test".into()
                }
            ]
        );
        let fx = s.update(Event::CookiesRead {
            host: "www.app.test".into(),
            cookies: vec![CookieSeen {
                name: "team-courses-fe-pr".into(),
                value: "their-session".into(),
            }],
        });
        assert_eq!(browser_changes(&fx), 0, "{fx:?}");
        assert_eq!(
            en(s.messages.last().unwrap()),
            "not switched: the site has its own cookie named team-courses-fe-pr; this route would overwrite it on www.app.test: give the route a cookie name of its own"
        );
        assert_eq!(s.applied, Some(vec![]));
    }

    #[test]
    fn header_routes_work_per_tab_and_are_refused_for_the_domain() {
        let mut p = fe(5);
        p.routes[0].kind = RouteKind::Header;
        p.routes[0].name = "x-preview".into();
        let mut s = ready(vec![p], vec![]);
        let fx = s.update(Event::Choose {
            service: "courses-fe".into(),
            choice: Choice::Domain { pr: 5 },
        });
        assert_eq!(browser_changes(&fx), 0);
        let fx = granted(&mut s, "courses-fe", Choice::Tab { pr: 5 });
        let Some(rule) = fx.iter().find_map(|e| match e {
            Effect::AddSessionRule { rule } => Some(rule),
            _ => None,
        }) else {
            panic!("{fx:?}")
        };
        assert_eq!(rule.action.request_headers[0].header, "x-preview");
        assert_eq!(rule.action.request_headers[0].operation, "set");
    }

    #[test]
    fn a_disappeared_header_routed_preview_loses_its_tab_rule() {
        let mut p = fe(5);
        p.routes[0].kind = RouteKind::Header;
        p.routes[0].name = "X-Preview".into();
        let mut s = ready(vec![p.clone(), fe(6)], vec![]);
        granted(&mut s, "courses-fe", Choice::Tab { pr: 5 });
        let rules = s.rules.clone().unwrap();
        // Still listed: the rule stays.
        let fx = s.update(Event::ListArrived {
            previews: vec![p, fe(6)],
            age_secs: 0,
            stale: false,
        });
        assert!(
            !fx.iter()
                .any(|e| matches!(e, Effect::RemoveSessionRules { .. }))
        );
        s.rules = Some(rules);
        let fx = s.update(Event::ListArrived {
            previews: vec![fe(6)],
            age_secs: 0,
            stale: false,
        });
        assert!(
            fx.contains(&Effect::RemoveSessionRules {
                ids: vec![routing::rule_id(7, "courses-fe")]
            }),
            "{fx:?}"
        );
    }

    /// Each hostile route must leave the browser untouched, in both modes, and tell the user.
    #[test]
    fn hostile_routes_set_nothing() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("a;b", "1", &["app.test"]),
            ("a=b", "1", &["app.test"]),
            ("a b", "1", &["app.test"]),
            ("a\r\nSet-Cookie: x", "1", &["app.test"]),
            ("a\0", "1", &["app.test"]),
            ("caf\u{e9}", "1", &["app.test"]),
            ("", "1", &["app.test"]),
            ("ok", "1; Domain=evil.test", &["app.test"]),
            ("ok", "1 2", &["app.test"]),
            ("ok", "1\r\n", &["app.test"]),
            ("ok", "\u{fc}", &["app.test"]),
            ("ok", "1\"", &["app.test"]),
            ("ok", "1", &["app.test", "*.evil.test"]),
            ("ok", "1", &["app.test", "https://evil.test"]),
            ("ok", "1", &["app.test", "evil.test:443"]),
            ("ok", "1", &["app.test", "evil.test/path"]),
            ("ok", "1", &["app.test", "evil test"]),
            ("ok", "1", &["app.test", ""]),
            ("ok", "1", &[]),
            ("ok", "1", &["app.test", "app.test."]),
        ];
        for (name, value, hosts) in cases {
            for choice in [Choice::Domain { pr: 1 }, Choice::Tab { pr: 1 }] {
                let mut p = preview("svc", 1, name, &["app.test"]);
                p.routes[0].value = value.to_string();
                p.routes[0].hosts = hosts.iter().map(|h| h.to_string()).collect();
                let mut s = ready(vec![p], vec![]);
                let before = s.messages.len();
                let fx = granted(&mut s, "svc", choice);
                assert_eq!(
                    browser_changes(&fx),
                    0,
                    "{name:?}={value:?} on {hosts:?}: {fx:?}"
                );
                assert!(s.messages.len() > before, "{name:?}: no message");
                assert!(s.applied.as_ref().unwrap().is_empty());
            }
        }
    }

    /// The popup adds a record while the worker, from an older copy, removes another: both
    /// changes survive, whichever is written last.
    #[test]
    fn records_are_changed_by_key_so_popup_and_worker_keep_each_others_writes() {
        let mut popup = ready(vec![fe(123)], vec![]);
        let fx = granted(&mut popup, "courses-fe", Choice::Domain { pr: 123 });
        let Some(Effect::SaveApplied { drop, add }) = fx
            .iter()
            .find(|e| matches!(e, Effect::SaveApplied { .. }))
            .cloned()
        else {
            panic!("{fx:?}")
        };
        assert!(drop.is_empty());
        let gone = Applied {
            service: "api".into(),
            pr: 9,
            name: "team-api-pr".into(),
            value: "9".into(),
            hosts: vec!["api.test".into()],
            https: true,
        };
        let stored = vec![gone.clone()];
        // The worker's cleanup lands first, then the popup's write: nothing is lost.
        let after_worker = merge_applied(stored.clone(), std::slice::from_ref(&gone), &[]);
        let both = merge_applied(after_worker, &drop, &add);
        assert_eq!(both, add);
        // The other order gives the same records.
        let after_popup = merge_applied(stored, &drop, &add);
        assert_eq!(merge_applied(after_popup, &[gone], &[]), add);
        // Switching PR replaces the service's record instead of adding a second one.
        let fx = granted(&mut popup, "courses-fe", Choice::Tab { pr: 123 });
        let Some(Effect::SaveApplied { drop, add: none }) = fx
            .iter()
            .find(|e| matches!(e, Effect::SaveApplied { .. }))
            .cloned()
        else {
            panic!("{fx:?}")
        };
        assert_eq!(merge_applied(add, &drop, &none), vec![]);
    }

    #[test]
    fn urls_are_split_into_scheme_and_host() {
        let cases = [
            ("https://App.Test/x", Some((true, "app.test"))),
            ("http://app.test:8080", Some((false, "app.test"))),
            ("https://user:pw@app.test/", Some((true, "app.test"))),
            ("http://[::1]:80/", Some((false, "[::1]"))),
            ("chrome://extensions", None),
            ("file:///etc/passwd", None),
            ("https:///x", None),
        ];
        for (url, want) in cases {
            assert_eq!(
                parse_web_url(url),
                want.map(|(s, h)| (s, h.to_string())),
                "{url}"
            );
        }
    }

    #[test]
    fn answers_for_a_tab_we_left_are_ignored() {
        let mut s = ready(vec![fe(1)], vec![]);
        let fx = s.update(Event::CookiesRead {
            host: "other.test".into(),
            cookies: vec![CookieSeen {
                name: "team-courses-fe-pr".into(),
                value: "1".into(),
            }],
        });
        assert_eq!(fx, vec![]);
        assert_eq!(s.active("courses-fe"), Active::Dev);
    }
}
