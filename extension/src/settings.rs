//! The settings a user may change (options page), as stored in `chrome.storage.local`
//! under `settings`, and how the options form is read: GitHub Enterprise hosts whose
//! `/<owner>/<repo>/pull/<n>` pages count as pull-request pages, the domain-mode cookie
//! lifetime, and the team relay's address. Also the settings a team presets through
//! policy ([`Managed`], `chrome.storage.managed`). Pure, tested natively; `web` reads and
//! writes the storage.

use serde::{Deserialize, Serialize};

use crate::state::Config;
use protocol::policy::{self, KnownSuffixes};

/// The most a routing cookie may live: a month, so a forgotten one does not route forever.
pub const MAX_COOKIE_HOURS: u64 = 24 * 30;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub github_hosts: Vec<String>,
    #[serde(default)]
    pub cookie_lifetime_hours: Option<u64>,
    /// The team relay to read the list from instead of the local companion.
    #[serde(default)]
    pub relay_url: Option<String>,
}

/// What a team presets by policy (`chrome.storage.managed`; Chrome's
/// `3rdparty.extensions.<id>`, Firefox's `3rdparty.Extensions.<id>`). Its key names are the
/// managed-storage schema's (README "Team relay").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Managed {
    /// The team relay, used when this browser has no local companion.
    #[serde(default, rename = "relayUrl")]
    pub relay_url: Option<String>,
}

/// The managed-storage key of [`Managed::relay_url`].
pub const MANAGED_RELAY_URL: &str = "relayUrl";

impl Managed {
    /// The preset relay, when it is a relay address (policy is trusted no more than storage).
    pub fn relay(&self) -> Option<String> {
        check_relay_url(self.relay_url.as_deref()?).ok()
    }
}

/// A relay address: `http(s)://host[:port][/base/path]`, returned without a trailing slash.
/// Plain http is accepted for a relay on a private network or on this machine.
pub fn check_relay_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim().trim_end_matches('/');
    let refuse = |why: &str| Err(format!("not saved: the relay address {raw:?} {why}"));
    let Some((scheme, rest)) = raw.split_once("://") else {
        return refuse("does not start with https://");
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return refuse("is not an http or https address");
    }
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if path.contains(['?', '#', '\\', ' ']) || path.split('/').any(|s| s == ".." || s == ".") {
        return refuse("has a query, fragment or odd path: give the relay's base address");
    }
    if authority.contains('@') {
        return refuse("holds a user name or password: sign in through the relay instead");
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if port.is_some_and(|p| p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit())) {
        return refuse("has a port that is not a number");
    }
    let host = policy::check_host(host, &KnownSuffixes)
        .map_err(|why| format!("not saved: refused host: {why}"))?;
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
    /// The state's configuration: the defaults plus what was set. A stored value that does
    /// not pass the form's checks (edited by hand) is skipped, not trusted.
    pub fn config(&self) -> Config {
        let mut config = Config::default();
        for h in &self.github_hosts {
            if let Ok(h) = policy::check_host(h, &KnownSuffixes)
                && !config.github_hosts.contains(&h)
            {
                config.github_hosts.push(h);
            }
        }
        if let Some(hours) = self
            .cookie_lifetime_hours
            .filter(|h| (1..=MAX_COOKIE_HOURS).contains(h))
        {
            config.cookie_lifetime_secs = hours * 60 * 60;
        }
        config
    }

    /// The relay the user set, checked (storage may have been edited by hand).
    pub fn relay(&self) -> Option<String> {
        check_relay_url(self.relay_url.as_deref()?).ok()
    }

    /// Reads the options form: hosts one per line (or separated by commas or spaces; an
    /// `https://` prefix or trailing `/` is tolerated), the lifetime in hours, and the relay
    /// address (empty: the local companion).
    pub fn from_form(hosts: &str, hours: &str, relay: &str) -> Result<Settings, String> {
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
                .map_err(|why| format!("not saved: refused host: {why}"))?;
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
                    return Err(format!(
                        "not saved: the cookie lifetime {hours:?} is not a whole number of hours from 1 to {MAX_COOKIE_HOURS}"
                    ));
                }
            }
        };
        let relay_url = match relay.trim() {
            "" => None,
            raw => Some(check_relay_url(raw)?),
        };
        Ok(Settings {
            github_hosts,
            cookie_lifetime_hours,
            relay_url,
        })
    }
}

