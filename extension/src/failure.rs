//! What can fail, typed. The companion's own errors arrive as
//! `protocol::messages::ErrorBody`: a PROTOCOL.md [`ErrorCode`], a message and a fix, which
//! the popup shows as sent (the companion says each once). The extension's own failures (the
//! companion not installed or stopped, a reply it cannot read, a browser call that failed)
//! are a [`LocalError`]: they have no wire code, because the companion never sends them.
//! Each says here what failed and the fix (as [`Text`], in the user's language), so `view`
//! only places the words. The companion's own words are English, shown as sent.

use protocol::install::InstallMethod;
use protocol::messages::{ErrorBody, ErrorCode, PROTOCOL_VERSION};

/// This extension's version: the workspace's, as the manifest's (a test in `lib.rs` checks).
pub const EXTENSION_VERSION: &str = env!("CARGO_PKG_VERSION");

use crate::i18n::Text;
use crate::text;

/// Why the companion gave no list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The companion answered with an error.
    Companion(ErrorBody),
    /// The extension could not reach or read the companion.
    Local(LocalError),
}

/// A failure on the extension's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalError {
    /// No native-messaging host manifest names this extension (which browser words mean
    /// this: [`LocalError::unreachable`]).
    NotInstalled { browser_said: String },
    /// The companion is installed but could not start, exited or crashed.
    Stopped { browser_said: String },
    /// A reply the extension cannot read: the two sides speak different protocol versions.
    Unreadable { detail: String },
    /// The companion's `hello` names another protocol version than this extension's
    /// ([`PROTOCOL_VERSION`]): asked after a list it could not serve or the extension could
    /// not read, so the user gets the upgrade for how the companion was installed.
    Mismatch {
        protocol: u32,
        companion_version: String,
        installed: Option<InstallMethod>,
    },
    /// A `chrome.*` call failed; `error` is the browser's message.
    Browser { call: BrowserCall, error: String },
    /// `chrome.cookies.set` answered without a cookie: the site's host permission is missing.
    CookieRefused { name: String, url: String },
    /// The team relay could not be reached, or answered something that is not its wire.
    Relay { url: String, detail: Text },
}

/// The `chrome.*` call a [`LocalError::Browser`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserCall {
    RememberList,
    RememberApplied,
    RememberAwaiting,
    ReadCookies {
        url: String,
    },
    ReadRules,
    SetCookie {
        name: String,
        url: String,
    },
    RemoveCookie {
        name: String,
        url: String,
    },
    AddRule,
    RemoveRules,
    RememberSeen,
    /// The services whose page ribbon the user hid in a tab.
    RememberHidden,
    SetBadge,
    SetTitle,
    Notify,
    OpenTab {
        url: String,
    },
    ReloadTab,
    /// Copying a share link to the clipboard.
    Copy,
}

/// Chromium's error when no host manifest allows the extension.
const CHROMIUM_HOST_NOT_FOUND: &str = "Specified native messaging host not found";
/// Firefox's, followed by the host name (also for a manifest that names another add-on:
/// installing again is the fix in both cases).
const FIREFOX_HOST_NOT_FOUND: &str = "No such native application";

impl LocalError {
    /// What the browser said when it could not reach the companion (a rejected
    /// `sendNativeMessage`, or why a port closed): not installed, or installed and failing.
    /// Pure, because the worker too must tell them apart: a team relay stands in for a
    /// companion that is not installed.
    pub fn unreachable(browser_said: &str) -> LocalError {
        let browser_said = browser_said.trim().trim_end_matches('.').to_string();
        if browser_said == CHROMIUM_HOST_NOT_FOUND
            || browser_said.starts_with(FIREFOX_HOST_NOT_FOUND)
        {
            LocalError::NotInstalled { browser_said }
        } else {
            LocalError::Stopped { browser_said }
        }
    }

    /// What failed and why, without the fix.
    pub fn message(&self) -> Text {
        match self {
            LocalError::NotInstalled { browser_said } | LocalError::Stopped { browser_said } => {
                text!("error_companion_not_started", browser_said)
            }
            LocalError::Unreadable { detail } => text!("error_unreadable", detail),
            LocalError::Mismatch {
                protocol,
                companion_version,
                ..
            } => {
                if *protocol < PROTOCOL_VERSION {
                    text!(
                        "error_companion_older",
                        companion_version,
                        protocol,
                        EXTENSION_VERSION,
                        PROTOCOL_VERSION
                    )
                } else {
                    text!(
                        "error_companion_newer",
                        companion_version,
                        protocol,
                        EXTENSION_VERSION,
                        PROTOCOL_VERSION
                    )
                }
            }
            LocalError::Browser { call, error } => {
                text!("error_browser_call", call.text(), error)
            }
            LocalError::CookieRefused { name, url } => text!("error_cookie_refused", name, url),
            LocalError::Relay { url, detail } => text!("error_relay", url, detail.clone()),
        }
    }

