//! What can fail, typed. The companion's own errors arrive as
//! `protocol::messages::ErrorBody`: a PROTOCOL.md [`ErrorCode`], a message and a fix, which
//! the popup shows as sent (the companion says each once). The extension's own failures (the
//! companion not installed or stopped, a reply it cannot read, a browser call that failed)
//! are a [`LocalError`]: they have no wire code, because the companion never sends them.
//! Each says here what failed and the fix (as [`Text`], in the user's language), so `view`
//! only places the words. The companion's own words are English, shown as sent.

use protocol::messages::{ErrorBody, ErrorCode};

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
    /// this: `web::browser::unreachable`).
    NotInstalled { browser_said: String },
    /// The companion is installed but could not start, exited or crashed.
    Stopped { browser_said: String },
    /// A reply the extension cannot read: the two sides speak different protocol versions.
    Unreadable { detail: String },
    /// A `chrome.*` call failed; `error` is the browser's message.
    Browser { call: BrowserCall, error: String },
    /// `chrome.cookies.set` answered without a cookie: the site's host permission is missing.
    CookieRefused { name: String, url: String },
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

impl LocalError {
    /// What failed and why, without the fix.
    pub fn message(&self) -> Text {
        match self {
            LocalError::NotInstalled { browser_said } | LocalError::Stopped { browser_said } => {
                text!("error_companion_not_started", browser_said)
            }
            LocalError::Unreadable { detail } => text!("error_unreadable", detail),
            LocalError::Browser { call, error } => {
                text!("error_browser_call", call.text(), error)
            }
            LocalError::CookieRefused { name, url } => text!("error_cookie_refused", name, url),
        }
    }

    /// What the user can do, when there is something.
    pub fn fix(&self) -> Option<Text> {
        match self {
            LocalError::NotInstalled { .. } | LocalError::Stopped { .. } => {
                Some(text!("fix_run_doctor"))
            }
            LocalError::Unreadable { .. } => Some(text!("fix_same_version")),
            LocalError::Browser {
                call: BrowserCall::SetCookie { .. },
                ..
            }
            | LocalError::CookieRefused { .. } => Some(text!("fix_allow_access")),
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

impl BrowserCall {
    /// What the call was for, in the user's words.
    pub fn text(&self) -> Text {
        match self {
            BrowserCall::RememberList => text!("call_remember_list"),
            BrowserCall::RememberApplied => text!("call_remember_applied"),
            BrowserCall::RememberAwaiting => text!("call_remember_awaiting"),
            BrowserCall::RememberSeen => text!("call_remember_seen"),
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
