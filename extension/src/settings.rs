//! The settings a user may change (options page), as stored in `chrome.storage.local`
//! under `settings`, and how the options form is read: GitHub Enterprise hosts whose
//! `/<owner>/<repo>/pull/<n>` pages count as pull-request pages, the domain-mode cookie
//! lifetime, the share links' query parameter, the team relay's address, the page ribbon
//! ([`PageMarker`]) and the mode the popup leads with ([`Mode`]). Also the settings a team
//! presets through policy ([`Managed`], `chrome.storage.managed`). Pure, tested natively;
//! `web` reads and writes the storage.

use serde::{Deserialize, Serialize};

use crate::i18n::Text;
use crate::state::Config;
use crate::text;
use protocol::policy::{self, KnownSuffixes};

/// The most a routing cookie may live: a month, so a forgotten one does not route forever.
pub const MAX_COOKIE_HOURS: u64 = 24 * 30;

/// Where the page ribbon ("courses-fe PR 123 · back to dev") shows: nowhere, on pages the
/// extension routed for the whole domain (the default), or also on tabs routed alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PageMarker {
    Off,
    #[default]
    Domain,
    Always,
}

/// The mode the popup leads with: its button comes first in each row, marked as the
/// primary action. *This tab* by default: it routes nothing but the tab.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Tab,
    Domain,
}

/// A setting the options form offers as a `<select>`: its values as stored, as the form and
/// the team's policy name them, and in words for the team's note.
pub trait Selectable: Copy + PartialEq + 'static {
    const ALL: &'static [Self];

    fn as_str(self) -> &'static str;

    fn text(self) -> Text;

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.as_str() == raw)
    }
}

impl Selectable for PageMarker {
    const ALL: &'static [Self] = &[PageMarker::Off, PageMarker::Domain, PageMarker::Always];

    fn as_str(self) -> &'static str {
        match self {
            PageMarker::Off => "off",
            PageMarker::Domain => "domain",
            PageMarker::Always => "always",
        }
    }

    fn text(self) -> Text {
        match self {
            PageMarker::Off => text!("page_marker_off"),
            PageMarker::Domain => text!("page_marker_domain"),
            PageMarker::Always => text!("page_marker_always"),
        }
    }
}

impl Selectable for Mode {
    const ALL: &'static [Self] = &[Mode::Tab, Mode::Domain];

    fn as_str(self) -> &'static str {
        match self {
            Mode::Tab => "tab",
            Mode::Domain => "domain",
        }
    }

    /// The popup's action.
    fn text(self) -> Text {
        match self {
            Mode::Tab => text!("action_tab"),
            Mode::Domain => text!("action_domain"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub github_hosts: Vec<String>,
    #[serde(default)]
    pub cookie_lifetime_hours: Option<u64>,
    /// The team relay to read the list from instead of the local companion.
    #[serde(default)]
    pub relay_url: Option<String>,
    /// The share links' query parameter where the cluster's share rule names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_param: Option<String>,
    /// Where the page ribbon shows; `None`: the team's preset, else [`PageMarker::Domain`].
    /// A stored value of another shape is skipped alone, as in [`Managed`].
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_choice"
    )]
    pub page_marker: Option<PageMarker>,
    /// The mode the popup leads with; `None`: the team's preset, else [`Mode::Tab`].
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient_choice"
    )]
    pub default_mode: Option<Mode>,
}

/// What a team presets by policy (`chrome.storage.managed`; Chrome's
/// `3rdparty.extensions.<id>`, Firefox's `3rdparty.Extensions.<id>`). Its key names are the
/// managed-storage schema's (`static/managed_schema.json`, README "Team rollout"). A value of
/// the wrong type is skipped alone (the rest of the policy still applies): policy is trusted
/// no more than storage.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Managed {
    /// The team relay, used when this browser has no local companion.
    #[serde(default, rename = "relayUrl", deserialize_with = "lenient")]
    pub relay_url: Option<String>,
    /// GitHub Enterprise hosts, added to the user's own (or alone when locked).
    #[serde(default, rename = "githubHosts", deserialize_with = "lenient")]
    pub github_hosts: Option<Vec<String>>,
    /// The domain-mode cookie lifetime, in hours.
    #[serde(default, rename = "cookieLifetimeHours", deserialize_with = "lenient")]
    pub cookie_lifetime_hours: Option<u64>,
    /// The routing-cookie (and header) names the team allows, as a glob: `*` is any run of
    /// characters. A route named otherwise is offered in neither mode.
    #[serde(default, rename = "cookieNamePattern", deserialize_with = "lenient")]
    pub cookie_name_pattern: Option<String>,
    /// `false` locks the preset values: the options page shows them and cannot change them,
    /// and what a user stored before is ignored. Absent: the user may override.
    #[serde(default, rename = "allowUserOverride", deserialize_with = "lenient")]
    pub allow_user_override: Option<bool>,
    /// Where the page ribbon shows (`off`, `domain`, `always`).
    #[serde(
        default,
        rename = "pageMarker",
        deserialize_with = "lenient_choice",
        skip_serializing_if = "Option::is_none"
    )]
    pub page_marker: Option<PageMarker>,
    /// The mode the popup leads with (`tab`, `domain`).
    #[serde(
        default,
        rename = "defaultMode",
        deserialize_with = "lenient_choice",
        skip_serializing_if = "Option::is_none"
    )]
    pub default_mode: Option<Mode>,
}

