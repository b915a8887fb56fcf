//! The settings a user may change (options page), as stored in `chrome.storage.local`
//! under `settings`, and how the options form is read: GitHub Enterprise hosts whose
//! `/<owner>/<repo>/pull/<n>` pages count as pull-request pages, the domain-mode cookie
//! lifetime and the share links' query parameter. Pure, tested
//! natively; `web` reads and writes the storage.

use serde::{Deserialize, Serialize};

use crate::i18n::Text;
use crate::state::Config;
use crate::text;
use protocol::policy::{self, KnownSuffixes};

/// The most a routing cookie may live: a month, so a forgotten one does not route forever.
pub const MAX_COOKIE_HOURS: u64 = 24 * 30;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    #[serde(default)]
    pub github_hosts: Vec<String>,
    #[serde(default)]
    pub cookie_lifetime_hours: Option<u64>,
    /// The share links' query parameter where the cluster's share rule names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_param: Option<String>,
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
        if let Some(param) = self
            .share_param
            .as_deref()
            .filter(|p| policy::check_share_param(p).is_ok())
        {
            config.share_param = param.to_string();
        }
        config
    }

    /// Reads the options form: hosts one per line (or separated by commas or spaces; an
    /// `https://` prefix or trailing `/` is tolerated), the lifetime in hours, the share
    /// parameter (empty: the default).
    pub fn from_form(form: &Form<'_>) -> Result<Settings, Text> {
        let Form {
            hosts,
            hours,
            share_param,
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
        Ok(Settings {
            github_hosts,
            cookie_lifetime_hours,
            share_param,
        })
    }
}

/// What the options form holds, as typed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<'a> {
    pub hosts: &'a str,
    pub hours: &'a str,
    pub share_param: &'a str,
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
        let said = |f: &Form<'_>| Settings::from_form(f).unwrap_err().render(english());
        let err = said(&form("github.acme.io/org", ""));
        assert!(err.contains("refused host"), "{err}");
        let err = said(&form("", "0"));
        assert!(err.contains("from 1 to 720"), "{err}");
        let err = said(&form("", "a day"));
        assert!(err.contains("\"a day\""), "{err}");
        let err = said(&Form {
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
            share_param: Some("a b".into()),
        };
        let config = s.config();
        assert_eq!(config.github_hosts, ["github.com", "ok.test"]);
        assert_eq!(
            config.cookie_lifetime_secs,
            Config::default().cookie_lifetime_secs
        );
        assert_eq!(config.share_param, policy::DEFAULT_SHARE_PARAM);
    }
}
