//! The settings a user may change (options page), as stored in `chrome.storage.local`
//! under `settings`, and how the options form is read: GitHub Enterprise hosts whose
//! `/<owner>/<repo>/pull/<n>` pages count as pull-request pages, and the domain-mode
//! cookie lifetime. Pure, tested natively; `web` reads and writes the storage.

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

    /// Reads the options form: hosts one per line (or separated by commas or spaces; an
    /// `https://` prefix or trailing `/` is tolerated) and the lifetime in hours.
    pub fn from_form(hosts: &str, hours: &str) -> Result<Settings, String> {
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
        Ok(Settings {
            github_hosts,
            cookie_lifetime_hours,
        })
    }
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
        let err = Settings::from_form("github.acme.io/org", "").unwrap_err();
        assert!(err.contains("refused host"), "{err}");
        let err = Settings::from_form("", "0").unwrap_err();
        assert!(err.contains("from 1 to 720"), "{err}");
        let err = Settings::from_form("", "a day").unwrap_err();
        assert!(err.contains("\"a day\""), "{err}");
        assert_eq!(Settings::from_form("", "").unwrap(), Settings::default());
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
        };
        let config = s.config();
        assert_eq!(config.github_hosts, ["github.com", "ok.test"]);
        assert_eq!(
            config.cookie_lifetime_secs,
            Config::default().cookie_lifetime_secs
        );
    }
}