/// A policy value of the wrong type is `None`, not an error for the whole policy.
fn lenient<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either<T> {
        Value(T),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<Either<T>>::deserialize(deserializer)? {
        Some(Either::Value(v)) => Some(v),
        _ => None,
    })
}

/// A choice read as text (the decoder [`lenient`] already has for text: a decoder per enum
/// would cost the wasm kilobytes); a value that is no choice is `None`.
fn lenient_choice<'de, D: serde::Deserializer<'de>, T: Selectable>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Ok(lenient::<D, String>(deserializer)?.and_then(|v| T::parse(&v)))
}

/// The managed-storage key of [`Managed::relay_url`].
pub const MANAGED_RELAY_URL: &str = "relayUrl";

/// Every managed-storage key [`Managed`] reads, as the schema declares them.
pub const MANAGED_KEYS: [&str; 7] = [
    MANAGED_RELAY_URL,
    "githubHosts",
    "cookieLifetimeHours",
    "cookieNamePattern",
    "allowUserOverride",
    "pageMarker",
    "defaultMode",
];

impl Managed {
    /// The preset relay, when it is a relay address (policy is trusted no more than storage).
    pub fn relay(&self) -> Option<String> {
        check_relay_url(self.relay_url.as_deref()?).ok()
    }

    /// Whether the team locked its preset values (`allowUserOverride: false`).
    pub fn locked(&self) -> bool {
        self.allow_user_override == Some(false)
    }

    /// The preset lifetime, when it is one the form would accept.
    pub fn cookie_lifetime_hours(&self) -> Option<u64> {
        self.cookie_lifetime_hours
            .filter(|h| (1..=MAX_COOKIE_HOURS).contains(h))
    }

    /// The preset cookie-name pattern, when it is one (blank: none).
    pub fn cookie_name_pattern(&self) -> Option<String> {
        let pattern = self.cookie_name_pattern.as_deref()?.trim();
        (!pattern.is_empty()).then(|| pattern.to_owned())
    }

    /// The preset GitHub hosts that are hosts.
    pub fn github_hosts(&self) -> Vec<String> {
        checked_hosts(self.github_hosts.iter().flatten())
    }
}

/// Whether `name` matches the glob `pattern` (`*`: any run of characters, possibly empty;
/// everything else literal, case-sensitive as cookie names are).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty(); // no `*`: the whole name
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Why a route named `name` is refused by the team's `pattern`, if it is.
pub fn pattern_refusal(pattern: Option<&str>, name: &str) -> Option<Text> {
    let pattern = pattern?;
    (!name_matches(pattern, name)).then(|| text!("route_outside_team_pattern", pattern, name))
}

/// The hosts of `raw` that pass the host check, in order, once each.
fn checked_hosts<'a>(raw: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut hosts = Vec::new();
    for h in raw {
        if let Ok(h) = policy::check_host(h, &KnownSuffixes)
            && !hosts.contains(&h)
        {
            hosts.push(h);
        }
    }
    hosts
}

/// The state's configuration: the defaults, what the team preset and what the user set.
/// The team's GitHub hosts are added to the user's; its lifetime is the default the user's
/// replaces; its cookie-name pattern always holds. Locked (`allowUserOverride: false`), each
/// value the team set replaces the user's. A stored value that does not pass the form's
/// checks (edited by hand) is skipped, not trusted.
pub fn config(settings: &Settings, managed: Option<&Managed>) -> Config {
    let none = Managed::default();
    let team = managed.unwrap_or(&none);
    let mut config = Config::default();
    let user_hosts = if team.locks(Field::GithubHosts) {
        Vec::new()
    } else {
        checked_hosts(&settings.github_hosts)
    };
    for h in team.github_hosts().into_iter().chain(user_hosts) {
        if !config.github_hosts.contains(&h) {
            config.github_hosts.push(h);
        }
    }
    let user_hours = settings
        .cookie_lifetime_hours
        .filter(|h| (1..=MAX_COOKIE_HOURS).contains(h) && !team.locks(Field::CookieHours));
    if let Some(hours) = user_hours.or(team.cookie_lifetime_hours()) {
        config.cookie_lifetime_secs = hours * 60 * 60;
    }
    config.cookie_name_pattern = team.cookie_name_pattern();
    config.page_marker = settings
        .page_marker
        .filter(|_| !team.locks(Field::PageMarker))
        .or(team.page_marker)
        .unwrap_or_default();
    config.default_mode = settings
        .default_mode
        .filter(|_| !team.locks(Field::DefaultMode))
        .or(team.default_mode)
        .unwrap_or_default();
    if let Some(param) = settings
        .share_param
        .as_deref()
        .filter(|p| policy::check_share_param(p).is_ok())
    {
        config.share_param = param.to_string();
    }
    config
}