    /// What the user can do, when there is something.
    pub fn fix(&self) -> Option<Text> {
        if let LocalError::Mismatch {
            protocol,
            companion_version,
            installed,
        } = self
        {
            return Some(if *protocol > PROTOCOL_VERSION {
                text!("fix_update_extension", companion_version, EXTENSION_VERSION)
            } else {
                match (self.upgrade_command(), installed) {
                    (Some(_), Some(method)) => text!(
                        "fix_upgrade_companion",
                        EXTENSION_VERSION,
                        installed_by(method)
                    ),
                    _ => text!("fix_install_companion_again", EXTENSION_VERSION),
                }
            });
        }
        self.static_fix()
    }

    /// The one command that brings an older companion to this extension's version, for how
    /// it was installed (`None`: newer, or installed in a way nobody told us).
    pub fn upgrade_command(&self) -> Option<String> {
        match self {
            LocalError::Mismatch {
                protocol,
                installed: Some(method),
                ..
            } if *protocol < PROTOCOL_VERSION => method.upgrade_command(EXTENSION_VERSION),
            _ => None,
        }
    }

    fn static_fix(&self) -> Option<Text> {
        match self {
            LocalError::Mismatch { .. } => None,
            LocalError::NotInstalled { .. } | LocalError::Stopped { .. } => {
                Some(text!("fix_run_doctor"))
            }
            LocalError::Unreadable { .. } => Some(text!("fix_same_version")),
            LocalError::Browser {
                call: BrowserCall::SetCookie { .. },
                ..
            }
            | LocalError::CookieRefused { .. } => Some(text!("fix_allow_access")),
            LocalError::Relay { .. } => Some(text!("fix_check_relay")),
            LocalError::Browser { .. } => None,
        }
    }

    /// The message and its fix on one line, as the popup's message list shows it.
    pub fn text(&self) -> Text {
        with_fix(self.message(), self.fix())
    }
}

/// `message: fix`, or the message alone.
fn with_fix(message: Text, fix: Option<Text>) -> Text {
    match fix {
        Some(fix) => text!("with_fix", message, fix),
        None => message,
    }
}

/// How the companion was installed, in the user's words ("the Debian package").
fn installed_by(method: &InstallMethod) -> Text {
    match method {
        InstallMethod::Deb => text!("installed_by_deb"),
        InstallMethod::Tarball { platform } => text!("installed_by_tarball", platform),
        InstallMethod::Zip => text!("installed_by_zip"),
        InstallMethod::Cargo => text!("installed_by_cargo"),
        InstallMethod::Source { checkout, .. } => text!("installed_by_source", checkout),
        InstallMethod::Unknown => text!("installed_by_unknown"),
    }
}

impl BrowserCall {
    /// What the call was for, in the user's words.
    pub fn text(&self) -> Text {
        match self {
            BrowserCall::RememberList => text!("call_remember_list"),
            BrowserCall::RememberApplied => text!("call_remember_applied"),
            BrowserCall::RememberAwaiting => text!("call_remember_awaiting"),
            BrowserCall::RememberSeen => text!("call_remember_seen"),
            BrowserCall::RememberHidden => text!("call_remember_hidden"),
            BrowserCall::ReadCookies { url } => text!("call_read_cookies", url),
            BrowserCall::ReadRules => text!("call_read_rules"),
            BrowserCall::SetCookie { name, url } => text!("call_set_cookie", name, url),
            BrowserCall::RemoveCookie { name, url } => text!("call_remove_cookie", name, url),
            BrowserCall::AddRule => text!("call_add_rule"),
            BrowserCall::RemoveRules => text!("call_remove_rules"),
            BrowserCall::SetBadge => text!("call_set_badge"),
            BrowserCall::SetTitle => text!("call_set_title"),
            BrowserCall::Notify => text!("call_notify"),
            BrowserCall::OpenTab { url } => text!("call_open_tab", url),
            BrowserCall::ReloadTab => text!("call_reload_tab"),
            BrowserCall::Copy => text!("call_copy"),
        }
    }
}