/// What the options page says when the relay's host access was not granted.
pub fn relay_access_refused(access: &str) -> String {
    format!(
        "not saved: the extension needs access to {access} to read the team relay; allow it when asked"
    )
}

/// What the options page says once the browser stored the settings, or refused to
/// (`Err`: the browser's words).
pub fn save_outcome(saved: Result<(), String>) -> String {
    match saved {
        Ok(()) => "Saved: reopen the popup to use them".into(),
        Err(e) => format!("not saved: the browser refused to store the settings: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_accepts_hosts_as_people_paste_them() {
        let s = Settings::from_form(
            "GitHub.Acme.io\nhttps://git.corp.test/, github.acme.io\n\n",
            " 48 ",
            "",
        )
        .unwrap();
        assert_eq!(s.github_hosts, ["github.acme.io", "git.corp.test"]);
        assert_eq!(s.cookie_lifetime_hours, Some(48));
        let config = s.config();
        assert_eq!(
            config.github_hosts,
            ["github.com", "github.acme.io", "git.corp.test"]
        );
        assert_eq!(config.cookie_lifetime_secs, 48 * 3600);
    }

    #[test]
    fn the_form_refuses_what_is_not_a_host_or_a_lifetime() {
        let err = Settings::from_form("github.acme.io/org", "", "").unwrap_err();
        assert!(err.contains("refused host"), "{err}");
        let err = Settings::from_form("", "0", "").unwrap_err();
        assert!(err.contains("from 1 to 720"), "{err}");
        let err = Settings::from_form("", "a day", "").unwrap_err();
        assert!(err.contains("\"a day\""), "{err}");
        assert_eq!(
            Settings::from_form("", "", "").unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn saving_says_what_happened() {
        assert!(save_outcome(Ok(())).starts_with("Saved"));
        assert_eq!(
            save_outcome(Err("QUOTA_BYTES quota exceeded".into())),
            "not saved: the browser refused to store the settings: QUOTA_BYTES quota exceeded"
        );
    }

    #[test]
    fn hand_edited_storage_is_not_trusted() {
        let s = Settings {
            github_hosts: vec!["*.evil".into(), "ok.test".into()],
            cookie_lifetime_hours: Some(100_000),
            relay_url: Some("relay.corp.test".into()),
        };
        let config = s.config();
        assert_eq!(config.github_hosts, ["github.com", "ok.test"]);
        assert_eq!(
            config.cookie_lifetime_secs,
            Config::default().cookie_lifetime_secs
        );
        assert_eq!(s.relay(), None, "no scheme: not a relay address");
    }

    #[test]
    fn the_relay_address_is_a_plain_http_or_https_base_url() {
        let s = Settings::from_form("", "", " HTTPS://Relay.Corp.test:8443/previews/ ").unwrap();
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
            let err = Settings::from_form("", "", bad).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
        assert!(
            relay_access_refused("https://relay.corp.test/*").contains("https://relay.corp.test/*")
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
        let keys: Vec<&String> = schema["properties"].as_object().unwrap().keys().collect();
        assert_eq!(keys, [MANAGED_RELAY_URL], "every key is one Managed reads");
        let preset: Managed = serde_json::from_value(
            serde_json::json!({ MANAGED_RELAY_URL: "https://relay.corp.test/" }),
        )
        .unwrap();
        assert_eq!(preset.relay().as_deref(), Some("https://relay.corp.test"));
    }
}
