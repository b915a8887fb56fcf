//! What the popup shows, as plain data: [`view`] turns a [`State`] into a [`View`] in the
//! user's language (through the injected [`Catalogue`]): the current routing of each
//! service at the top (with *back to dev*, *copy link* and whether the preview answered),
//! the share link's offer, groups per service with one action per mode on each row, and
//! the message for every non-happy case, so the DOM glue only copies strings into
//! elements. Links are passed through only when http(s).

use protocol::{Preview, RouteKind};

use crate::failure::{Failure, LocalError};
use crate::i18n::{Catalogue, Text};
use crate::settings::Mode;
use crate::state::{Active, Choice, Companion, Event, Proof, State, Tone};
use crate::{t, text};

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
pub fn get_companion(os: Os) -> Text {
    let v = crate::failure::EXTENSION_VERSION;
    match os {
        Os::Linux => text!("get_companion_linux", v),
        Os::Windows => text!("get_companion_windows", v),
        Os::Mac => text!("get_companion_mac"),
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

/// When to offer the search box without `/`.
const FILTER_FROM: usize = 8;

#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// The host of the active tab, for the header.
    pub host: Option<String>,
    /// Instead of (or above) the list: loading, nothing here, companion missing or failing.
    pub notice: Option<Notice>,
    /// Set when the data is old: says how old.
    pub stale: Option<String>,
    /// How each service routes the tab now, at the top.
    pub current: Vec<Current>,
    /// The share link in the tab's URL: what it asks for, and the one-click actions.
    pub link: Option<LinkView>,
    /// The share link just copied, and what kind of link it is.
    pub copied: Option<CopiedView>,
    /// On a GitHub pull-request page: that PR's previews first.
    pub pull_request: Option<PullRequestView>,
    pub groups: Vec<Group>,
    pub messages: Vec<String>,
    /// What failed behind the list shown (a server, a refresh): message and fix, shown
    /// above the (possibly stale) rows.
    pub failures: Vec<FailureView>,
    pub show_filter: bool,
    pub tab_mode_note: Option<String>,
    /// Where the list comes from, when it is not the local companion: the team relay, and
    /// what only the local companion can do.
    pub source: Option<String>,
    /// While the browser asks the user for access to a route's hosts: what is waiting and
    /// what to do.
    pub access_request: Option<String>,
    /// Words the DOM glue places around the data (link texts, headings).
    pub labels: Labels,
}

/// Fixed words of the popup, in the user's language.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    pub argocd: String,
    pub pull_request: String,
    pub current: String,
}

#[derive(Debug, Clone, PartialEq)]
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

#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub text: String,
    pub detail: Option<String>,
    /// A command to copy, shown in a `<code>` block.
    pub command: Option<String>,
}

/// A button.
#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    /// DOM id, stable across renders (focus survives them).
    pub id: String,
    pub label: String,
    /// What one click sends to the state.
    pub action: Event,
    /// Why it cannot be pressed now (shown as its tooltip and beside it).
    pub disabled: Option<String>,
    /// The tab is routed this way already (`aria-pressed`).
    pub pressed: bool,
    /// The row's primary action: the mode the popup leads with (settings `default_mode`).
    pub primary: bool,
}

