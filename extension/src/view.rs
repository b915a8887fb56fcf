//! What the popup shows, as plain data: [`view`] turns a [`State`] into a [`View`] (groups per
//! service, rows, the per-service control, and the message for every non-happy case) so the
//! DOM glue only copies strings into elements. Links are passed through only when http(s).

use protocol::{Preview, RouteKind};

use crate::failure::{Failure, LocalError};
use crate::state::{Active, Choice, Companion, State};

/// The command that installs the companion for this extension in `browser` (DESIGN §6:
/// "the exact install command"). Firefox runs only the shipped add-on id, which the
/// companion knows, so it takes no `--extension-id`.
pub fn install_command(browser: &str) -> String {
    if browser == "firefox" {
        return "preview-switch install --browser firefox".to_owned();
    }
    format!(
        "preview-switch install --browser {browser} --extension-id {}",
        crate::EXTENSION_ID
    )
}

/// The operating system, as far as the companion's artifacts differ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Os {
    #[default]
    Linux,
    Windows,
    Mac,
}

impl Os {
    /// From `navigator.platform` (`Linux x86_64`, `Win32`, `MacIntel`); Linux when unknown.
    pub fn from_platform(platform: &str) -> Os {
        let p = platform.to_ascii_lowercase();
        if p.starts_with("win") {
            Os::Windows
        } else if p.starts_with("mac") {
            Os::Mac
        } else {
            Os::Linux
        }
    }
}

/// How to get the companion on `os` (README "Installing"): the package and tarball register
/// it for every browser themselves; only a binary from elsewhere needs `install`.
pub fn get_companion(os: Os) -> String {
    let v = crate::failure::EXTENSION_VERSION;
    match os {
        Os::Linux => format!(
            "Get it from your team or the release: on Debian or Ubuntu, sudo apt install ./preview-switch_{v}-1_amd64.deb registers it for every browser (nothing more to run); from the tarball, sudo ./install.sh does the same"
        ),
        Os::Windows => format!(
            "Get it from your team or the release: the zip preview-switch-{v}-x86_64-windows.zip, then .\\install.ps1 registers it for Chrome, Edge and Firefox (nothing more to run)"
        ),
        Os::Mac => {
            "Build it from a checkout (make install), which registers it for your browsers".into()
        }
    }
}

/// The `--browser` of `preview-switch install` for the browser's names (Chromium's
/// `navigator.userAgentData` brands, Firefox's `getBrowserInfo` name); the specific brands
/// first (Edge and Brave also name Chromium), `chromium` when unknown.
pub fn browser_from_brands(brands: &[String]) -> &'static str {
    let has = |needle: &str| {
        brands
            .iter()
            .any(|b| b.to_ascii_lowercase().contains(needle))
    };
    if has("firefox") {
        "firefox"
    } else if has("edge") {
        "edge"
    } else if has("brave") {
        "brave"
    } else if has("google chrome") {
        "chrome"
    } else {
        "chromium"
    }
}

/// Shown for tab mode, because it is a real limit users hit (PLATFORM B).
pub const TAB_MODE_NOTE: &str = "\"This tab only\" does not reach requests made by the site's service worker; use \"this domain\" for sites that have one";

/// When to offer the search box.
const FILTER_FROM: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// The host of the active tab, for the header.
    pub host: Option<String>,
    /// Instead of (or above) the list: loading, nothing here, companion missing or failing.
    pub notice: Option<Notice>,
    /// Set when the data is old: says how old.
    pub stale: Option<String>,
    /// On a GitHub pull-request page: that PR's previews first.
    pub pull_request: Option<PullRequestView>,
    pub groups: Vec<Group>,
    pub messages: Vec<String>,
    /// What failed behind the list shown (a server, a refresh): message and fix, shown
    /// above the (possibly stale) rows.
    pub failures: Vec<FailureView>,
    pub show_filter: bool,
    pub tab_mode_note: Option<&'static str>,
    /// Where the list comes from, when it is not the local companion: the team relay, and
    /// what only the local companion can do.
    pub source: Option<String>,
    /// While the browser asks the user for access to a route's hosts: what is waiting and
    /// what to do.
    pub access_request: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureView {
    pub text: String,
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Loading,
    NotAWebPage,
    NoPreviews,
    NoMatches,
    CompanionMissing,
    CompanionError,
}

impl NoticeKind {
    /// The CSS class of the notice.
    pub fn class(self) -> &'static str {
        match self {
            NoticeKind::Loading => "loading",
            NoticeKind::NotAWebPage | NoticeKind::NoPreviews | NoticeKind::NoMatches => "empty",
            NoticeKind::CompanionMissing | NoticeKind::CompanionError => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub text: String,
    pub detail: Option<String>,
    /// A command to copy, shown in a `<code>` block.
    pub command: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub service: String,
    /// How the tab is routed for this service now, in words.
    pub status: String,
    pub rows: Vec<Row>,
    /// The per-service control: a radio group (dev, then per PR: domain, tab). Arrow keys
    /// only select; [`Group::apply`] (or Enter on a radio) applies.
    pub options: Vec<OptionView>,
    pub apply: ApplyView,
}

/// The button that applies the selected option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyView {
    pub id: String,
    pub label: String,
    /// Why it cannot be pressed now, shown as text next to it.
    pub disabled: Option<String>,
}

