//! The team relay's HTTP wire (`preview-switch serve`, PROTOCOL.md "Team relay"): the body
//! of `GET /v1/previews` and the data of the `previews_changed` events on `GET /v1/events`
//! (Server-Sent Events). The previews and change objects are the same types as the
//! native-messaging protocol's; an error answer is a [`crate::messages::ErrorBody`] with an HTTP status.
//! The companion writes these and the extension reads them.

use serde::{Deserialize, Serialize};

use crate::Preview;
use crate::messages::{Change, ServerFailure};

/// The preview list, optionally `?host=H` (only previews with a route for host H).
pub const PREVIEWS_PATH: &str = "/v1/previews";
/// The change stream (`text/event-stream`); send `Last-Event-ID` to resume after an event.
pub const EVENTS_PATH: &str = "/v1/events";
/// The SSE event name whose data is a [`RelayChanges`].
pub const PREVIEWS_CHANGED: &str = "previews_changed";
/// The SSE event sent instead of a replay when the `Last-Event-ID` is no longer known (too
/// old, or from before the relay restarted): read the list again, then follow on.
pub const RESET: &str = "reset";

/// The answer to `GET /v1/previews`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayList {
    pub previews: Vec<Preview>,
    /// Unix ms of the Argo CD list behind this data.
    pub fetched_at_ms: u64,
    /// Milliseconds since `fetched_at_ms`, when the answer was sent.
    pub age_ms: u64,
    /// `true` when the data may be behind Argo CD: a server failed (its previous previews
    /// are kept) or a server's watch is not open, so changes may not arrive at once.
    pub stale: bool,
    /// Servers that failed in the fetch behind this data; their messages are the relay's.
    #[serde(default)]
    pub failures: Vec<ServerFailure>,
    /// The id of the last event this list already includes: give it as `Last-Event-ID` to
    /// `/v1/events` to receive exactly the changes after it.
    pub last_event_id: String,
}

/// The data of one `previews_changed` event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RelayChanges {
    pub changes: Vec<Change>,
    /// Unix ms of the Argo CD list these changes lead to.
    pub fetched_at_ms: u64,
    #[serde(default)]
    pub failures: Vec<ServerFailure>,
}