/// One service's routing of the tab, at the top of the popup.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub service: String,
    /// `dev`, `PR 123 · this domain`, ...
    pub status: String,
    /// Whether the preview answered: `ok` or `warn` and the words; `None`: nothing to say.
    pub proof: Option<(&'static str, String)>,
    /// *Back to dev* and *copy link*, when routed.
    pub buttons: Vec<Button>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LinkView {
    /// "This link asks for courses-fe PR 123".
    pub text: String,
    /// Why it cannot be followed, when it cannot.
    pub refused: Option<String>,
    pub buttons: Vec<Button>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CopiedView {
    pub url: String,
    /// "Link copied: it works without the extension" or why copying failed.
    pub text: String,
    /// The link works for people without the extension.
    pub works_without_extension: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub service: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq)]
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
    /// *this tab* and *this domain*: one click each.
    pub buttons: Vec<Button>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PullRequestView {
    /// `owner/repo#n`.
    pub title: String,
    pub actions: Vec<Button>,
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

fn health(p: &Preview, cat: &dyn Catalogue) -> (&'static str, String) {
    let health = p.health.as_deref().unwrap_or("Unknown");
    let class = match health {
        "Healthy" => "ok",
        "Progressing" | "Suspended" => "warn",
        "Degraded" | "Missing" => "bad",
        _ => "unknown",
    };
    // Argo CD's status words are shown as Argo CD shows them.
    let mut text = health.to_string();
    if let Some(sync) = p.sync.as_deref().filter(|s| *s != "Synced") {
        text = t!(cat, "health_and", text, sync);
    }
    if let Some(phase) = p
        .phase
        .as_deref()
        .filter(|s| matches!(*s, "Running" | "Failed" | "Error" | "Terminating"))
    {
        text = t!(cat, "health_and", text, t!(cat, "health_sync_phase", phase));
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

/// "just now", "5 min", "3 h", "2 d", in the user's words.
pub fn format_age(secs: u64) -> Text {
    match secs {
        0..60 => text!("age_now"),
        60..3600 => text!("age_minutes", secs / 60),
        3600..86_400 => text!("age_hours", secs / 3600),
        _ => text!("age_days", secs / 86_400),
    }
}

fn row(state: &State, p: &Preview, now: u64, cat: &dyn Catalogue) -> Row {
    let (health_class, health_text) = health(p, cat);
    Row {
        argocd_id: dom_id(&p.service, &format!("argocd{}", p.pr)),
        pull_request_id: dom_id(&p.service, &format!("pr{}", p.pr)),
        pr: p.pr,
        title: t!(cat, "row_title", p.pr),
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
            .map(|t| format_age(now.saturating_sub(t)).render(cat)),
        argocd: safe_link(p.links.argocd.as_ref()),
        pull_request: safe_link(p.links.pull_request.as_ref()),
        unroutable: match (&p.unroutable, p.routes.is_empty()) {
            (Some(why), _) => Some(t!(cat, "row_cannot_route", why)),
            (None, true) => Some(t!(cat, "row_cannot_route", t!(cat, "no_route_found"))),
            (None, false) => None,
        },
        buttons: mode_buttons(state, p, false, cat),
    }
}

/// *this tab* and *this domain* for `p` on the active tab (empty when no route of it names
/// the tab's host), disabled with the reason where they cannot be used; the mode the tab
/// is routed by now is pressed. The default mode's button comes first and is the primary
/// one. `link`: the share link's offer (ids and events of its own).
fn mode_buttons(state: &State, p: &Preview, link: bool, cat: &dyn Catalogue) -> Vec<Button> {
    let host = state.tab.as_ref().and_then(|t| t.host.as_deref());
    let Some(route) = host.and_then(|h| p.route_for(h)) else {
        return Vec::new();
    };
    let current = state.active_choice(&p.service);
    let reading = (!state.records_read()).then(|| t!(cat, "reading"));
    // A route the team's policy refuses, or one that would overwrite a cookie of the site's
    // own, is offered in neither mode.
    let site_cookie = state
        .policy_refusal(route)
        .or_else(|| state.site_cookie_refusal(route))
        .map(|t| t.render(cat));
    let header_only =
        (route.kind == RouteKind::Header).then(|| t!(cat, "header_route_tab_only", &route.name));
    let default_mode = state.config.default_mode;
    let make = |choice: Choice, id: &str, label: String, why: Option<String>| {
        let pressed = current == Some(choice);
        let primary = matches!(
            (choice, default_mode),
            (Choice::Tab { .. }, Mode::Tab) | (Choice::Domain { .. }, Mode::Domain)
        );
        Button {
            id: dom_id(&p.service, id),
            label,
            action: if link {
                Event::FollowLink {
                    service: p.service.clone(),
                    choice,
                }
            } else {
                Event::Choose {
                    service: p.service.clone(),
                    choice,
                }
            },
            disabled: reading
                .clone()
                .or(why)
                .or_else(|| (pressed && !link).then(|| t!(cat, "already_routed"))),
            pressed,
            primary,
        }
    };
    let prefix = if link { "link-" } else { "" };
    let mut buttons = vec![
        make(
            Choice::Tab { pr: p.pr },
            &format!("{prefix}t{}", p.pr),
            t!(cat, "action_tab"),
            site_cookie.clone(),
        ),
        make(
            Choice::Domain { pr: p.pr },
            &format!("{prefix}d{}", p.pr),
            t!(cat, "action_domain"),
            site_cookie.or(header_only),
        ),
    ];
    // Tab first, unless the default is the domain (a stable sort keeps the rest in order).
    buttons.sort_by_key(|b| !b.primary);
    buttons
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

fn status_text(active: &Active) -> Text {
    match active {
        Active::Dev => text!("status_dev"),
        Active::Domain { pr, by_hand: false } => text!("status_domain", pr),
        Active::Domain { pr, by_hand: true } => text!("status_domain_by_hand", pr),
        Active::Tab { pr } => text!("status_tab", pr),
        // Its value is not shown: it may be the site's own session.
        Active::Unknown { name, .. } => text!("status_unknown", name),
    }
}

/// The routing of each service on the tab's host (and each our records route it by), at
/// the top of the popup: its status, whether the preview answered, and while routed the
/// buttons *back to dev* and *copy link*.
fn current(state: &State, cat: &dyn Catalogue) -> Vec<Current> {
    let mut services: Vec<String> = state
        .services_on_host()
        .into_iter()
        .map(str::to_string)
        .collect();
    for (s, _) in state.routed_services() {
        if !services.contains(&s) {
            services.push(s);
        }
    }
    services
        .into_iter()
        .map(|service| {
            let active = state.active(&service);
            let status = if state.records_read() {
                status_text(&active).render(cat)
            } else {
                t!(cat, "reading_service", &service)
            };
            let proof = match state.proof(&service) {
                Proof::Unknown => None,
                Proof::Answered { header, value } => {
                    Some(("ok", t!(cat, "proof_answered", header, value)))
                }
                Proof::Missed { header, value, got } => Some((
                    "warn",
                    match got {
                        None => t!(cat, "proof_served_by_dev", header, value),
                        Some(got) => t!(cat, "proof_served_by_other", header, value, got),
                    },
                )),
            };
            let mut buttons = Vec::new();
            if active != Active::Dev && state.records_read() {
                buttons.push(Button {
                    id: dom_id(&service, "dev"),
                    label: t!(cat, "action_back_to_dev"),
                    action: Event::Choose {
                        service: service.clone(),
                        choice: Choice::Dev,
                    },
                    disabled: None,
                    pressed: false,
                    primary: false,
                });
                if matches!(active, Active::Domain { .. } | Active::Tab { .. }) {
                    buttons.push(Button {
                        id: dom_id(&service, "copy"),
                        label: t!(cat, "action_copy_link"),
                        action: Event::CopyLink {
                            service: service.clone(),
                        },
                        disabled: None,
                        pressed: false,
                        primary: false,
                    });
                }
            }
            Current {
                service,
                status,
                proof,
                buttons,
            }
        })
        .collect()
}

/// The share link's offer: what it asks for and one click per mode, or why it cannot be
/// followed here.
fn link(state: &State, cat: &dyn Catalogue) -> Option<LinkView> {
    let request = state.link_request()?;
    if request.service.is_empty() {
        return Some(LinkView {
            text: t!(cat, "link_unreadable_title"),
            refused: request.refused.map(|r| r.render(cat)),
            buttons: Vec::new(),
        });
    }
    let text = t!(cat, "link_asks", &request.service, request.pr);
    if let Some(why) = request.refused {
        return Some(LinkView {
            text,
            refused: Some(why.render(cat)),
            buttons: Vec::new(),
        });
    }
    let preview = state
        .previews()
        .iter()
        .find(|p| p.service == request.service && p.pr == request.pr);
    Some(LinkView {
        text,
        refused: None,
        buttons: preview.map_or_else(Vec::new, |p| mode_buttons(state, p, true, cat)),
    })
}

fn copied(state: &State, cat: &dyn Catalogue) -> Option<CopiedView> {
    let c = state.copied.as_ref()?;
    let works = c.share.as_ref().is_some_and(|s| s.works_without_extension);
    let kind = match &c.share {
        Some(s) if s.works_without_extension => text!("copied_works_without_extension"),
        Some(_) => text!("copied_first_page_only"),
        None => text!("copied_needs_extension"),
    };
    let text = match &c.result {
        Some(Err(why)) => t!(cat, "copy_failed", why, kind),
        _ => t!(cat, "copied", kind),
    };
    Some(CopiedView {
        url: c.url.clone(),
        text,
        works_without_extension: works,
    })
}

/// The notice that replaces the list when the companion gave none: the install command
/// when it is not installed, `doctor` when it stopped, the upgrade command when it speaks an
/// older protocol, else the failure's message and fix as said (a companion error also names
/// its PROTOCOL.md code); a relay's failure names the relay.
fn failure_notice(
    failure: &Failure,
    browser: &str,
    os: Os,
    relay: Option<&str>,
    cat: &dyn Catalogue,
) -> Notice {
    if let Some(relay) = relay {
        // The relay's own words (its code, message and fix), or why it could not be read.
        return Notice {
            kind: NoticeKind::CompanionError,
            text: match failure.code() {
                Some(code) => t!(
                    cat,
                    "relay_failed",
                    code.as_str(),
                    failure.message().render(cat)
                ),
                None => capitalized(&failure.message().render(cat)),
            },
            detail: failure.fix().map(|f| f.render(cat)),
            command: None,
        }
        .with_relay(relay);
    }
    match failure {
        Failure::Local(LocalError::NotInstalled { browser_said }) => Notice {
            kind: NoticeKind::CompanionMissing,
            text: t!(cat, "companion_missing"),
            detail: Some(t!(
                cat,
                "companion_missing_detail",
                browser_said,
                get_companion(os).render(cat)
            )),
            command: Some(install_command(browser)),
        },
        Failure::Local(LocalError::Stopped { browser_said }) => Notice {
            kind: NoticeKind::CompanionError,
            text: t!(cat, "companion_stopped", browser_said),
            detail: Some(t!(cat, "companion_stopped_detail")),
            command: Some("preview-switch doctor".into()),
        },
        Failure::Companion(body) => Notice {
            kind: NoticeKind::CompanionError,
            text: t!(cat, "companion_failed", body.code.as_str(), &body.message),
            detail: failure.fix().map(|f| f.render(cat)),
            command: None,
        },
        Failure::Local(local) => Notice {
            kind: NoticeKind::CompanionError,
            text: capitalized(&local.message().render(cat)),
            detail: failure.fix().map(|f| f.render(cat)),
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
fn access_request(a: &crate::state::AwaitingAccess, cat: &dyn Catalogue) -> String {
    let target = match a.choice {
        Choice::Dev => text!("target_dev"),
        Choice::Domain { pr } => text!("target_domain", pr),
        Choice::Tab { pr } => text!("target_tab", pr),
    };
    t!(
        cat,
        "access_request",
        a.hosts.join(", "),
        &a.service,
        target
    )
}

/// The badge's background for `tone` (`None`: leave the browser's own).
pub fn badge_color(tone: Tone) -> Option<&'static str> {
    match tone {
        Tone::Plain => None,
        Tone::Routed => Some("#0969da"),
        Tone::Answered => Some("#1a7f37"),
        Tone::Warning => Some("#bc4c00"),
    }
}

/// The popup's content for `state`, in `cat`'s language.
pub fn view(state: &State, cat: &dyn Catalogue) -> View {
    let host = state.tab.as_ref().and_then(|t| t.host.clone());
    let mut v = View {
        host: host.clone(),
        notice: None,
        stale: None,
        current: Vec::new(),
        link: None,
        copied: copied(state, cat),
        pull_request: None,
        groups: Vec::new(),
        messages: state
            .messages
            .iter()
            .rev()
            .take(3)
            .rev()
            .map(|m| capitalized(&m.render(cat)))
            .collect(),
        failures: Vec::new(),
        show_filter: false,
        tab_mode_note: None,
        access_request: state
            .awaiting_access
            .as_ref()
            .map(|a| access_request(a, cat)),
        labels: Labels {
            argocd: t!(cat, "link_argocd"),
            pull_request: t!(cat, "link_pull_request"),
            current: t!(cat, "current_heading"),
        },
        source: state
            .config
            .relay
            .as_ref()
            .map(|relay| t!(cat, "source_relay", relay)),
    };
    let relay = state.config.relay.is_some();
    let (previews, age_secs, stale) = match &state.companion {
        Companion::Loading => {
            v.notice = Some(Notice {
                kind: NoticeKind::Loading,
                text: if relay {
                    t!(cat, "loading_relay")
                } else {
                    t!(cat, "loading")
                },
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
                cat,
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
            text!("age_seconds", age_secs)
        } else {
            format_age(age_secs)
        };
        v.stale = Some(if state.refreshing {
            t!(cat, "stale_refreshing", age)
        } else {
            if relay {
                t!(cat, "stale_failed_relay", age)
            } else {
                t!(cat, "stale_failed", age)
            }
        });
    }
    if let Some(failure) = &state.refresh_error {
        v.failures.push(FailureView {
            text: t!(cat, "refresh_failed", failure.message()),
            fix: failure.fix().map(|f| f.render(cat)),
        });
    }
    for f in &state.failures {
        v.failures.push(FailureView {
            text: t!(cat, "server_failed", &f.server, &f.error.message),
            fix: Some(f.error.fix.clone()).filter(|f| !f.trim().is_empty()),
        });
    }
    let now = state.now_secs;
    v.link = link(state, cat);

    if let Some(tab) = &state.tab
        && let Some(pr_page) = github_pr(&tab.url, &state.config.github_hosts)
    {
        let (_, owner, repo, n) = &pr_page;
        let actions: Vec<Button> = previews
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
            .map(|p| Button {
                id: dom_id(&p.service, &format!("open{}", p.pr)),
                label: t!(cat, "open_with_preview", &p.service, p.pr),
                // The page to open names the route to apply: the first route's first host.
                action: Event::OpenWithPreview {
                    service: p.service.clone(),
                    pr: p.pr,
                    host: p
                        .route()
                        .and_then(|r| r.hosts.first())
                        .cloned()
                        .unwrap_or_default(),
                },
                disabled: match p.route() {
                    None => Some(match &p.unroutable {
                        Some(why) => why.clone(),
                        None => t!(cat, "no_route_found"),
                    }),
                    Some(r) if r.kind == RouteKind::Header => {
                        Some(t!(cat, "header_route_tab_only", &r.name))
                    }
                    Some(_) => None,
                },
                pressed: false,
                primary: false,
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
                text: t!(cat, "not_a_web_page"),
                detail: None,
                command: None,
            });
        }
        return v;
    };
    let on_host = crate::hosts::previews_for_host(previews, &host);
    if on_host.is_empty() {
        if v.pull_request.is_none() && v.link.is_none() {
            let mut hosts: Vec<&str> = previews
                .iter()
                .flat_map(|p| p.routes.iter().flat_map(|r| r.hosts.iter()))
                .map(String::as_str)
                .collect();
            hosts.sort_unstable();
            hosts.dedup();
            v.notice = Some(Notice {
                kind: NoticeKind::NoPreviews,
                text: t!(cat, "no_previews_here", &host),
                detail: Some(if hosts.is_empty() {
                    t!(cat, "no_routable_previews")
                } else {
                    t!(cat, "previews_exist_for", hosts.join(", "))
                }),
                command: None,
            });
        }
        return v;
    }
    v.current = current(state, cat);
    v.show_filter = on_host.len() >= FILTER_FROM || !state.filter.is_empty() || state.filter_open;
    for service in state.services_on_host() {
        let mine: Vec<&Preview> = on_host
            .iter()
            .copied()
            .filter(|p| p.service == service && matches_filter(p, &state.filter))
            .collect();
        if mine.is_empty() {
            continue;
        }
        v.groups.push(Group {
            service: service.to_string(),
            rows: mine.iter().map(|p| row(state, p, now, cat)).collect(),
        });
    }
    if v.groups.is_empty() {
        v.notice = Some(Notice {
            kind: NoticeKind::NoMatches,
            text: t!(cat, "no_matches", &state.filter),
            detail: None,
            command: None,
        });
    } else {
        v.tab_mode_note = Some(t!(cat, "tab_mode_note"));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::testing::{Keys, english, korean, outside_keys};
    use crate::state::tests::{fe, granted, preview, ready};
    use crate::state::{Config, CookieSeen, Seen};
    use protocol::messages::{ErrorBody, ErrorCode};

    /// The view in English.
    fn v(s: &State) -> View {
        view(s, english())
    }

    fn labels(buttons: &[Button]) -> Vec<&str> {
        buttons.iter().map(|b| b.label.as_str()).collect()
    }

    #[test]
    fn each_row_carries_one_click_per_mode_and_the_state_is_at_the_top() {
        let api = preview("api", 9, "team-api-pr", &["app.test"]);
        let other = preview("admin", 1, "team-admin-pr", &["admin.test"]);
        let s = ready(vec![fe(123), api, fe(124), other], vec![]);
        let shown_view = v(&s);
        assert_eq!(shown_view.notice, None);
        let names: Vec<_> = shown_view
            .groups
            .iter()
            .map(|g| g.service.as_str())
            .collect();
        assert_eq!(names, ["courses-fe", "api"]);
        let fe_group = &shown_view.groups[0];
        assert_eq!(
            fe_group.rows.iter().map(|r| r.pr).collect::<Vec<_>>(),
            [123, 124]
        );
        let row = &fe_group.rows[0];
        assert_eq!(labels(&row.buttons), ["this tab", "this domain"]);
        assert_eq!(
            row.buttons[1].action,
            Event::Choose {
                service: "courses-fe".into(),
                choice: Choice::Domain { pr: 123 }
            }
        );
        assert!(
            row.buttons
                .iter()
                .all(|b| b.disabled.is_none() && !b.pressed)
        );
        assert_eq!(row.buttons[0].id, "opt-courses_fe-t123");
        // The state of each service, at the top: dev, and nothing to go back from.
        let top: Vec<_> = shown_view
            .current
            .iter()
            .map(|c| (c.service.as_str(), c.status.as_str(), c.buttons.len()))
            .collect();
        assert_eq!(top, [("courses-fe", "dev", 0), ("api", "dev", 0)]);
        assert!(
            shown_view
                .tab_mode_note
                .unwrap()
                .starts_with("“This tab” does not reach")
        );
        assert_eq!(
            (row.health_class, row.health_text.as_str()),
            ("ok", "Healthy")
        );
        assert_eq!(row.revision.as_deref(), Some("1a2b3c4"));
        assert_eq!(row.image_tag.as_deref(), Some("dev-1a2b3c4"));
        assert_eq!(row.age.as_deref(), Some("2 d"));
    }

    /// The default mode (settings `default_mode`, or the team's `defaultMode`) leads: its
    /// button is first in each row and in a share link's offer, and the only primary one;
    /// each button still applies its own mode.
    #[test]
    fn the_default_mode_leads_each_row() {
        let mut s = ready(vec![fe(123)], vec![]);
        let row = |s: &State| v(s).groups[0].rows[0].buttons.clone();
        let shown = row(&s);
        assert_eq!(labels(&shown), ["this tab", "this domain"]);
        assert_eq!(
            shown.iter().map(|b| b.primary).collect::<Vec<_>>(),
            [true, false]
        );
        s.config.default_mode = Mode::Domain;
        let shown = row(&s);
        assert_eq!(labels(&shown), ["this domain", "this tab"]);
        assert_eq!(
            shown
                .iter()
                .map(|b| (b.id.as_str(), b.primary))
                .collect::<Vec<_>>(),
            [
                ("opt-courses_fe-d123", true),
                ("opt-courses_fe-t123", false)
            ]
        );
        assert_eq!(
            shown[0].action,
            Event::Choose {
                service: "courses-fe".into(),
                choice: Choice::Domain { pr: 123 }
            }
        );
        // A team that locks it decides for everyone, whatever the user stored.
        let user = crate::settings::Settings {
            default_mode: Some(Mode::Tab),
            ..Default::default()
        };
        let team = crate::settings::Managed {
            default_mode: Some(Mode::Domain),
            allow_user_override: Some(false),
            ..Default::default()
        };
        s.config = crate::settings::config(&user, Some(&team));
        assert_eq!(labels(&row(&s)), ["this domain", "this tab"]);
        s.config = crate::settings::config(&user, None);
        assert_eq!(labels(&row(&s)), ["this tab", "this domain"]);

        // A share link's offer follows it too.
        let mut s = State::new(Config {
            default_mode: Mode::Domain,
            ..Config::default()
        });
        s.update(Event::PopupOpened {
            tab_id: 7,
            url: "https://app.test/?preview-switch=courses-fe:123".into(),
            now_secs: 0,
        });
        crate::state::tests::records_read(&mut s, "app.test");
        s.update(Event::ListArrived {
            previews: vec![fe(123)],
            age_secs: 0,
            stale: false,
        });
        let link = v(&s).link.expect("the link's offer");
        assert_eq!(labels(&link.buttons), ["this domain", "this tab"]);
        assert!(link.buttons[0].primary && !link.buttons[1].primary);
    }

    #[test]
    fn one_click_routes_and_the_top_then_offers_back_to_dev_and_copy_link() {
        let mut s = ready(vec![fe(123), fe(124)], vec![]);
        let fx = s.update(Event::Choose {
            service: "courses-fe".into(),
            choice: Choice::Tab { pr: 123 },
        });
        assert!(
            matches!(
                fx.first(),
                Some(crate::state::Effect::RequestHostPermission {
                    choice: Choice::Tab { pr: 123 },
                    ..
                })
            ),
            "one click asks for access and nothing else: {fx:?}"
        );
        // Until the browser's prompt is answered the popup says what waits and why.
        assert_eq!(
            v(&s).access_request.as_deref(),
            Some(
                "Allow Preview Switch to access app.test, www.app.test when the browser asks: it routes courses-fe to PR 123 for this tab only on sites you allow"
            )
        );
        s.update(Event::HostPermission {
            service: "courses-fe".into(),
            choice: Choice::Tab { pr: 123 },
            then: crate::state::Then::Stay,
            granted: false,
        });
        assert_eq!(v(&s).access_request, None);

        granted(&mut s, "courses-fe", Choice::Domain { pr: 124 });
        let shown_view = v(&s);
        let top = &shown_view.current[0];
        assert_eq!(top.status, "PR 124 · this domain");
        assert_eq!(labels(&top.buttons), ["back to dev", "copy link"]);
        assert_eq!(
            top.buttons[0].action,
            Event::Choose {
                service: "courses-fe".into(),
                choice: Choice::Dev
            }
        );
        assert_eq!(top.proof, None, "no marker: nothing claimed");
        let row = &shown_view.groups[0].rows[1];
        assert!(row.buttons[1].pressed);
        assert_eq!(
            row.buttons[1].disabled.as_deref(),
            Some("the tab is routed this way now")
        );
        assert_eq!(shown_view.groups[0].rows[0].buttons[1].disabled, None);
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
        let v0 = v(&s);
        assert!(
            v0.groups[0].rows[0]
                .buttons
                .iter()
                .all(|b| b.disabled.as_deref() == Some("reading current routing…"))
        );
        assert_eq!(
            v0.current[0].status,
            "Reading current routing of courses-fe…"
        );
        // A click that slipped through changes nothing.
        let fx = s.update(Event::Choose {
            service: "courses-fe".into(),
            choice: Choice::Domain { pr: 123 },
        });
        assert_eq!(fx, vec![crate::state::Effect::Render]);
        assert!(v(&s).messages.last().unwrap().contains("still being read"));
        s.update(Event::AppliedLoaded { applied: vec![] });
        s.update(Event::RulesRead { rules: vec![] });
        s.update(Event::CookiesRead {
            host: "app.test".into(),
            cookies: vec![],
        });
        assert_eq!(v(&s).groups[0].rows[0].buttons[1].disabled, None);
    }

    #[test]
    fn the_top_shows_the_current_routing_including_hand_set_cookies() {
        let hand = vec![CookieSeen {
            name: "team-courses-fe-pr".into(),
            value: "124".into(),
        }];
        let shown_view = v(&ready(vec![fe(123), fe(124)], hand));
        assert_eq!(
            shown_view.current[0].status,
            "PR 124 · this domain (cookie set by hand)"
        );
        assert!(shown_view.groups[0].rows[1].buttons[1].pressed);
        assert_eq!(
            labels(&shown_view.current[0].buttons),
            ["back to dev", "copy link"]
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
        let shown_view = v(&s);
        let why =
            "the site has its own cookie named team-courses-fe-pr; this route would overwrite it";
        for b in &shown_view.groups[0].rows[0].buttons {
            assert_eq!(b.disabled.as_deref(), Some(why), "{b:?}");
        }
        assert!(
            !format!("{shown_view:?}").contains("user-session-secret"),
            "{shown_view:?}"
        );
    }

    #[test]
    fn the_filter_narrows_rows_and_slash_opens_it() {
        let mut previews: Vec<Preview> = (100..110).map(fe).collect();
        previews.push(preview("api", 1, "team-api-pr", &["app.test"]));
        let mut s = ready(previews, vec![]);
        assert!(v(&s).show_filter);
        s.update(Event::Filter {
            text: "#105".into(),
        });
        let v1 = v(&s);
        assert_eq!(v1.groups.len(), 1);
        assert_eq!(v1.groups[0].rows.len(), 1);
        assert_eq!(v1.current.len(), 2, "the state at the top stays whole");
        s.update(Event::Filter {
            text: "nothing".into(),
        });
        assert_eq!(v(&s).notice.unwrap().kind, NoticeKind::NoMatches);

        let mut short = ready(vec![fe(1)], vec![]);
        assert!(!v(&short).show_filter);
        short.update(Event::FilterOpened);
        assert!(v(&short).show_filter);
    }

    /// A share link in the tab's URL leads the popup: what it asks for and one click per
    /// mode; the route is the listed one, whatever else the URL says.
    #[test]
    fn a_share_link_leads_with_its_request_and_one_click_follows_it() {
        let mut s = State::new(Config::default());
        s.update(Event::PopupOpened {
            tab_id: 7,
            url: "https://app.test/courses?x=1&preview-switch=courses-fe:124&name=evil&value=1"
                .into(),
            now_secs: 0,
        });
        crate::state::tests::records_read(&mut s, "app.test");
        s.update(Event::ListArrived {
            previews: vec![fe(123), fe(124)],
            age_secs: 0,
            stale: false,
        });
        let link = v(&s).link.expect("the link's offer");
        assert_eq!(link.text, "This link asks for courses-fe PR 124");
        assert_eq!(link.refused, None);
        assert_eq!(labels(&link.buttons), ["this tab", "this domain"]);
        assert_eq!(
            link.buttons[0].action,
            Event::FollowLink {
                service: "courses-fe".into(),
                choice: Choice::Tab { pr: 124 }
            }
        );
        assert_eq!(link.buttons[0].id, "opt-courses_fe-link-t124");
        let fx = s.update(Event::FollowLink {
            service: "courses-fe".into(),
            choice: Choice::Tab { pr: 124 },
        });
        let Some(crate::state::Effect::RequestHostPermission { origins, then, .. }) = fx.first()
        else {
            panic!("{fx:?}")
        };
        assert_eq!(then, &crate::state::Then::Reload);
        assert_eq!(
            origins,
            &[
                "https://app.test/*",
                "http://app.test/*",
                "https://www.app.test/*",
                "http://www.app.test/*"
            ]
        );
    }

    #[test]
    fn a_share_link_to_an_unknown_preview_is_refused_with_the_reason() {
        let at = |url: &str| {
            let mut s = State::new(Config::default());
            s.update(Event::PopupOpened {
                tab_id: 7,
                url: url.into(),
                now_secs: 0,
            });
            crate::state::tests::records_read(&mut s, "app.test");
            s.update(Event::ListArrived {
                previews: vec![fe(123)],
                age_secs: 0,
                stale: false,
            });
            v(&s).link.expect("an offer or a refusal")
        };
        let gone = at("https://app.test/?preview-switch=courses-fe:999");
        assert_eq!(gone.text, "This link asks for courses-fe PR 999");
        assert_eq!(
            gone.refused.as_deref(),
            Some(
                "Not offered: the companion lists no preview of courses-fe for PR 999 (closed, or not deployed yet?)"
            )
        );
        assert!(gone.buttons.is_empty());
        let odd = at("https://app.test/?preview-switch=courses-fe%3Bx");
        assert!(odd.buttons.is_empty());
        assert!(odd.refused.is_some(), "{odd:?}");
    }

    #[test]
    fn copy_link_copies_the_page_with_the_parameter_and_says_what_kind_of_link() {
        let mut shared = fe(123);
        shared.share = Some(protocol::Share {
            param: "preview-switch".into(),
            works_without_extension: true,
        });
        let mut s = ready(vec![shared], vec![]);
        granted(&mut s, "courses-fe", Choice::Tab { pr: 123 });
        let fx = s.update(Event::CopyLink {
            service: "courses-fe".into(),
        });
        assert!(
            fx.contains(&crate::state::Effect::CopyText {
                text: "https://app.test/courses?preview-switch=courses-fe:123".into()
            }),
            "{fx:?}"
        );
        s.update(Event::Copied { result: Ok(()) });
        let c = v(&s).copied.unwrap();
        assert!(c.works_without_extension);
        assert_eq!(
            c.text,
            "Link copied: it works without the extension too: the cluster routes it to the preview and sets the cookie"
        );
        s.update(Event::Copied {
            result: Err("Document is not focused".into()),
        });
        assert!(
            v(&s).copied.unwrap().text.starts_with(
                "Could not copy the link (Document is not focused): copy it from here"
            )
        );
    }

    #[test]
    fn the_preview_answered_or_dev_did_by_the_marker() {
        let mut marked = fe(123);
        marked.marker = Some(protocol::Marker {
            header: "x-preview-pr".into(),
            value: "123".into(),
        });
        let mut s = ready(vec![marked], vec![]);
        granted(&mut s, "courses-fe", Choice::Domain { pr: 123 });
        assert_eq!(v(&s).current[0].proof, None, "no response seen yet");
        let seen = |headers: Vec<(&str, &str)>| {
            Event::SeenLoaded(Some(Seen {
                tab_id: 7,
                host: "app.test".into(),
                headers: headers
                    .into_iter()
                    .map(|(h, v)| (h.into(), v.into()))
                    .collect(),
            }))
        };
        s.update(seen(vec![("x-preview-pr", "123")]));
        assert_eq!(
            v(&s).current[0].proof,
            Some(("ok", "the preview answered (x-preview-pr: 123)".into()))
        );
        s.update(seen(vec![("server", "nginx")]));
        let (class, words) = v(&s).current[0].proof.clone().unwrap();
        assert_eq!(class, "warn");
        assert!(words.starts_with("The page was served by dev"), "{words}");
    }

    /// Every word the popup shows comes from the catalogue: rendered with a catalogue that
    /// shows keys, nothing but data is left outside them.
    #[test]
    fn every_word_of_the_view_comes_from_the_catalogue() {
        let mut marked = fe(123);
        marked.marker = Some(protocol::Marker {
            header: "x-preview-pr".into(),
            value: "123".into(),
        });
        let mut s = ready(vec![marked, fe(124)], vec![]);
        granted(&mut s, "courses-fe", Choice::Domain { pr: 123 });
        s.update(Event::CopyLink {
            service: "courses-fe".into(),
        });
        s.update(Event::Choose {
            service: "courses-fe".into(),
            choice: Choice::Domain { pr: 999 },
        });
        let v = view(&s, &Keys);
        let mut shown: Vec<String> = Vec::new();
        for c in &v.current {
            shown.push(c.status.clone());
            shown.extend(c.proof.iter().map(|p| p.1.clone()));
            shown.extend(c.buttons.iter().map(|b| b.label.clone()));
        }
        for r in v.groups.iter().flat_map(|g| &g.rows) {
            shown.push(r.title.clone());
            shown.extend(r.age.clone());
            for b in &r.buttons {
                shown.push(b.label.clone());
                shown.extend(b.disabled.clone());
            }
        }
        shown.extend(v.messages.clone());
        shown.extend(v.tab_mode_note.clone());
        shown.extend(v.copied.iter().map(|c| c.text.clone()));
        shown.extend([
            v.labels.argocd.clone(),
            v.labels.pull_request.clone(),
            v.labels.current.clone(),
        ]);
        assert!(shown.len() > 12, "{shown:?}");
        for text in shown {
            let left = outside_keys(&text);
            assert!(
                !left.chars().any(char::is_alphabetic),
                "{text:?} has words outside the catalogue: {left:?}"
            );
        }
    }

    #[test]
    fn the_popup_in_korean() {
        let mut s = ready(vec![fe(123)], vec![]);
        granted(&mut s, "courses-fe", Choice::Tab { pr: 123 });
        let v = view(&s, korean());
        assert_eq!(v.current[0].status, "PR 123 · 이 탭만");
        assert_eq!(
            labels(&v.current[0].buttons),
            ["dev로 되돌리기", "링크 복사"]
        );
        assert_eq!(labels(&v.groups[0].rows[0].buttons), ["이 탭", "이 도메인"]);
        assert_eq!(v.labels.current, "이 탭의 라우팅");
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
            assert_eq!(health(&p, english()), (class, text.to_string()));
        }
    }

    #[test]
    fn messages_for_every_non_happy_case() {
        let mut s = State::new(Config::default());
        s.update(Event::PopupOpened {
            tab_id: 1,
            url: "https://elsewhere.test/".into(),
            now_secs: 0,
        });
        assert_eq!(v(&s).notice.unwrap().kind, NoticeKind::Loading);

        let mut missing = s.clone();
        missing.update(Event::CompanionFailed(
            LocalError::NotInstalled {
                browser_said: "Specified native messaging host not found".into(),
            }
            .into(),
        ));
        let n = v(&missing).notice.unwrap();
        assert_eq!(n.kind, NoticeKind::CompanionMissing);
        let mut edge = missing.clone();
        edge.browser = browser_from_brands(&["Chromium".into(), "Microsoft Edge".into()]);
        assert_eq!(
            v(&edge).notice.unwrap().command.as_deref(),
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
        let c = v(&crashed).notice.unwrap();
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
        let w = v(&windows).notice.unwrap();
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
        let n = v(&failed).notice.unwrap();
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
        let n = v(&unreadable).notice.unwrap();
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
        let n = v(&older).notice.unwrap();
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
        let n = v(&none).notice.unwrap();
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
            v(&stale).stale.as_deref(),
            Some("Showing the list updated 10 min ago: the companion could not refresh it")
        );
        stale.update(Event::Refreshing { on: true });
        assert_eq!(
            v(&stale).stale.as_deref(),
            Some("Showing the list updated 10 min ago; refreshing…"),
            "while a refresh runs, no failure is claimed"
        );
        stale.update(Event::ListArrived {
            previews: vec![fe(1)],
            age_secs: 0,
            stale: false,
        });
        assert_eq!(v(&stale).stale, None, "fresh data ends the refresh");

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
        let shown_view = v(&stale);
        assert_eq!(
            shown_view.stale.as_deref(),
            Some("Showing the list updated 12 s ago: the companion could not refresh it")
        );
        assert_eq!(
            shown_view.failures,
            vec![FailureView {
                text: "Could not refresh: Argo CD at https://argocd.test rejected the token".into(),
                fix: Some("run argocd login".into()),
            }]
        );
        assert_eq!(shown_view.groups.len(), 1, "the stale rows stay");

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
        let shown_view = v(&stale);
        assert_eq!(
            shown_view.failures[1],
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
            v(&stale).failures,
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
        assert_eq!(v(&chrome).notice.unwrap().kind, NoticeKind::NotAWebPage);
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
        let shown_view = v(&s);
        let pr = shown_view.pull_request.expect("a PR section");
        assert_eq!(pr.title, "acme/courses-fe#123");
        assert_eq!(
            pr.actions
                .iter()
                .map(|a| (a.label.as_str(), &a.action))
                .collect::<Vec<_>>(),
            [(
                "Open courses-fe with PR 123",
                &Event::OpenWithPreview {
                    service: "courses-fe".into(),
                    pr: 123,
                    host: "app.test".into()
                }
            )]
        );
        assert_eq!(
            shown_view.notice, None,
            "no 'no previews for github.com' message"
        );
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

    /// A route whose name the team's pattern does not allow is offered in neither mode, with
    /// the reason; one the pattern allows stays offered.
    #[test]
    fn a_route_the_teams_pattern_refuses_is_disabled_with_the_reason() {
        let mut s = ready(vec![fe(123)], vec![]);
        s.config.cookie_name_pattern = Some("qa-*".into());
        let why = "your team allows routing cookies named qa-* only, and this route is named team-courses-fe-pr";
        let shown_view = v(&s);
        assert_eq!(shown_view.groups[0].rows[0].buttons.len(), 2);
        for b in &shown_view.groups[0].rows[0].buttons {
            assert_eq!(b.disabled.as_deref(), Some(why), "{b:?}");
        }
        s.config.cookie_name_pattern = Some("team-*-pr".into());
        let shown_view = v(&s);
        assert!(
            shown_view.groups[0].rows[0]
                .buttons
                .iter()
                .all(|b| b.disabled.is_none())
        );
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
    fn rows_say_what_the_pull_request_is_and_the_filter_finds_it_by_title_or_branch() {
        let mut titled = fe(7);
        titled.title = Some("Add course search".into());
        titled.branch = Some("feature/search".into());
        titled.author = Some("alice".into());
        let mut s = ready(vec![titled, fe(8)], vec![]);
        let shown_view = v(&s);
        let rows = &shown_view.groups[0].rows;
        assert_eq!(
            rows[0].about.as_deref(),
            Some("Add course search · feature/search · @alice")
        );
        assert_eq!(rows[1].about, None);
        for text in ["search", "FEATURE/", "alice"] {
            s.update(Event::Filter { text: text.into() });
            let shown_view = v(&s);
            let prs: Vec<u64> = shown_view.groups[0].rows.iter().map(|r| r.pr).collect();
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
        let shown_view = v(&s);
        let row = &shown_view.groups[0].rows[0];
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
        assert_eq!(v(&s).groups[0].rows.len(), 1);
    }

    #[test]
    fn only_web_links_are_shown() {
        let mut p = fe(1);
        p.links.argocd = Some("javascript:alert(1)".into());
        let shown_view = v(&ready(vec![p], vec![]));
        assert_eq!(shown_view.groups[0].rows[0].argocd, None);
        assert!(shown_view.groups[0].rows[0].pull_request.is_some());
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
        let age = |secs| format_age(secs).render(english());
        assert_eq!(age(59), "just now");
        assert_eq!(age(3599), "59 min");
        assert_eq!(age(7200), "2 h");
        assert_eq!(age(200_000), "2 d");
        assert_eq!(
            format_age(7200).render(crate::i18n::testing::korean()),
            "2시간"
        );
    }
}