/// Shown while the cookies, rules and records a choice rests on are being read.
pub const READING: &str = "reading current routing…";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionView {
    /// DOM id, unique in the popup.
    pub id: String,
    pub label: String,
    pub choice: Choice,
    pub checked: bool,
    /// Why the option cannot be picked, when it cannot.
    pub disabled: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub pr: u64,
    pub title: String,
    /// What the pull request is, when the companion knows: its title, branch and author
    /// (`Add search · feature/search · @alice`).
    pub about: Option<String>,
    /// `ok`, `warn`, `bad` or `unknown`.
    pub health_class: &'static str,
    pub health_text: String,
    pub image_tag: Option<String>,
    /// The deployed commit, shortened to 7 characters.
    pub revision: Option<String>,
    pub age: Option<String>,
    pub argocd: Option<String>,
    pub pull_request: Option<String>,
    pub unroutable: Option<String>,
    /// DOM ids of the two links, stable across renders.
    pub argocd_id: String,
    pub pull_request_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestView {
    /// `owner/repo#n`.
    pub title: String,
    pub actions: Vec<OpenAction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAction {
    /// DOM id, stable across renders.
    pub id: String,
    pub service: String,
    pub pr: u64,
    /// The host to open, which names the route to apply.
    pub host: String,
    pub label: String,
    pub disabled: Option<String>,
}

/// A GitHub pull-request page: (host, owner, repo, number), lower-cased.
pub fn github_pr(url: &str, github_hosts: &[String]) -> Option<(String, String, String, u64)> {
    let (_, host) = crate::state::parse_web_url(url)?;
    if !github_hosts.iter().any(|h| h.eq_ignore_ascii_case(&host)) {
        return None;
    }
    let path = url.split("://").nth(1)?.split_once('/')?.1;
    let path = path.split(['?', '#']).next()?;
    let mut parts = path.split('/');
    let owner = parts.next().filter(|s| !s.is_empty())?;
    let repo = parts.next().filter(|s| !s.is_empty())?;
    if parts.next()? != "pull" {
        return None;
    }
    let n = parts.next()?.parse().ok()?;
    Some((
        host,
        owner.to_ascii_lowercase(),
        repo.to_ascii_lowercase(),
        n,
    ))
}

fn safe_link(link: Option<&String>) -> Option<String> {
    link.filter(|l| l.starts_with("https://") || l.starts_with("http://"))
        .cloned()
}

fn health(p: &Preview) -> (&'static str, String) {
    let health = p.health.as_deref().unwrap_or("Unknown");
    let class = match health {
        "Healthy" => "ok",
        "Progressing" | "Suspended" => "warn",
        "Degraded" | "Missing" => "bad",
        _ => "unknown",
    };
    let mut text = health.to_string();
    if let Some(sync) = p.sync.as_deref().filter(|s| *s != "Synced") {
        text.push_str(&format!(", {sync}"));
    }
    if let Some(phase) = p
        .phase
        .as_deref()
        .filter(|s| matches!(*s, "Running" | "Failed" | "Error" | "Terminating"))
    {
        text.push_str(&format!(", sync {phase}"));
    }
    let class = if matches!(p.phase.as_deref(), Some("Failed" | "Error")) {
        "bad"
    } else {
        class
    };
    (class, text)
}

/// Seconds since the Unix epoch for `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`. Every field is
/// taken with `str::get` and must be ASCII digits: the text comes from Argo CD and may hold
/// anything, and a byte range that splits a character must not panic.
pub fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let digits = |t: &str| {
        (!t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()))
            .then(|| t.parse::<i64>().ok())
            .flatten()
    };
    let num = |r: std::ops::Range<usize>| digits(s.get(r)?);
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        rest = frac.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let (sign, hhmm) = match rest.split_at_checked(1)? {
                ("+", t) => (1, t),
                ("-", t) => (-1, t),
                _ => return None,
            };
            let (oh, om) = hhmm.split_once(':')?;
            if oh.len() != 2 || om.len() != 2 {
                return None;
            }
            sign * (digits(oh)? * 3600 + digits(om)? * 60)
        }
    };
    // Howard Hinnant's days_from_civil.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + h * 3600 + mi * 60 + se - offset).ok()
}