/// A setting of the options form a team may preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    GithubHosts,
    CookieHours,
    Relay,
    PageMarker,
    DefaultMode,
}

impl Managed {
    /// Whether the team set `field` (a usable value) and locked it.
    pub fn locks(&self, field: Field) -> bool {
        self.locked() && self.sets(field)
    }

    /// Whether the team set `field` to a usable value.
    pub fn sets(&self, field: Field) -> bool {
        match field {
            Field::GithubHosts => !self.github_hosts().is_empty(),
            Field::CookieHours => self.cookie_lifetime_hours().is_some(),
            Field::Relay => self.relay().is_some(),
            Field::PageMarker => self.page_marker.is_some(),
            Field::DefaultMode => self.default_mode.is_some(),
        }
    }
}

/// One field of the options form as shown: its value, the placeholder (the team's value
/// when the user may override it, else the default), and whether the team locked it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldView {
    pub value: String,
    pub placeholder: Option<String>,
    pub locked: bool,
}

/// The options form as shown: the fields and what the page says of the team's policy. The
/// two choices (`<select>`) have no placeholder: they show the value that applies.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OptionsView {
    pub github_hosts: FieldView,
    pub cookie_hours: FieldView,
    pub relay: FieldView,
    pub page_marker: FieldView,
    pub default_mode: FieldView,
    /// What the team preset, in a sentence; `None` without a policy.
    pub team_note: Option<Text>,
}

/// The options form for the stored `settings` under the team's `managed` policy.
pub fn options_view(settings: &Settings, managed: Option<&Managed>) -> OptionsView {
    let none = Managed::default();
    let team = managed.unwrap_or(&none);
    let field = |f: Field, user: String, team_value: Option<String>| {
        if team.locks(f) {
            FieldView {
                value: team_value.unwrap_or_default(),
                placeholder: None,
                locked: true,
            }
        } else {
            FieldView {
                value: user,
                placeholder: team_value,
                locked: false,
            }
        }
    };
    // A choice shows what applies: the user's own, else the team's, else the default.
    let choice =
        |f: Field, user: Option<&'static str>, team_value: Option<&'static str>, default| {
            let locked = team.locks(f);
            let value = if locked {
                team_value
            } else {
                user.or(team_value)
            };
            FieldView {
                value: value.unwrap_or(default).to_owned(),
                placeholder: None,
                locked,
            }
        };
    let team_hosts = team.github_hosts();
    let view = OptionsView {
        github_hosts: field(
            Field::GithubHosts,
            settings.github_hosts.join("\n"),
            (!team_hosts.is_empty()).then(|| team_hosts.join("\n")),
        ),
        cookie_hours: field(
            Field::CookieHours,
            settings
                .cookie_lifetime_hours
                .map(|h| h.to_string())
                .unwrap_or_default(),
            team.cookie_lifetime_hours().map(|h| h.to_string()),
        ),
        relay: field(
            Field::Relay,
            settings.relay_url.clone().unwrap_or_default(),
            team.relay(),
        ),
        page_marker: choice(
            Field::PageMarker,
            settings.page_marker.map(PageMarker::as_str),
            team.page_marker.map(PageMarker::as_str),
            PageMarker::default().as_str(),
        ),
        default_mode: choice(
            Field::DefaultMode,
            settings.default_mode.map(Mode::as_str),
            team.default_mode.map(Mode::as_str),
            Mode::default().as_str(),
        ),
        team_note: None,
    };
    let mut said = Vec::new();
    if !team_hosts.is_empty() {
        said.push(text!("team_sets_github_hosts", team_hosts.join(", ")));
    }
    if let Some(h) = team.cookie_lifetime_hours() {
        said.push(text!("team_sets_cookie_hours", h));
    }
    if let Some(r) = team.relay() {
        said.push(text!("team_sets_relay", r));
    }
    if let Some(p) = team.cookie_name_pattern() {
        said.push(text!("team_sets_cookie_pattern", p));
    }
    if let Some(m) = team.page_marker {
        said.push(text!("team_sets_page_marker", m.text()));
    }
    if let Some(m) = team.default_mode {
        said.push(text!("team_sets_default_mode", m.text()));
    }
    let team_note = (!said.is_empty()).then(|| {
        if team.locked() {
            text!("team_note_locked", said)
        } else {
            text!("team_note_defaults", said)
        }
    });
    OptionsView { team_note, ..view }
}

