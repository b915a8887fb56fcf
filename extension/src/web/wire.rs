//! The native-messaging messages the extension sends, built from the companion's own types
//! (`protocol::messages`, PROTOCOL.md), and how an answer or event becomes a state
//! [`Event`]. Kept in one module so the rest of the glue never sees the wire shapes.

use protocol::Preview;
use protocol::messages::{ErrorReply, Request, RequestBody};

use crate::state::Event;

pub use protocol::messages::Reply;

pub fn list(id: u64, cursor: Option<String>) -> Request {
    Request {
        id,
        body: RequestBody::List { host: None, cursor },
    }
}

/// Fetch from Argo CD now (answers like `list`, first page).
pub fn refresh(id: u64) -> Request {
    Request {
        id,
        body: RequestBody::Refresh { host: None },
    }
}

pub fn subscribe(id: u64) -> Request {
    Request {
        id,
        body: RequestBody::Subscribe,
    }
}

/// The companion's error, in the words it chose (message and fix).
pub fn error_event(e: ErrorReply) -> Event {
    Event::CompanionError {
        code: e.error.code.as_str().to_owned(),
        message: e.error.message,
        fix: Some(e.error.fix).filter(|f| !f.is_empty()),
    }
}

/// A refresh that failed after a stale list was shown: its message and fix, in words.
pub fn refresh_failed(event: Event) -> Event {
    match event {
        Event::CompanionError { message, fix, .. } => Event::RefreshFailed { message, fix },
        Event::CompanionMissing { error } => Event::RefreshFailed {
            message: format!("the companion could not be started: {error}"),
            fix: Some("run preview-switch doctor".into()),
        },
        other => other,
    }
}

/// A message the extension cannot read: companion and extension disagree on the protocol.
pub fn unreadable(e: impl std::fmt::Display) -> Event {
    Event::CompanionError {
        code: "bad_response".into(),
        message: format!("the companion sent a message the extension cannot read: {e}"),
        fix: Some(
            "update the companion and the extension to the same version, then run preview-switch doctor"
                .into(),
        ),
    }
}

/// The pages of one `list`, joined.
pub struct Listed {
    pub previews: Vec<Preview>,
    /// The servers that failed in the fetch behind the list.
    pub failures: Vec<protocol::messages::ServerFailure>,
    pub age_ms: u64,
    pub fetched_at_ms: u64,
    pub stale: bool,
}