/// "just now", "5 min", "3 h", "2 d".
pub fn format_age(secs: u64) -> String {
    match secs {
        0..60 => "just now".into(),
        60..3600 => format!("{} min", secs / 60),
        3600..86_400 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

fn row(p: &Preview, now: u64) -> Row {
    let (health_class, health_text) = health(p);
    Row {
        argocd_id: dom_id(&p.service, &format!("argocd{}", p.pr)),
        pull_request_id: dom_id(&p.service, &format!("pr{}", p.pr)),
        pr: p.pr,
        title: format!("PR {}", p.pr),
        about: about(p),
        health_class,
        health_text,
        image_tag: p.image_tag.clone(),
        revision: p.revision.as_ref().map(|r| r.chars().take(7).collect()),
        age: p
            .created_at
            .as_deref()
            .and_then(parse_rfc3339)
            .filter(|_| now > 0)
            .map(|t| format_age(now.saturating_sub(t))),
        argocd: safe_link(p.links.argocd.as_ref()),
        pull_request: safe_link(p.links.pull_request.as_ref()),
        unroutable: p.unroutable.clone().or_else(|| {
            p.routes
                .is_empty()
                .then(|| "no route to this preview was found".to_string())
        }),
    }
}

/// The pull request's own words, joined; `None` when the companion sent none of them.
fn about(p: &Preview) -> Option<String> {
    let parts: Vec<String> = [
        p.title.as_deref().map(str::to_string),
        p.branch.as_deref().map(str::to_string),
        p.author
            .as_deref()
            .map(|a| format!("@{}", a.trim_start_matches('@'))),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.trim().is_empty())
    .collect();
    (!parts.is_empty()).then(|| parts.join(" · "))
}

fn matches_filter(p: &Preview, filter: &str) -> bool {
    let f = filter.trim().trim_start_matches('#').to_ascii_lowercase();
    let has = |field: Option<&str>| field.is_some_and(|t| t.to_ascii_lowercase().contains(&f));
    f.is_empty()
        || p.service.to_ascii_lowercase().contains(&f)
        || p.pr.to_string().contains(&f)
        || has(p.image_tag.as_deref())
        || has(p.title.as_deref())
        || has(p.branch.as_deref())
        || has(p.author.as_deref())
}

fn dom_id(service: &str, suffix: &str) -> String {
    let clean: String = service
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("opt-{clean}-{suffix}")
}

fn status_text(active: &Active) -> String {
    match active {
        Active::Dev => "Routed to dev".into(),
        Active::Domain { pr, by_hand: false } => format!("Routed to PR {pr} for this domain"),
        Active::Domain { pr, by_hand: true } => {
            format!("Routed to PR {pr} for this domain (cookie set by hand)")
        }
        Active::Tab { pr } => format!("Routed to PR {pr} for this tab only"),
        // Its value is not shown: it may be the site's own session.
        Active::Unknown { name, .. } => format!(
            "A cookie named {name} is set that no listed preview carries (the site's own, or set by hand): switching would overwrite it"
        ),
    }
}

fn group(state: &State, service: &str, previews: &[&Preview], now: u64) -> Group {
    let active = state.active(service);
    let current = state.active_choice(service);
    let selected = state.selection(service);
    let shown = selected.or(current);
    let reading = (!state.records_read()).then(|| READING.to_string());
    let mut options = vec![OptionView {
        id: dom_id(service, "dev"),
        label: "dev".into(),
        choice: Choice::Dev,
        checked: shown == Some(Choice::Dev),
        disabled: reading.clone(),
    }];
    let host = state.tab.as_ref().and_then(|t| t.host.as_deref());
    for p in previews {
        let Some(route) = host.and_then(|h| p.route_for(h)) else {
            continue;
        };
        // A route that would overwrite a cookie of the site's own is offered in neither mode.
        let site_cookie = state
            .policy_refusal(route)
            .or_else(|| state.site_cookie_refusal(route));
        let header_only = (route.kind == RouteKind::Header).then(|| {
            format!(
                "routed by the header {}, which works per tab only",
                route.name
            )
        });
        options.push(OptionView {
            id: dom_id(service, &format!("d{}", p.pr)),
            label: format!("PR {} for this domain", p.pr),
            choice: Choice::Domain { pr: p.pr },
            checked: shown == Some(Choice::Domain { pr: p.pr }),
            disabled: reading.clone().or(site_cookie.clone()).or(header_only),
        });
        options.push(OptionView {
            id: dom_id(service, &format!("t{}", p.pr)),
            label: format!("PR {} for this tab only", p.pr),
            choice: Choice::Tab { pr: p.pr },
            checked: shown == Some(Choice::Tab { pr: p.pr }),
            disabled: reading.clone().or(site_cookie),
        });
    }
    let apply = ApplyView {
        id: dom_id(service, "apply"),
        label: format!("Apply to {service}"),
        disabled: reading.or_else(|| match selected {
            Some(c) if Some(c) != current => None,
            _ => Some("pick another option first".into()),
        }),
    };
    Group {
        service: service.to_string(),
        status: if state.records_read() {
            status_text(&active)
        } else {
            format!("Reading current routing of {service}…")
        },
        rows: previews.iter().map(|p| row(p, now)).collect(),
        options,
        apply,
    }
}

/// The notice that replaces the list when the companion gave none: the install command
/// when it is not installed, `doctor` when it stopped, the upgrade command when it speaks an
/// older protocol, else the failure's message and fix as said (a companion error also names
/// its PROTOCOL.md code); a relay's failure names the relay.
fn failure_notice(failure: &Failure, browser: &str, os: Os, relay: Option<&str>) -> Notice {
    if let Some(relay) = relay {
        // The relay's own words (its code, message and fix), or why it could not be read.
        return Notice {
            kind: NoticeKind::CompanionError,
            text: match failure.code() {
                Some(code) => format!(
                    "The team relay failed ({}): {}",
                    code.as_str(),
                    failure.message()
                ),
                None => capitalized(&failure.message()),
            },
            detail: failure.fix(),
            command: None,
        }
        .with_relay(relay);
    }
    match failure {
        Failure::Local(LocalError::NotInstalled { browser_said }) => Notice {
            kind: NoticeKind::CompanionMissing,
            text: "The preview-switch companion is not installed for this browser".into(),
            detail: Some(format!(
                "The browser said: {browser_said}. {}. With preview-switch already on your PATH (cargo install, a checkout), register it, then reopen this popup:",
                get_companion(os)
            )),
            command: Some(install_command(browser)),
        },
        Failure::Local(LocalError::Stopped { browser_said }) => Notice {
            kind: NoticeKind::CompanionError,
            text: format!("The companion stopped: {browser_said}"),
            detail: Some("Find out why with:".into()),
            command: Some("preview-switch doctor".into()),
        },
        Failure::Companion(body) => Notice {
            kind: NoticeKind::CompanionError,
            text: format!(
                "The companion failed ({}): {}",
                body.code.as_str(),
                body.message
            ),
            detail: failure.fix(),
            command: None,
        },
        Failure::Local(local) => Notice {
            kind: NoticeKind::CompanionError,
            text: capitalized(&local.message()),
            detail: failure.fix(),
            command: local.upgrade_command(),
        },
    }
}

impl Notice {
    /// A notice about the relay names it, so the user can open it to sign in.
    fn with_relay(mut self, relay: &str) -> Notice {
        if self.command.is_none() && matches!(self.kind, NoticeKind::CompanionError) {
            self.command = Some(relay.to_owned());
        }
        self
    }
}

/// `text` with its first character upper-cased (a message starts a sentence in a notice).
fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What the popup says while the browser asks for access: the request is made from the
/// click, and nothing is routed until it is allowed.
fn access_request(a: &crate::state::AwaitingAccess) -> String {
    let target = match a.choice {
        Choice::Dev => "dev".to_owned(),
        Choice::Domain { pr } => format!("PR {pr} for this domain"),
        Choice::Tab { pr } => format!("PR {pr} for this tab"),
    };
    format!(
        "Allow Preview Switch to access {} when the browser asks: it routes {} to {target} only on sites you allow",
        a.hosts.join(", "),
        a.service
    )
}

/// The popup's content for `state`.
pub fn view(state: &State) -> View {
    let host = state.tab.as_ref().and_then(|t| t.host.clone());
    let mut v = View {
        host: host.clone(),
        notice: None,
        stale: None,
        pull_request: None,
        groups: Vec::new(),
        messages: state.messages.iter().rev().take(3).rev().cloned().collect(),
        failures: Vec::new(),
        show_filter: false,
        tab_mode_note: None,
        source: state.config.relay.as_ref().map(|relay| {
            format!(
                "From the team relay {relay}. Sync and refresh need the local companion (preview-switch)."
            )
        }),
        access_request: state.awaiting_access.as_ref().map(access_request),
    };
    let from = if state.config.relay.is_some() {
        "the team relay"
    } else {
        "the companion"
    };
    let (previews, age_secs, stale) = match &state.companion {
        Companion::Loading => {
            v.notice = Some(Notice {
                kind: NoticeKind::Loading,
                text: format!("Asking {from} for previews…"),
                detail: None,
                command: None,
            });
            return v;
        }
        Companion::Failed(failure) => {
            v.notice = Some(failure_notice(
                failure,
                state.browser,
                state.os,
                state.config.relay.as_deref(),
            ));
            return v;
        }
        Companion::Ready {
            previews,
            age_secs,
            stale,
        } => (previews, *age_secs, *stale),
    };
    if stale {
        let age = if age_secs < 60 {
            format!("{age_secs} s")
        } else {
            format_age(age_secs)
        };
        let shown = format!("Showing the list updated {age} ago");
        v.stale = Some(if state.refreshing {
            format!("{shown}; refreshing…")
        } else {
            format!("{shown}: {from} could not refresh it")
        });
    }
    if let Some(failure) = &state.refresh_error {
        v.failures.push(FailureView {
            text: format!("Could not refresh: {}", failure.message()),
            fix: failure.fix(),
        });
    }
    for f in &state.failures {
        v.failures.push(FailureView {
            text: format!("{} could not be listed: {}", f.server, f.error.message),
            fix: Some(f.error.fix.clone()).filter(|f| !f.trim().is_empty()),
        });
    }
    let now = state.now_secs;

    if let Some(tab) = &state.tab
        && let Some(pr_page) = github_pr(&tab.url, &state.config.github_hosts)
    {
        let (_, owner, repo, n) = &pr_page;
        let actions: Vec<OpenAction> = previews
            .iter()
            .filter(|p| {
                // Only a preview of this repository: its PR page names the same owner/repo
                // (a GitHub Enterprise mirror of github.com keeps them). The number alone
                // would offer another repository's PR 123.
                let link = p
                    .links
                    .pull_request
                    .as_deref()
                    .and_then(|l| github_pr(l, &state.config.github_hosts));
                p.pr == *n && link.is_some_and(|(_, o, r, _)| o == *owner && r == *repo)
            })
            .map(|p| OpenAction {
                id: dom_id(&p.service, &format!("open{}", p.pr)),
                service: p.service.clone(),
                pr: p.pr,
                // The page to open names the route to apply: the first route's first host.
                host: p
                    .route()
                    .and_then(|r| r.hosts.first())
                    .cloned()
                    .unwrap_or_default(),
                label: format!("Open {} with PR {}", p.service, p.pr),
                disabled: match p.route() {
                    None => Some(
                        p.unroutable
                            .clone()
                            .unwrap_or_else(|| "no route to this preview was found".into()),
                    ),
                    Some(r) if r.kind == RouteKind::Header => Some(format!(
                        "routed by the header {}, which works per tab only",
                        r.name
                    )),
                    Some(_) => None,
                },
            })
            .collect();
        if !actions.is_empty() {
            v.pull_request = Some(PullRequestView {
                title: format!("{owner}/{repo}#{n}"),
                actions,
            });
        }
    }

    let Some(host) = host else {
        if v.pull_request.is_none() {
            v.notice = Some(Notice {
                kind: NoticeKind::NotAWebPage,
                text: "Open a web page to switch its previews".into(),
                detail: None,
                command: None,
            });
        }
        return v;
    };
    let on_host = crate::hosts::previews_for_host(previews, &host);
    if on_host.is_empty() {
        if v.pull_request.is_none() {
            let mut hosts: Vec<&str> = previews
                .iter()
                .flat_map(|p| p.routes.iter().flat_map(|r| r.hosts.iter()))
                .map(String::as_str)
                .collect();
            hosts.sort_unstable();
            hosts.dedup();
            v.notice = Some(Notice {
                kind: NoticeKind::NoPreviews,
                text: format!("No previews route {host}"),
                detail: Some(if hosts.is_empty() {
                    "The companion lists no routable previews at all".into()
                } else {
                    format!("Previews exist for: {}", hosts.join(", "))
                }),
                command: None,
            });
        }
        return v;
    }
    v.show_filter = on_host.len() >= FILTER_FROM || !state.filter.is_empty();
    for service in state.services_on_host() {
        let mine: Vec<&Preview> = on_host
            .iter()
            .copied()
            .filter(|p| p.service == service && matches_filter(p, &state.filter))
            .collect();
        // A routed service stays visible whatever the filter says: its control is the way back.
        if mine.is_empty() && state.active(service) == Active::Dev {
            continue;
        }
        v.groups.push(group(state, service, &mine, now));
    }
    if v.groups.is_empty() {
        v.notice = Some(Notice {
            kind: NoticeKind::NoMatches,
            text: format!("No previews match \"{}\"", state.filter),
            detail: None,
            command: None,
        });
    } else {
        v.tab_mode_note = Some(TAB_MODE_NOTE);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::tests::{fe, preview, ready};
    use crate::state::{Config, CookieSeen, Event};
    use protocol::messages::{ErrorBody, ErrorCode};

    #[test]
    fn groups_by_service_with_one_control_each() {
        let api = preview("api", 9, "team-api-pr", &["app.test"]);
        let other = preview("admin", 1, "team-admin-pr", &["admin.test"]);
        let s = ready(vec![fe(123), api, fe(124), other], vec![]);
        let v = view(&s);
        assert_eq!(v.notice, None);
        let names: Vec<_> = v.groups.iter().map(|g| g.service.as_str()).collect();
        assert_eq!(names, ["courses-fe", "api"]);
        let fe_group = &v.groups[0];
        assert_eq!(
            fe_group.rows.iter().map(|r| r.pr).collect::<Vec<_>>(),
            [123, 124]
        );
        let labels: Vec<_> = fe_group.options.iter().map(|o| o.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "dev",
                "PR 123 for this domain",
                "PR 123 for this tab only",
                "PR 124 for this domain",
                "PR 124 for this tab only"
            ]
        );
        assert!(fe_group.options[0].checked);
        assert_eq!(fe_group.status, "Routed to dev");
        assert_eq!(v.tab_mode_note, Some(TAB_MODE_NOTE));
        let row = &fe_group.rows[0];
        assert_eq!(
            (row.health_class, row.health_text.as_str()),
            ("ok", "Healthy")
        );
        assert_eq!(row.revision.as_deref(), Some("1a2b3c4"));
        assert_eq!(row.image_tag.as_deref(), Some("dev-1a2b3c4"));
        assert_eq!(row.age.as_deref(), Some("2 d"));
    }

    #[test]
    fn selecting_only_selects_and_apply_routes() {
        let mut s = ready(vec![fe(123)], vec![]);
        let fx = s.update(Event::Select {
            service: "courses-fe".into(),
            choice: Choice::Tab { pr: 123 },
        });
        assert_eq!(
            fx,
            vec![crate::state::Effect::Render],
            "an arrow key routes nothing"
        );
        let g = &view(&s).groups[0];
        assert!(g.options[2].checked, "the selection shows");
        assert_eq!(g.status, "Routed to dev");
        assert_eq!(g.apply.disabled, None);
        assert_eq!(g.apply.id, "opt-courses_fe-apply");
        // Back to the active option: nothing to apply.
        s.update(Event::Select {
            service: "courses-fe".into(),
            choice: Choice::Dev,
        });
        let g = &view(&s).groups[0];
        assert!(g.options[0].checked);
        assert_eq!(
            g.apply.disabled.as_deref(),
            Some("pick another option first")
        );
        s.update(Event::Select {
            service: "courses-fe".into(),
            choice: Choice::Tab { pr: 123 },
        });
        let fx = s.update(Event::ApplySelected {
            service: "courses-fe".into(),
        });
        assert!(
            matches!(
                fx.first(),
                Some(crate::state::Effect::RequestHostPermission {
                    choice: Choice::Tab { pr: 123 },
                    ..
                })
            ),
            "{fx:?}"
        );
        assert_eq!(s.selection("courses-fe"), None);
        // Until the browser's prompt is answered the popup says what waits and why.
        assert_eq!(
            view(&s).access_request.as_deref(),
            Some(
                "Allow Preview Switch to access app.test, www.app.test when the browser asks: it routes courses-fe to PR 123 for this tab only on sites you allow"
            )
        );
        s.update(Event::HostPermission {
            service: "courses-fe".into(),
            choice: Choice::Tab { pr: 123 },
            open: None,
            granted: false,
        });
        assert_eq!(view(&s).access_request, None);
    }

    #[test]
    fn controls_wait_for_the_current_routing_to_be_read() {
        let mut s = State::new(Config::default());
        s.update(Event::PopupOpened {
            tab_id: 7,
            url: "https://app.test/".into(),
            now_secs: 0,
        });
        s.update(Event::ListArrived {
            previews: vec![fe(123)],
            age_secs: 0,
            stale: false,
        });
        let g = &view(&s).groups[0];
        assert!(
            g.options
                .iter()
                .all(|o| o.disabled.as_deref() == Some(READING))
        );
        assert_eq!(g.apply.disabled.as_deref(), Some(READING));
        // A click that slipped through changes nothing.
        let fx = s.update(Event::Choose {
            service: "courses-fe".into(),
            choice: Choice::Domain { pr: 123 },
        });
        assert_eq!(fx, vec![crate::state::Effect::Render]);
        assert!(s.messages.last().unwrap().contains("still being read"));
        s.update(Event::AppliedLoaded { applied: vec![] });
        s.update(Event::RulesRead { rules: vec![] });
        s.update(Event::CookiesRead {
            host: "app.test".into(),
            cookies: vec![],
        });
        let g = &view(&s).groups[0];
        assert_eq!(g.options[1].disabled, None);
    }

    #[test]
    fn health_colours() {
        let cases = [
            (Some("Healthy"), Some("Synced"), None, "ok", "Healthy"),
            (
                Some("Progressing"),
                Some("OutOfSync"),
                Some("Running"),
                "warn",
                "Progressing, OutOfSync, sync Running",
            ),
            (Some("Degraded"), Some("Synced"), None, "bad", "Degraded"),
            (
                Some("Healthy"),
                Some("Synced"),
                Some("Failed"),
                "bad",
                "Healthy, sync Failed",
            ),
            (None, None, None, "unknown", "Unknown"),
        ];
        for (h, s, ph, class, text) in cases {
            let mut p = fe(1);
            p.health = h.map(Into::into);
            p.sync = s.map(Into::into);
            p.phase = ph.map(Into::into);
            assert_eq!(health(&p), (class, text.to_string()));
        }
    }

    #[test]
    fn the_control_shows_the_current_routing_including_hand_set_cookies() {
        let hand = vec![CookieSeen {
            name: "team-courses-fe-pr".into(),
            value: "124".into(),
        }];
        let v = view(&ready(vec![fe(123), fe(124)], hand));
        let g = &v.groups[0];
        let checked: Vec<_> = g
            .options
            .iter()
            .filter(|o| o.checked)
            .map(|o| o.label.as_str())
            .collect();
        assert_eq!(checked, ["PR 124 for this domain"]);
        assert_eq!(
            g.status,
            "Routed to PR 124 for this domain (cookie set by hand)"
        );
    }

    #[test]
    fn messages_for_every_non_happy_case() {
        let mut s = State::new(Config::default());
        s.update(Event::PopupOpened {
            tab_id: 1,
            url: "https://elsewhere.test/".into(),
            now_secs: 0,
        });
        assert_eq!(view(&s).notice.unwrap().kind, NoticeKind::Loading);

        let mut missing = s.clone();
        missing.update(Event::CompanionFailed(
            LocalError::NotInstalled {
                browser_said: "Specified native messaging host not found".into(),
            }
            .into(),
        ));
        let n = view(&missing).notice.unwrap();
        assert_eq!(n.kind, NoticeKind::CompanionMissing);
        let mut edge = missing.clone();
        edge.browser = browser_from_brands(&["Chromium".into(), "Microsoft Edge".into()]);
        assert_eq!(
            view(&edge).notice.unwrap().command.as_deref(),
            Some(
                format!(
                    "preview-switch install --browser edge --extension-id {}",
                    crate::EXTENSION_ID
                )
                .as_str()
            )
        );
        let mut crashed = s.clone();
        crashed.update(Event::CompanionFailed(
            LocalError::Stopped {
                browser_said: "Native host has exited".into(),
            }
            .into(),
        ));
        let c = view(&crashed).notice.unwrap();
        assert_eq!(c.kind, NoticeKind::CompanionError);
        assert_eq!(c.text, "The companion stopped: Native host has exited");
        assert_eq!(c.command.as_deref(), Some("preview-switch doctor"));
        assert_eq!(
            n.detail.as_deref(),
            Some(
                "The browser said: Specified native messaging host not found. Get it from your team or the release: on Debian or Ubuntu, sudo apt install ./preview-switch_0.1.0-1_amd64.deb registers it for every browser (nothing more to run); from the tarball, sudo ./install.sh does the same. With preview-switch already on your PATH (cargo install, a checkout), register it, then reopen this popup:"
            )
        );
        // On Windows the zip's installer is the way; the registration command stays.
        let mut windows = s.clone();
        windows.os = Os::from_platform("Win32");
        windows.update(Event::CompanionFailed(
            LocalError::NotInstalled {
                browser_said: "Specified native messaging host not found".into(),
            }
            .into(),
        ));
        let w = view(&windows).notice.unwrap();
        assert!(
            w.detail.as_deref().unwrap().contains(
                "the zip preview-switch-0.1.0-x86_64-windows.zip, then .\\install.ps1 registers it"
            ),
            "{w:?}"
        );
        assert_eq!(w.command, n.command);
        assert_eq!(Os::from_platform("MacIntel"), Os::Mac);
        assert_eq!(Os::from_platform("Linux x86_64"), Os::Linux);
        assert_eq!(Os::from_platform(""), Os::Linux);
        assert_eq!(
            n.command.as_deref(),
            Some(
                format!(
                    "preview-switch install --browser chromium --extension-id {}",
                    crate::EXTENSION_ID
                )
                .as_str()
            )
        );

        // The companion's error: its code, its message and its fix, each shown once as sent.
        let mut failed = s.clone();
        failed.update(Event::CompanionFailed(Failure::Companion(ErrorBody {
            code: ErrorCode::ArgocdUnauthorized,
            message: "token rejected by https://argocd.dev (401)".into(),
            fix: "run `argocd login argocd.dev`".into(),
        })));
        let n = view(&failed).notice.unwrap();
        assert_eq!(
            n.text,
            "The companion failed (argocd_unauthorized): token rejected by https://argocd.dev (401)"
        );
        assert_eq!(n.detail.as_deref(), Some("run `argocd login argocd.dev`"));

        // A reply the extension cannot read: its own words, no wire code.
        let mut unreadable = s.clone();
        unreadable.update(Event::CompanionFailed(
            LocalError::Unreadable {
                detail: "expected a list, got hello".into(),
            }
            .into(),
        ));
        let n = view(&unreadable).notice.unwrap();
        assert_eq!(n.kind, NoticeKind::CompanionError);
        assert_eq!(
            n.text,
            "The companion sent a message the extension cannot read: expected a list, got hello"
        );
        assert!(n.detail.unwrap().contains("same version"));

        // An older companion: the versions, then the upgrade for how it was installed as
        // the notice's copyable command.
        let mut older = s.clone();
        older.update(Event::CompanionFailed(
            LocalError::Mismatch {
                protocol: 0,
                companion_version: "0.0.9".into(),
                installed: Some(protocol::install::InstallMethod::Source {
                    checkout: "/home/u/preview-switch".into(),
                    make_target: "install".into(),
                }),
            }
            .into(),
        ));
        let n = view(&older).notice.unwrap();
        assert_eq!(n.kind, NoticeKind::CompanionError);
        assert!(
            n.text
                .starts_with("The companion (preview-switch 0.0.9, protocol 0) is older"),
            "{}",
            n.text
        );
        assert_eq!(
            n.command.as_deref(),
            Some("cd /home/u/preview-switch && git pull && make install")
        );
        assert!(
            n.detail
                .unwrap()
                .contains("a source checkout (/home/u/preview-switch)")
        );

        let mut none = s.clone();
        none.update(Event::ListArrived {
            previews: vec![fe(1)],
            age_secs: 0,
            stale: false,
        });
        let n = view(&none).notice.unwrap();
        assert_eq!(n.text, "No previews route elsewhere.test");
        assert_eq!(
            n.detail.as_deref(),
            Some("Previews exist for: app.test, www.app.test")
        );

        let mut stale = State::new(Config::default());
        stale.update(Event::PopupOpened {
            tab_id: 1,
            url: "https://app.test/".into(),
            now_secs: 0,
        });
        stale.update(Event::ListArrived {
            previews: vec![fe(1)],
            age_secs: 600,
            stale: true,
        });
        assert_eq!(
            view(&stale).stale.as_deref(),
            Some("Showing the list updated 10 min ago: the companion could not refresh it")
        );
        stale.update(Event::Refreshing { on: true });
        assert_eq!(
            view(&stale).stale.as_deref(),
            Some("Showing the list updated 10 min ago; refreshing…"),
            "while a refresh runs, no failure is claimed"
        );
        stale.update(Event::ListArrived {
            previews: vec![fe(1)],
            age_secs: 0,
            stale: false,
        });
        assert_eq!(view(&stale).stale, None, "fresh data ends the refresh");

        // A young stale list says its age; a failed refresh says why, beside the rows.
        stale.update(Event::ListArrived {
            previews: vec![fe(1)],
            age_secs: 12,
            stale: true,
        });
        stale.update(Event::RefreshFailed(Failure::Companion(ErrorBody {
            code: ErrorCode::ArgocdUnauthorized,
            message: "Argo CD at https://argocd.test rejected the token".into(),
            fix: "run argocd login".into(),
        })));
        let v = view(&stale);
        assert_eq!(
            v.stale.as_deref(),
            Some("Showing the list updated 12 s ago: the companion could not refresh it")
        );
        assert_eq!(
            v.failures,
            vec![FailureView {
                text: "Could not refresh: Argo CD at https://argocd.test rejected the token".into(),
                fix: Some("run argocd login".into()),
            }]
        );
        assert_eq!(v.groups.len(), 1, "the stale rows stay");

        // A server that failed in the fetch behind the list is named with its fix.
        stale.update(Event::ServersFailed {
            failures: vec![protocol::messages::ServerFailure {
                server: "https://argocd.prod.test".into(),
                error: protocol::messages::ErrorBody {
                    code: protocol::messages::ErrorCode::ArgocdUnreachable,
                    message: "could not connect: connection refused".into(),
                    fix: "check the VPN".into(),
                },
            }],
        });
        let v = view(&stale);
        assert_eq!(
            v.failures[1],
            FailureView {
                text: "https://argocd.prod.test could not be listed: could not connect: connection refused".into(),
                fix: Some("check the VPN".into()),
            }
        );
        stale.update(Event::ServersFailed { failures: vec![] });
        stale.update(Event::ListArrived {
            previews: vec![fe(1)],
            age_secs: 0,
            stale: false,
        });
        assert_eq!(
            view(&stale).failures,
            vec![],
            "a fresh list without failures clears them"
        );
        stale.update(Event::Refreshing { on: true });
        stale.update(Event::Refreshing { on: false });
        assert!(!stale.refreshing);

        let mut chrome = State::new(Config::default());
        chrome.update(Event::PopupOpened {
            tab_id: 1,
            url: "chrome://newtab/".into(),
            now_secs: 0,
        });
        chrome.update(Event::ListArrived {
            previews: vec![],
            age_secs: 0,
            stale: false,
        });
        assert_eq!(view(&chrome).notice.unwrap().kind, NoticeKind::NotAWebPage);
    }

    #[test]
    fn github_pull_request_pages_lead_with_that_prs_previews() {
        let mut s = State::new(Config::default());
        s.update(Event::PopupOpened {
            tab_id: 1,
            url: "https://github.com/Acme/courses-fe/pull/123/files?w=1".into(),
            now_secs: 0,
        });
        // PR 123 of other repositories, or of no known repository: the number alone does
        // not make them this page's previews.
        let mut unknown = preview("web", 123, "team-web-pr", &["web.test"]);
        unknown.links.pull_request = None;
        let mut fork = preview("shop", 123, "team-shop-pr", &["shop.test"]);
        fork.links.pull_request = Some("https://github.com/evil/courses-fe/pull/123".into());
        s.update(Event::ListArrived {
            previews: vec![
                fe(123),
                fe(124),
                preview("api", 123, "team-api-pr", &["api.test"]),
                unknown,
                fork,
            ],
            age_secs: 0,
            stale: false,
        });
        let v = view(&s);
        let pr = v.pull_request.expect("a PR section");
        assert_eq!(pr.title, "acme/courses-fe#123");
        assert_eq!(
            pr.actions
                .iter()
                .map(|a| (a.label.as_str(), a.host.as_str()))
                .collect::<Vec<_>>(),
            [("Open courses-fe with PR 123", "app.test")]
        );
        assert_eq!(v.notice, None, "no 'no previews for github.com' message");
    }

    #[test]
    fn the_browser_comes_from_its_brands() {
        let b = |brands: &[&str]| {
            browser_from_brands(&brands.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(b(&["Not)A;Brand", "Chromium", "Google Chrome"]), "chrome");
        assert_eq!(b(&["Chromium", "Microsoft Edge"]), "edge");
        assert_eq!(b(&["Brave", "Chromium"]), "brave");
        assert_eq!(b(&["Chromium"]), "chromium");
        assert_eq!(b(&["Firefox"]), "firefox");
        assert_eq!(b(&[]), "chromium");
        assert_eq!(
            install_command("firefox"),
            "preview-switch install --browser firefox"
        );
    }

    /// A route named like a cookie of the site's own is offered in neither mode, with the
    /// reason, and the cookie's value is never shown.
    #[test]
    fn a_route_over_a_site_cookie_is_disabled_with_the_reason() {
        let site = CookieSeen {
            name: "team-courses-fe-pr".into(),
            value: "user-session-secret".into(),
        };
        let s = ready(vec![fe(123)], vec![site]);
        let v = view(&s);
        let g = &v.groups[0];
        let why =
            "the site has its own cookie named team-courses-fe-pr; this route would overwrite it";
        for o in g.options.iter().filter(|o| o.choice != Choice::Dev) {
            assert_eq!(o.disabled.as_deref(), Some(why), "{o:?}");
        }
        assert!(!format!("{v:?}").contains("user-session-secret"), "{v:?}");
    }

    /// A route whose name the team's pattern does not allow is offered in neither mode, with
    /// the reason; one the pattern allows stays offered.
    #[test]
    fn a_route_the_teams_pattern_refuses_is_disabled_with_the_reason() {
        let mut s = ready(vec![fe(123)], vec![]);
        s.config.cookie_name_pattern = Some("qa-*".into());
        let v = view(&s);
        let why = "your team allows routing cookies named qa-* only, and this route is named team-courses-fe-pr";
        for o in v.groups[0]
            .options
            .iter()
            .filter(|o| o.choice != Choice::Dev)
        {
            assert_eq!(o.disabled.as_deref(), Some(why), "{o:?}");
        }
        s.config.cookie_name_pattern = Some("team-*-pr".into());
        let v = view(&s);
        assert!(v.groups[0].options.iter().all(|o| o.disabled.is_none()));
    }

    #[test]
    fn github_pr_urls() {
        let gh = vec!["github.com".to_string(), "git.corp.test".to_string()];
        let cases = [
            (
                "https://github.com/o/r/pull/5",
                Some(("github.com", "o", "r", 5)),
            ),
            (
                "https://git.corp.test/o/r/pull/77#x",
                Some(("git.corp.test", "o", "r", 77)),
            ),
            ("https://github.com/o/r/issues/5", None),
            ("https://github.com/o/r/pull/abc", None),
            ("https://github.com/o/r", None),
            ("https://gitlab.com/o/r/pull/5", None),
        ];
        for (url, want) in cases {
            assert_eq!(
                github_pr(url, &gh),
                want.map(|(h, o, r, n)| (h.into(), o.into(), r.into(), n)),
                "{url}"
            );
        }
    }

    #[test]
    fn filter_narrows_rows_but_keeps_routed_services() {
        let mut previews: Vec<Preview> = (100..110).map(fe).collect();
        previews.push(preview("api", 1, "team-api-pr", &["app.test"]));
        let mut s = ready(previews, vec![]);
        assert!(view(&s).show_filter);
        s.update(Event::Filter {
            text: "#105".into(),
        });
        let v = view(&s);
        assert_eq!(v.groups.len(), 1);
        assert_eq!(v.groups[0].rows.len(), 1);
        s.update(Event::Filter {
            text: "nothing".into(),
        });
        assert_eq!(view(&s).notice.unwrap().kind, NoticeKind::NoMatches);
    }

    #[test]
    fn rows_say_what_the_pull_request_is_and_the_filter_finds_it_by_title_or_branch() {
        let mut titled = fe(7);
        titled.title = Some("Add course search".into());
        titled.branch = Some("feature/search".into());
        titled.author = Some("alice".into());
        let mut s = ready(vec![titled, fe(8)], vec![]);
        let v = view(&s);
        let rows = &v.groups[0].rows;
        assert_eq!(
            rows[0].about.as_deref(),
            Some("Add course search · feature/search · @alice")
        );
        assert_eq!(rows[1].about, None);
        for text in ["search", "FEATURE/", "alice"] {
            s.update(Event::Filter { text: text.into() });
            let v = view(&s);
            let prs: Vec<u64> = v.groups[0].rows.iter().map(|r| r.pr).collect();
            assert_eq!(prs, [7], "filter {text:?}");
        }
    }

    /// Regression: a non-ASCII creation time panicked `parse_rfc3339`, and with it the
    /// popup's render. Rows with such text still show, and the filter still finds them.
    #[test]
    fn rows_with_non_ascii_text_render() {
        let mut odd = fe(7);
        odd.created_at = Some("2026-11-20T15:00:00+0\u{e9}00".into());
        odd.title = Some("Caf\u{e9} \u{2713} \u{1f600}".into());
        odd.branch = Some("feature/stra\u{df}e".into());
        odd.author = Some("\u{fc}ser".into());
        odd.revision = Some("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}".into());
        let mut s = ready(vec![odd], vec![]);
        let v = view(&s);
        let row = &v.groups[0].rows[0];
        assert_eq!(row.age, None, "an unreadable time shows no age");
        assert_eq!(
            row.about.as_deref(),
            Some("Caf\u{e9} \u{2713} \u{1f600} \u{b7} feature/stra\u{df}e \u{b7} @\u{fc}ser")
        );
        assert_eq!(
            row.revision.as_deref(),
            Some("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}")
        );
        s.update(Event::Filter {
            text: "stra\u{df}e".into(),
        });
        assert_eq!(view(&s).groups[0].rows.len(), 1);
    }

    #[test]
    fn only_web_links_are_shown() {
        let mut p = fe(1);
        p.links.argocd = Some("javascript:alert(1)".into());
        let v = view(&ready(vec![p], vec![]));
        assert_eq!(v.groups[0].rows[0].argocd, None);
        assert!(v.groups[0].rows[0].pull_request.is_some());
    }

    #[test]
    fn rfc3339_and_ages() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2026-11-20T15:00:00Z"), Some(1_795_186_800));
        assert_eq!(
            parse_rfc3339("2026-11-20T16:00:00.123+01:00"),
            Some(1_795_186_800)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        // Regression: the offset was sliced by bytes and panicked on a non-ASCII character
        // there (a companion may relay any string Argo CD holds).
        for odd in [
            "2026-11-20T15:00:00\u{e9}1234",
            "2026-11-20T15:00:00+0\u{e9}00",
            "2026-11-20T15:00:00+01:\u{e9}",
            "2026-11-20T15:00:0\u{e9}Z",
            "2026-11-20T15:00:00.12\u{e9}Z",
            "\u{e9}026-11-20T15:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(odd), None, "{odd}");
        }
        assert_eq!(format_age(59), "just now");
        assert_eq!(format_age(3599), "59 min");
        assert_eq!(format_age(7200), "2 h");
        assert_eq!(format_age(200_000), "2 d");
    }
}