impl Failure {
    /// The companion's code, for companion errors only.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Failure::Companion(body) => Some(body.code),
            Failure::Local(_) => None,
        }
    }

    /// What failed and why, without the fix; the companion's words as it sent them.
    pub fn message(&self) -> Text {
        match self {
            Failure::Companion(body) => Text::plain(&body.message),
            Failure::Local(e) => e.message(),
        }
    }

    /// The message and its fix on one line.
    pub fn text(&self) -> Text {
        with_fix(self.message(), self.fix())
    }

    /// What the user can do (`None` when nothing was said).
    pub fn fix(&self) -> Option<Text> {
        match self {
            Failure::Companion(body) => {
                Some(Text::plain(&body.fix)).filter(|_| !body.fix.trim().is_empty())
            }
            Failure::Local(e) => e.fix(),
        }
    }
}

impl From<LocalError> for Failure {
    fn from(e: LocalError) -> Self {
        Failure::Local(e)
    }
}

impl From<ErrorBody> for Failure {
    fn from(e: ErrorBody) -> Self {
        Failure::Companion(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::testing::english;

    /// Both browsers' words for "no companion installed" lead to the install command; anything
    /// else means an installed companion that failed (PLATFORM F: Firefox's texts, verified).
    #[test]
    fn each_browsers_words_for_a_missing_companion_mean_not_installed() {
        for said in [
            "Specified native messaging host not found.",
            "No such native application io.previewswitch.companion",
        ] {
            assert!(
                matches!(
                    LocalError::unreachable(said),
                    LocalError::NotInstalled { .. }
                ),
                "{said}"
            );
        }
        for said in [
            "Native host has exited.",
            "An unexpected error occurred",
            "Access to the specified native messaging host is forbidden.",
            "",
        ] {
            assert_eq!(
                LocalError::unreachable(said),
                LocalError::Stopped {
                    browser_said: said.trim_end_matches('.').into()
                }
            );
        }
    }

    #[test]
    fn a_companion_error_is_shown_as_sent_and_a_local_one_says_its_fix() {
        let en = english();
        let body = ErrorBody {
            code: ErrorCode::ArgocdUnauthorized,
            message: "token rejected by https://argocd.dev (401)".into(),
            fix: "run argocd login argocd.dev".into(),
        };
        let f = Failure::from(body);
        assert_eq!(f.code(), Some(ErrorCode::ArgocdUnauthorized));
        assert_eq!(
            f.message().render(en),
            "token rejected by https://argocd.dev (401)"
        );
        assert_eq!(
            f.fix().map(|t| t.render(en)).as_deref(),
            Some("run argocd login argocd.dev")
        );
        let empty = Failure::Companion(ErrorBody {
            code: ErrorCode::Unknown,
            message: "something new".into(),
            fix: " ".into(),
        });
        assert_eq!(empty.fix(), None, "an empty fix is not shown");

        let unreadable = Failure::from(LocalError::Unreadable {
            detail: "unknown variant `lits`".into(),
        });
        assert_eq!(unreadable.code(), None, "no invented wire code");
        assert_eq!(
            unreadable.message().render(en),
            "the companion sent a message the extension cannot read: unknown variant `lits`"
        );
        assert!(
            unreadable
                .fix()
                .unwrap()
                .render(en)
                .contains("same version")
        );
    }

    #[test]
    fn browser_failures_name_the_call_the_reason_and_the_fix() {
        let en = english();
        let e = LocalError::Browser {
            call: BrowserCall::SetCookie {
                name: "team-pr".into(),
                url: "https://app.test/".into(),
            },
            error: "No host permissions for cookies at url".into(),
        };
        assert_eq!(
            e.text().render(en),
            "could not set the cookie team-pr on https://app.test/: No host permissions for cookies at url: allow access to the site when asked"
        );
        let e = LocalError::Browser {
            call: BrowserCall::ReadRules,
            error: "boom".into(),
        };
        assert_eq!(
            e.text().render(en),
            "could not read this browser's tab routing rules: boom"
        );
        assert_eq!(
            LocalError::CookieRefused {
                name: "n".into(),
                url: "https://a.test/".into()
            }
            .text()
            .render(en),
            "could not set the cookie n on https://a.test/: the browser refused it: allow access to the site when asked"
        );
    }
}