/// A relay address: `http(s)://host[:port][/base/path]`, returned without a trailing slash.
/// Plain http is accepted for a relay on a private network or on this machine.
pub fn check_relay_url(raw: &str) -> Result<String, Text> {
    let raw = raw.trim().trim_end_matches('/');
    let refuse = |why: Text| Err(text!("settings_bad_relay", policy::quoted(raw), why));
    let Some((scheme, rest)) = raw.split_once("://") else {
        return refuse(text!("relay_why_no_scheme"));
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return refuse(text!("relay_why_not_http"));
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if path.contains(['?', '#', '\\', ' ']) || path.split('/').any(|s| s == ".." || s == ".") {
        return refuse(text!("relay_why_odd_path"));
    }
    if authority.contains('@') {
        return refuse(text!("relay_why_credentials"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if port.is_some_and(|p| p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return refuse(text!("relay_why_port"));
    }
    let host = policy::check_host(host, &KnownSuffixes)
        .map_err(|why| text!("settings_refused_host", why))?;
    let port = port.map(|p| format!(":{p}")).unwrap_or_default();
    Ok(format!("{scheme}://{host}{port}{path}"))
}

/// The host permission the relay needs (match patterns carry no port).
pub fn relay_access(relay: &str) -> Option<String> {
    let (scheme, rest) = relay.split_once("://")?;
    let authority = rest.split('/').next()?;
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    Some(format!("{scheme}://{host}/*"))
}

impl Settings {
    /// The state's configuration without a team policy (see [`config`]).
    pub fn config(&self) -> Config {
        config(self, None)
    }

    /// The relay the user set, checked (storage may have been edited by hand).
    pub fn relay(&self) -> Option<String> {
        check_relay_url(self.relay_url.as_deref()?).ok()
    }

    /// Reads the options form: hosts one per line (or separated by commas or spaces; an
    /// `https://` prefix or trailing `/` is tolerated), the lifetime in hours, the share
    /// parameter (empty: the default), the relay address (empty: the local companion) and
    /// the two choices (empty: the default).
    pub fn from_form(form: &Form<'_>) -> Result<Settings, Text> {
        let Form {
            hosts,
            hours,
            share_param,
            relay,
            page_marker,
            default_mode,
        } = *form;
        let mut github_hosts = Vec::new();
        for raw in hosts.split([',', ' ', '\n', '\r', '\t']) {
            let h = raw.trim();
            let h = h
                .strip_prefix("https://")
                .or_else(|| h.strip_prefix("http://"))
                .unwrap_or(h)
                .trim_end_matches('/');
            if h.is_empty() {
                continue;
            }
            let h = policy::check_host(h, &KnownSuffixes)
                .map_err(|why| text!("settings_refused_host", why))?;
            if !github_hosts.contains(&h) {
                github_hosts.push(h);
            }
        }
        let hours = hours.trim();
        let cookie_lifetime_hours = if hours.is_empty() {
            None
        } else {
            match hours.parse::<u64>() {
                Ok(h) if (1..=MAX_COOKIE_HOURS).contains(&h) => Some(h),
                _ => {
                    return Err(text!(
                        "settings_bad_lifetime",
                        policy::quoted(hours),
                        MAX_COOKIE_HOURS
                    ));
                }
            }
        };
        let share_param = match share_param.trim() {
            "" => None,
            p => {
                policy::check_share_param(p)
                    .map_err(|why| text!("settings_bad_share_param", why))?;
                Some(p.to_string())
            }
        };
        let relay_url = match relay.trim() {
            "" => None,
            raw => Some(check_relay_url(raw)?),
        };
        let page_marker = form_choice(page_marker)?;
        let default_mode = form_choice(default_mode)?;
        Ok(Settings {
            github_hosts,
            cookie_lifetime_hours,
            relay_url,
            share_param,
            page_marker,
            default_mode,
        })
    }
}

/// A `<select>`'s value (empty: the default); a select offers only its options, anything
/// else was put there by hand.
fn form_choice<T: Selectable>(raw: &str) -> Result<Option<T>, Text> {
    match raw.trim() {
        "" => Ok(None),
        raw => T::parse(raw)
            .map(Some)
            .ok_or_else(|| text!("settings_bad_choice", policy::quoted(raw))),
    }
}

/// What the options form holds, as typed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<'a> {
    pub hosts: &'a str,
    pub hours: &'a str,
    pub share_param: &'a str,
    pub relay: &'a str,
    pub page_marker: &'a str,
    pub default_mode: &'a str,
}

impl Settings {
    /// What the form's save stores: the locked fields keep what was stored (the form shows
    /// the team's values there, which are not the user's own), and a choice equal to what
    /// applies without it (the team's preset, else the default) is not stored, so it keeps
    /// following the team's preset when that changes (a `<select>` always holds a value).
    pub fn keep_locked(self, stored: &Settings, managed: Option<&Managed>) -> Settings {
        let none = Managed::default();
        let team = managed.unwrap_or(&none);
        let keep = |f: Field| team.locks(f);
        let page_marker = if keep(Field::PageMarker) {
            stored.page_marker
        } else {
            self.page_marker
                .filter(|m| *m != team.page_marker.unwrap_or_default())
        };
        let default_mode = if keep(Field::DefaultMode) {
            stored.default_mode
        } else {
            self.default_mode
                .filter(|m| *m != team.default_mode.unwrap_or_default())
        };
        Settings {
            github_hosts: if keep(Field::GithubHosts) {
                stored.github_hosts.clone()
            } else {
                self.github_hosts
            },
            cookie_lifetime_hours: if keep(Field::CookieHours) {
                stored.cookie_lifetime_hours
            } else {
                self.cookie_lifetime_hours
            },
            relay_url: if keep(Field::Relay) {
                stored.relay_url.clone()
            } else {
                self.relay_url
            },
            share_param: self.share_param,
            page_marker,
            default_mode,
        }
    }
}

/// What the options page says when the relay's host access was not granted.
pub fn relay_access_refused(access: &str) -> Text {
    text!("settings_relay_access_refused", access)
}

/// What the options page says once the browser stored the settings, or refused to
/// (`Err`: the browser's words).
pub fn save_outcome(saved: Result<(), String>) -> Text {
    match saved {
        Ok(()) => text!("settings_saved"),
        Err(e) => text!("settings_not_stored", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::testing::english;

    fn form<'a>(hosts: &'a str, hours: &'a str) -> Form<'a> {
        Form {
            hosts,
            hours,
            ..Form::default()
        }
    }

    fn relay_form(relay: &str) -> Form<'_> {
        Form {
            relay,
            ..Form::default()
        }
    }

    /// What the form says when it refuses `f`, in English.
    fn refused(f: &Form<'_>) -> String {
        Settings::from_form(f).unwrap_err().render(english())
    }

    #[test]
    fn the_form_accepts_hosts_as_people_paste_them() {
        let s = Settings::from_form(&form(
            "GitHub.Acme.io\nhttps://git.corp.test/, github.acme.io\n\n",
            " 48 ",
        ))
        .unwrap();
        assert_eq!(s.github_hosts, ["github.acme.io", "git.corp.test"]);
        assert_eq!(s.cookie_lifetime_hours, Some(48));
        let config = s.config();
        assert_eq!(
            config.github_hosts,
            ["github.com", "github.acme.io", "git.corp.test"]
        );
        assert_eq!(config.cookie_lifetime_secs, 48 * 3600);
        assert_eq!(config.share_param, policy::DEFAULT_SHARE_PARAM);
    }

    #[test]
    fn the_form_refuses_what_is_not_a_host_a_lifetime_or_a_parameter() {
        let err = refused(&form("github.acme.io/org", ""));
        assert!(err.contains("refused host"), "{err}");
        let err = refused(&form("", "0"));
        assert!(err.contains("from 1 to 720"), "{err}");
        let err = refused(&form("", "a day"));
        assert!(err.contains("\"a day\""), "{err}");
        let err = refused(&Form {
            share_param: "a&b",
            ..Form::default()
        });
        assert!(err.contains("contains '&'"), "{err}");
        assert_eq!(
            Settings::from_form(&form("", "")).unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn the_share_parameter_is_kept() {
        let s = Settings::from_form(&Form {
            share_param: " ps ",
            ..Form::default()
        })
        .unwrap();
        assert_eq!(s.share_param.as_deref(), Some("ps"));
        assert_eq!(s.config().share_param, "ps");
    }

    #[test]
    fn saving_says_what_happened() {
        assert!(save_outcome(Ok(())).render(english()).starts_with("Saved"));
        assert_eq!(
            save_outcome(Err("QUOTA_BYTES quota exceeded".into())).render(english()),
            "Not saved: the browser refused to store the settings: QUOTA_BYTES quota exceeded"
        );
    }

    #[test]
    fn hand_edited_storage_is_not_trusted() {
        let s = Settings {
            github_hosts: vec!["*.evil".into(), "ok.test".into()],
            cookie_lifetime_hours: Some(100_000),
            relay_url: Some("relay.corp.test".into()),
            share_param: Some("a b".into()),
            ..Settings::default()
        };
        let config = s.config();
        assert_eq!(config.github_hosts, ["github.com", "ok.test"]);
        assert_eq!(
            config.cookie_lifetime_secs,
            Config::default().cookie_lifetime_secs
        );
        assert_eq!(s.relay(), None, "no scheme: not a relay address");
        assert_eq!(config.share_param, policy::DEFAULT_SHARE_PARAM);
    }

    #[test]
    fn the_relay_address_is_a_plain_http_or_https_base_url() {
        let s =
            Settings::from_form(&relay_form(" HTTPS://Relay.Corp.test:8443/previews/ ")).unwrap();
        assert_eq!(
            s.relay_url.as_deref(),
            Some("https://relay.corp.test:8443/previews")
        );
        assert_eq!(
            relay_access(&s.relay().unwrap()).as_deref(),
            Some("https://relay.corp.test/*")
        );
        assert_eq!(
            check_relay_url("http://relay.test:8080").as_deref(),
            Ok("http://relay.test:8080")
        );
        for (bad, why) in [
            ("relay.corp.test", "does not start with https://"),
            ("ftp://relay.corp.test", "not an http or https"),
            ("https://relay.corp.test/?x=1", "query"),
            ("https://relay.corp.test/a/../b", "odd path"),
            ("https://relay.corp.test:80x", "port"),
            ("https://me:pw@relay.corp.test", "user name"),
            ("https://*.corp.test", "refused host"),
        ] {
            let err = refused(&relay_form(bad));
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(
            relay_access_refused("https://relay.corp.test/*")
                .render(english())
                .contains("https://relay.corp.test/*")
        );
    }

    /// Chrome hands an extension its policy only for the keys its manifest's
    /// `storage.managed_schema` declares: without the schema a team's preset relay would
    /// never arrive. (Firefox reads `3rdparty` policy without a schema, so only the
    /// Chromium manifest names it.)
    #[test]
    fn the_managed_schema_declares_the_preset_relay() {
        let manifest: serde_json::Value =
            serde_json::from_str(include_str!("../manifest/chromium.json")).unwrap();
        assert_eq!(
            manifest["storage"]["managed_schema"], "managed_schema.json",
            "the schema is shipped from extension/static/"
        );
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../static/managed_schema.json")).unwrap();
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["properties"][MANAGED_RELAY_URL]["type"], "string");
        let mut keys: Vec<&str> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut read = MANAGED_KEYS.to_vec();
        keys.sort_unstable();
        read.sort_unstable();
        assert_eq!(keys, read, "every key is one Managed reads");
        // Every key Managed reads round-trips under its schema name and type.
        let full = serde_json::json!({
            "relayUrl": "https://relay.corp.test",
            "githubHosts": ["github.acme.test"],
            "cookieLifetimeHours": 8,
            "cookieNamePattern": "team-*-pr",
            "allowUserOverride": false,
            "pageMarker": "always",
            "defaultMode": "domain",
        });
        let read: Managed = serde_json::from_value(full.clone()).unwrap();
        assert_eq!(serde_json::to_value(&read).unwrap(), full);
        for key in MANAGED_KEYS {
            let kind = match &full[key] {
                serde_json::Value::String(_) => "string",
                serde_json::Value::Array(_) => "array",
                serde_json::Value::Number(_) => "integer",
                serde_json::Value::Bool(_) => "boolean",
                other => panic!("{other}"),
            };
            assert_eq!(schema["properties"][key]["type"], kind, "{key}");
        }
        // The two choices list exactly the values Managed reads.
        let values = |key: &str| -> Vec<String> {
            schema["properties"][key]["enum"]
                .as_array()
                .unwrap_or_else(|| panic!("{key} lists its values"))
                .iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect()
        };
        assert_eq!(values("pageMarker"), ["off", "domain", "always"]);
        assert_eq!(values("defaultMode"), ["tab", "domain"]);
        for v in values("pageMarker") {
            assert_eq!(
                PageMarker::parse(&v).map(PageMarker::as_str),
                Some(v.as_str())
            );
        }
        for v in values("defaultMode") {
            assert_eq!(Mode::parse(&v).map(Mode::as_str), Some(v.as_str()));
        }
        let preset: Managed = serde_json::from_value(
            serde_json::json!({ MANAGED_RELAY_URL: "https://relay.corp.test/" }),
        )
        .unwrap();
        assert_eq!(preset.relay().as_deref(), Some("https://relay.corp.test"));
    }

    #[test]
    fn a_cookie_name_pattern_is_a_glob_of_stars() {
        for (pattern, name, matches) in [
            ("team-*-pr", "team-courses-fe-pr", true),
            ("team-*-pr", "team--pr", true),
            ("team-*-pr", "team-pr", false),
            ("team-*-pr", "session", false),
            ("team-*-pr", "Team-x-pr", false),
            ("*", "anything", true),
            ("exact", "exact", true),
            ("exact", "exactly", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "acb", false),
            ("*-pr", "x-pr-pr", true),
        ] {
            assert_eq!(name_matches(pattern, name), matches, "{pattern} {name}");
        }
        let why = pattern_refusal(Some("team-*-pr"), "sessionid")
            .unwrap()
            .render(english());
        assert_eq!(
            why,
            "your team allows routing cookies named team-*-pr only, and this route is named sessionid"
        );
        assert_eq!(pattern_refusal(None, "sessionid"), None);
    }

    #[test]
    fn a_teams_preset_is_the_default_the_user_may_change_unless_locked() {
        let user = Settings::from_form(&form("git.mine.test", "48")).unwrap();
        let team = Managed {
            github_hosts: Some(vec!["github.acme.test".into(), "*.bad".into()]),
            cookie_lifetime_hours: Some(8),
            cookie_name_pattern: Some(" team-*-pr ".into()),
            ..Managed::default()
        };
        let c = config(&Settings::default(), Some(&team));
        assert_eq!(c.github_hosts, ["github.com", "github.acme.test"]);
        assert_eq!(c.cookie_lifetime_secs, 8 * 3600);
        assert_eq!(c.cookie_name_pattern.as_deref(), Some("team-*-pr"));
        let c = config(&user, Some(&team));
        assert_eq!(
            c.github_hosts,
            ["github.com", "github.acme.test", "git.mine.test"]
        );
        assert_eq!(c.cookie_lifetime_secs, 48 * 3600, "the user's own lifetime");
        let locked = Managed {
            allow_user_override: Some(false),
            ..team.clone()
        };
        let c = config(&user, Some(&locked));
        assert_eq!(c.github_hosts, ["github.com", "github.acme.test"]);
        assert_eq!(c.cookie_lifetime_secs, 8 * 3600, "the team's, locked");
        assert_eq!(config(&user, None), user.config());
        // Locked, only what the team set is the team's: the user keeps the rest.
        let hours_only = Managed {
            cookie_lifetime_hours: Some(8),
            allow_user_override: Some(false),
            ..Managed::default()
        };
        let c = config(&user, Some(&hours_only));
        assert_eq!(c.github_hosts, ["github.com", "git.mine.test"]);
        assert_eq!(c.cookie_lifetime_secs, 8 * 3600);
    }

    #[test]
    fn the_options_page_shows_the_teams_values_and_locks_them_when_told() {
        let user = Settings::from_form(&form("git.mine.test", "48")).unwrap();
        let team = Managed {
            github_hosts: Some(vec!["github.acme.test".into()]),
            cookie_lifetime_hours: Some(8),
            cookie_name_pattern: Some("team-*-pr".into()),
            relay_url: Some("https://relay.corp.test".into()),
            ..Managed::default()
        };
        let v = options_view(&user, Some(&team));
        assert_eq!(
            v.github_hosts,
            FieldView {
                value: "git.mine.test".into(),
                placeholder: Some("github.acme.test".into()),
                locked: false
            }
        );
        assert_eq!(v.cookie_hours.value, "48");
        assert_eq!(
            v.team_note.as_ref().map(|n| n.render(english())).as_deref(),
            Some(
                "Set by your team: GitHub hosts github.acme.test; cookie lifetime 8 h; relay https://relay.corp.test; routing cookies named team-*-pr only. The fields it sets are defaults you may change."
            )
        );
        let locked = Managed {
            allow_user_override: Some(false),
            ..team
        };
        let v = options_view(&user, Some(&locked));
        for f in [&v.github_hosts, &v.cookie_hours, &v.relay] {
            assert!(f.locked, "{f:?}");
        }
        assert_eq!(v.github_hosts.value, "github.acme.test");
        assert_eq!(v.cookie_hours.value, "8");
        assert_eq!(v.relay.value, "https://relay.corp.test");
        assert!(
            v.team_note
                .unwrap()
                .render(english())
                .ends_with("Locked: the fields it sets cannot be changed here.")
        );
        assert_eq!(options_view(&user, None).team_note, None);
        // Saving a locked form keeps the user's own stored values, not the team's shown ones.
        let saved =
            Settings::from_form(&form(&v.github_hosts.value, &v.cookie_hours.value)).unwrap();
        assert_eq!(saved.keep_locked(&user, Some(&locked)), user);
    }

    /// A policy with one value of the wrong type keeps the others (a typo in one key must
    /// not drop the team's relay).
    #[test]
    fn a_policy_value_of_the_wrong_type_is_skipped_alone() {
        let read: Managed = serde_json::from_value(serde_json::json!({
            "relayUrl": "https://relay.corp.test",
            "githubHosts": "github.acme.test",
            "cookieLifetimeHours": "8",
            "allowUserOverride": "no",
            "somethingNew": 1,
        }))
        .unwrap();
        assert_eq!(
            read,
            Managed {
                relay_url: Some("https://relay.corp.test".into()),
                ..Managed::default()
            }
        );
        assert!(!read.locked());
    }

    /// The ribbon and the popup's leading mode: the user's choice, the team's preset as the
    /// default, the team's alone when locked; the options page shows the value that applies
    /// and locks it; a saved choice equal to the preset is not stored (it follows the team).
    #[test]
    fn page_marker_and_default_mode_follow_the_user_the_team_and_the_lock() {
        assert_eq!(Config::default().page_marker, PageMarker::Domain);
        assert_eq!(Config::default().default_mode, Mode::Tab);
        let user = Settings::from_form(&Form {
            page_marker: "always",
            default_mode: "domain",
            ..Form::default()
        })
        .unwrap();
        assert_eq!(user.page_marker, Some(PageMarker::Always));
        assert_eq!(user.default_mode, Some(Mode::Domain));
        let c = user.config();
        assert_eq!(
            (c.page_marker, c.default_mode),
            (PageMarker::Always, Mode::Domain)
        );
        let team = Managed {
            page_marker: Some(PageMarker::Off),
            default_mode: Some(Mode::Tab),
            ..Managed::default()
        };
        let c = config(&user, Some(&team));
        assert_eq!(
            (c.page_marker, c.default_mode),
            (PageMarker::Always, Mode::Domain),
            "the user's own"
        );
        let c = config(&Settings::default(), Some(&team));
        assert_eq!(
            (c.page_marker, c.default_mode),
            (PageMarker::Off, Mode::Tab),
            "the team's preset"
        );
        let v = options_view(&Settings::default(), Some(&team));
        assert_eq!(
            v.page_marker,
            FieldView {
                value: "off".into(),
                placeholder: None,
                locked: false
            }
        );
        assert_eq!(v.default_mode.value, "tab");
        assert_eq!(
            v.team_note.unwrap().render(english()),
            "Set by your team: page ribbon off; default mode this tab. The fields it sets are defaults you may change."
        );

        // Locked: the team's values apply and show, and saving keeps the user's stored ones.
        let locked = Managed {
            allow_user_override: Some(false),
            ..team.clone()
        };
        let c = config(&user, Some(&locked));
        assert_eq!(
            (c.page_marker, c.default_mode),
            (PageMarker::Off, Mode::Tab)
        );
        let v = options_view(&user, Some(&locked));
        assert_eq!(
            v.page_marker,
            FieldView {
                value: "off".into(),
                placeholder: None,
                locked: true
            }
        );
        assert_eq!(
            v.default_mode,
            FieldView {
                value: "tab".into(),
                placeholder: None,
                locked: true
            }
        );
        let shown = Settings::from_form(&Form {
            page_marker: &v.page_marker.value,
            default_mode: &v.default_mode.value,
            ..Form::default()
        })
        .unwrap();
        assert_eq!(shown.keep_locked(&user, Some(&locked)), user);

        // Unlocked, a choice equal to what applies anyway is not stored.
        let same_as_team = Settings::from_form(&Form {
            page_marker: "off",
            default_mode: "domain",
            ..Form::default()
        })
        .unwrap()
        .keep_locked(&Settings::default(), Some(&team));
        assert_eq!(
            (same_as_team.page_marker, same_as_team.default_mode),
            (None, Some(Mode::Domain))
        );
        let same_as_default = Settings::from_form(&Form {
            page_marker: "domain",
            default_mode: "tab",
            ..Form::default()
        })
        .unwrap()
        .keep_locked(&Settings::default(), None);
        assert_eq!(same_as_default, Settings::default());
    }

    #[test]
    fn a_choice_the_form_does_not_offer_is_refused_and_stored_odd_values_are_skipped() {
        let err = refused(&Form {
            page_marker: "sometimes",
            ..Form::default()
        });
        assert_eq!(
            err,
            "Not saved: \"sometimes\" is not one of the choices offered"
        );
        // Storage edited by hand: the odd value is skipped, the rest of the settings stay.
        let stored: Settings = serde_json::from_value(serde_json::json!({
            "github_hosts": ["git.mine.test"],
            "page_marker": "sometimes",
            "default_mode": 3,
        }))
        .unwrap();
        assert_eq!(stored.github_hosts, ["git.mine.test"]);
        assert_eq!((stored.page_marker, stored.default_mode), (None, None));
        let team: Managed = serde_json::from_value(serde_json::json!({
            "pageMarker": "never",
            "defaultMode": "domain",
        }))
        .unwrap();
        assert_eq!(
            (team.page_marker, team.default_mode),
            (None, Some(Mode::Domain))
        );
    }
}
