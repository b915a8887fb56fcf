//! What can fail, typed. The companion's own errors arrive as
//! `protocol::messages::ErrorBody`: a PROTOCOL.md [`ErrorCode`], a message and a fix, which
//! the popup shows as sent (the companion says each once). The extension's own failures (the
//! companion not installed or stopped, a reply it cannot read, a browser call that failed)
//! are a [`LocalError`]: they have no wire code, because the companion never sends them.
//! Each says here what failed and the fix, so `view` only places the words.

use std::fmt;

use protocol::install::InstallMethod;
use protocol::messages::{ErrorBody, ErrorCode, PROTOCOL_VERSION};

/// This extension's version: the workspace's, as the manifest's (a test in `lib.rs` checks).
pub const EXTENSION_VERSION: &str = env!("CARGO_PKG_VERSION");

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
    Relay { url: String, detail: String },
}

/// The `chrome.*` call a [`LocalError::Browser`] names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserCall {
    RememberList,
    RememberApplied,
    RememberAwaiting,
    ReadCookies { url: String },
    ReadRules,
    SetCookie { name: String, url: String },
    RemoveCookie { name: String, url: String },
    AddRule,
    RemoveRules,
    SetBadge,
    SetTitle,
    Notify,
    OpenTab { url: String },
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
    pub fn message(&self) -> String {
        match self {
            LocalError::NotInstalled { browser_said } | LocalError::Stopped { browser_said } => {
                format!("the companion could not be started: {browser_said}")
            }
            LocalError::Unreadable { detail } => {
                format!("the companion sent a message the extension cannot read: {detail}")
            }
            LocalError::Mismatch {
                protocol,
                companion_version,
                ..
            } => {
                let (side, verb) = if *protocol < PROTOCOL_VERSION {
                    ("older than", "needs")
                } else {
                    ("newer than", "understands")
                };
                format!(
                    "the companion (preview-switch {companion_version}, protocol {protocol}) is {side} this extension {EXTENSION_VERSION} {verb} (protocol {PROTOCOL_VERSION})"
                )
            }
            LocalError::Browser { call, error } => format!("{call}: {error}"),
            LocalError::CookieRefused { name, url } => {
                format!("could not set the cookie {name} on {url}: the browser refused it")
            }
            LocalError::Relay { url, detail } => {
                format!("the team relay at {url} gave no list: {detail}")
            }
        }
    }

    /// What the user can do, when there is something.
    pub fn fix(&self) -> Option<String> {
        if let LocalError::Mismatch {
            protocol,
            companion_version,
            installed,
        } = self
        {
            return Some(if *protocol > PROTOCOL_VERSION {
                format!(
                    "update this extension to {companion_version} (or install preview-switch {EXTENSION_VERSION} again), then reopen this popup"
                )
            } else {
                match self.upgrade_command() {
                    Some(_) => format!(
                        "upgrade the companion to {EXTENSION_VERSION} the way it was installed ({}), then reopen this popup:",
                        installed
                            .as_ref()
                            .map_or_else(String::new, InstallMethod::describe)
                    ),
                    None => format!(
                        "install preview-switch {EXTENSION_VERSION} the way you installed it (the package, the tarball's install.sh or make install), then reopen this popup"
                    ),
                }
            });
        }
        self.static_fix().map(str::to_string)
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

    fn static_fix(&self) -> Option<&'static str> {
        match self {
            LocalError::Mismatch { .. } => None,
            LocalError::NotInstalled { .. } | LocalError::Stopped { .. } => {
                Some("run preview-switch doctor")
            }
            LocalError::Unreadable { .. } => Some(
                "update the companion and the extension to the same version, then run preview-switch doctor",
            ),
            LocalError::Browser {
                call: BrowserCall::SetCookie { .. },
                ..
            }
            | LocalError::CookieRefused { .. } => Some("allow access to the site when asked"),
            LocalError::Relay { .. } => Some(
                "check the relay address in the extension's options and that you are signed in to it, or ask your team whether the relay is up",
            ),
            LocalError::Browser { .. } => None,
        }
    }
}

/// The message and its fix on one line, as the popup's message list shows it.
impl fmt::Display for LocalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fix() {
            Some(fix) => write!(f, "{}: {fix}", self.message()),
            None => f.write_str(&self.message()),
        }
    }
}

impl fmt::Display for BrowserCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BrowserCall::RememberList => f.write_str("could not remember the preview list"),
            BrowserCall::RememberApplied => f.write_str("could not remember the cookies set"),
            BrowserCall::RememberAwaiting => {
                f.write_str("could not remember the choice waiting for access")
            }
            BrowserCall::ReadCookies { url } => write!(f, "could not read the cookies of {url}"),
            BrowserCall::ReadRules => {
                f.write_str("could not read this browser's tab routing rules")
            }
            BrowserCall::SetCookie { name, url } => {
                write!(f, "could not set the cookie {name} on {url}")
            }
            BrowserCall::RemoveCookie { name, url } => {
                write!(f, "could not remove the cookie {name} from {url}")
            }
            BrowserCall::AddRule => f.write_str("could not add the tab routing rule"),
            BrowserCall::RemoveRules => f.write_str("could not remove a tab routing rule"),
            BrowserCall::SetBadge => f.write_str("could not set the badge"),
            BrowserCall::SetTitle => f.write_str("could not set the toolbar title"),
            BrowserCall::Notify => f.write_str("could not show a notification"),
            BrowserCall::OpenTab { url } => write!(f, "could not open {url}"),
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

    /// What failed and why, without the fix.
    pub fn message(&self) -> String {
        match self {
            Failure::Companion(body) => body.message.clone(),
            Failure::Local(e) => e.message(),
        }
    }

    /// What the user can do (`None` when nothing was said).
    pub fn fix(&self) -> Option<String> {
        match self {
            Failure::Companion(body) => Some(body.fix.clone()).filter(|f| !f.trim().is_empty()),
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
        let body = ErrorBody {
            code: ErrorCode::ArgocdUnauthorized,
            message: "token rejected by https://argocd.dev (401)".into(),
            fix: "run argocd login argocd.dev".into(),
        };
        let f = Failure::from(body);
        assert_eq!(f.code(), Some(ErrorCode::ArgocdUnauthorized));
        assert_eq!(f.message(), "token rejected by https://argocd.dev (401)");
        assert_eq!(f.fix().as_deref(), Some("run argocd login argocd.dev"));
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
            unreadable.message(),
            "the companion sent a message the extension cannot read: unknown variant `lits`"
        );
        assert!(unreadable.fix().unwrap().contains("same version"));
    }

    #[test]
    fn browser_failures_name_the_call_the_reason_and_the_fix() {
        let e = LocalError::Browser {
            call: BrowserCall::SetCookie {
                name: "team-pr".into(),
                url: "https://app.test/".into(),
            },
            error: "No host permissions for cookies at url".into(),
        };
        assert_eq!(
            e.to_string(),
            "could not set the cookie team-pr on https://app.test/: No host permissions for cookies at url: allow access to the site when asked"
        );
        let e = LocalError::Browser {
            call: BrowserCall::ReadRules,
            error: "boom".into(),
        };
        assert_eq!(
            e.to_string(),
            "could not read this browser's tab routing rules: boom"
        );
        assert_eq!(
            LocalError::CookieRefused {
                name: "n".into(),
                url: "https://a.test/".into()
            }
            .to_string(),
            "could not set the cookie n on https://a.test/: the browser refused it: allow access to the site when asked"
        );
    }
}
