//! The native-messaging messages the extension sends, built from the companion's own types
//! (`protocol::messages`, PROTOCOL.md), and how an answer or event becomes a state
//! [`Event`]. Kept in one module so the rest of the glue never sees the wire shapes.

use protocol::Preview;
use protocol::messages::{Request, RequestBody};

use crate::failure::{Failure, LocalError};

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

/// A message the extension cannot read: companion and extension disagree on the protocol.
pub fn unreadable(e: impl std::fmt::Display) -> Failure {
    LocalError::Unreadable {
        detail: e.to_string(),
    }
    .into()
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
