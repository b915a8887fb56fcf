//! Native-messaging requests, responses, events and error codes (PROTOCOL.md).
//!
//! Every frame is one JSON object with a `type`. Requests carry a numeric `id` that the
//! answer repeats, so several requests can be in flight on one `connectNative` port.
//! Events (`previews_changed`) carry no `id`; they name the subscription instead.
//! Unknown fields are ignored in both directions so either side can grow; renaming or
//! removing a field, or changing an [`ErrorCode`] string, is a breaking change.

use serde::{Deserialize, Serialize};

use crate::Preview;
use crate::envs::{DeepLink, Notification, ServiceEnvs};

/// Bumped on every incompatible change; `hello` exchanges it.
pub const PROTOCOL_VERSION: u32 = 1;

/// The largest frame body either side sends (Chrome's host→browser limit). The companion
/// also refuses inbound frames over this size with [`ErrorCode::FrameTooLarge`].
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// Capabilities a companion of this version announces in its `hello` answer.
pub const CAPABILITIES: &[&str] = &[
    "list",
    "paging",
    "refresh",
    "subscribe",
    "envs",
    "app_actions",
    "notifications",
];

/// A request from the extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Chosen by the extension, repeated in the answer.
    pub id: u64,
    #[serde(flatten)]
    pub body: RequestBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RequestBody {
    /// Handshake: the extension's protocol version; answered with [`HelloReply`].
    Hello {
        protocol: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        extension_version: Option<String>,
    },
    /// The previews, from the companion's last good result (answered at once), paged.
    List {
        /// Keep only previews with a route for this exact host.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
        /// `next_cursor` of the previous page; absent for the first page.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cursor: Option<String>,
    },
    /// Fetch from Argo CD now and answer like `list` (first page) with fresh data.
    Refresh {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
    /// Push `previews_changed` events on this port until `unsubscribe` or disconnect.
    Subscribe,
    Unsubscribe,
    /// The non-preview Applications of every server, per service and environment.
    Envs {
        /// Only this service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service: Option<String>,
        /// Fetch from Argo CD now instead of answering from the last result.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        refresh: bool,
    },
    /// `GET /api/v1/applications/{app}?refresh=normal` for a listed preview, with the
    /// user's own token; answered with [`AppActionReply`] once Argo CD has reconciled it.
    RefreshApp(AppRef),
    /// `POST /api/v1/applications/{app}/sync` for a listed preview (the extension asks
    /// the user first); answered with [`AppActionReply`] once the sync has started.
    SyncApp(AppRef),
    /// The admin-defined deep links of a listed preview or environment.
    AppLinks(AppRef),
    /// On a subscribed port: also watch these services' environments, so their deploys,
    /// failed syncs, degradations and paused rollouts arrive as `notification` events.
    /// Replaces the list given before; an empty list stops it.
    WatchEnvs {
        services: Vec<String>,
    },
}

/// Names one Application the companion listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppRef {
    /// The server's base URL (a preview's `server`).
    pub server: String,
    pub namespace: String,
    pub app: String,
}

impl RequestBody {
    /// The `type` strings a request may carry, for telling "unknown type" from "bad fields".
    pub const TYPES: &'static [&'static str] = &[
        "hello",
        "list",
        "refresh",
        "subscribe",
        "unsubscribe",
        "envs",
        "refresh_app",
        "sync_app",
        "app_links",
        "watch_envs",
    ];
}

/// A frame from the companion: an answer (with the request's `id`) or an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Hello(Box<HelloReply>),
    List(ListReply),
    Subscribed(Subscribed),
    Unsubscribed(Unsubscribed),
    PreviewsChanged(PreviewsChanged),
    Error(ErrorReply),
    Envs(EnvsReply),
    AppAction(Box<AppActionReply>),
    AppLinks(AppLinksReply),
    WatchingEnvs(WatchingEnvs),
    /// Event on a subscribed port (boxed: it is the largest frame type).
    Notification(Box<Notification>),
}

impl Reply {
    /// The `type` string of this frame.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Hello(_) => "hello",
            Reply::List(_) => "list",
            Reply::Subscribed(_) => "subscribed",
            Reply::Unsubscribed(_) => "unsubscribed",
            Reply::PreviewsChanged(_) => "previews_changed",
            Reply::Error(_) => "error",
            Reply::Envs(_) => "envs",
            Reply::AppAction(_) => "app_action",
            Reply::AppLinks(_) => "app_links",
            Reply::WatchingEnvs(_) => "watching_envs",
            Reply::Notification(_) => "notification",
        }
    }

    /// The id of the request this answers; `None` for events and unreadable requests.
    pub fn id(&self) -> Option<u64> {
        match self {
            Reply::Hello(r) => Some(r.id),
            Reply::List(r) => Some(r.id),
            Reply::Subscribed(r) => Some(r.id),
            Reply::Unsubscribed(r) => Some(r.id),
            Reply::Error(r) => r.id,
            Reply::Envs(r) => Some(r.id),
            Reply::AppAction(r) => Some(r.id),
            Reply::AppLinks(r) => Some(r.id),
            Reply::WatchingEnvs(r) => Some(r.id),
            Reply::PreviewsChanged(_) | Reply::Notification(_) => None,
        }
    }
}

/// The answer to `envs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvsReply {
    pub id: u64,
    /// Sorted by service; each service's environments in server order.
    pub services: Vec<ServiceEnvs>,
    /// Unix time in milliseconds when this data was fetched from Argo CD.
    pub fetched_at_ms: u64,
    /// `true` unless the data comes from a fetch that just succeeded.
    pub stale: bool,
    /// Servers that failed in that fetch; the others are still shown.
    #[serde(default)]
    pub failures: Vec<ServerFailure>,
    /// Services left out because the answer would not fit in one frame: ask for one
    /// `service` at a time.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a `refresh_app` or `sync_app` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppActionReply {
    pub id: u64,
    pub action: AppAction,
    pub server: String,
    pub namespace: String,
    pub app: String,
    /// The Application as Argo CD answered: after the refresh, or when the sync started.
    pub sync: Option<String>,
    pub health: Option<String>,
    /// The revision it runs (refresh) or is syncing to (sync), when known.
    pub revision: Option<String>,
    /// One line for people, e.g. `sync of courses-fe-pr-123 started`.
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AppAction {
    Refresh,
    Sync,
}

/// The answer to `app_links`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppLinksReply {
    pub id: u64,
    pub links: Vec<DeepLink>,
}

/// The answer to `watch_envs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchingEnvs {
    pub id: u64,
    pub services: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloReply {
    pub id: u64,
    /// The companion's [`PROTOCOL_VERSION`].
    pub protocol: u32,
    pub companion_version: String,
    pub capabilities: Vec<String>,
    /// The configured Argo CD servers; never a token.
    pub servers: Vec<ServerInfo>,
    /// How the companion was installed, which decides its upgrade command; absent from
    /// companions older than 0.1.0's rollout support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installed: Option<crate::install::InstallMethod>,
}

/// A configured Argo CD server as the extension may see it: no credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    /// The config server or `argocd` context name (a preview's `context`).
    pub name: String,
    pub url: String,
    pub selector: String,
}

/// One page of previews.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListReply {
    pub id: u64,
    pub previews: Vec<Preview>,
    /// Pass it as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// How many previews all pages hold together.
    pub total: u64,
    /// Unix time in milliseconds when this data was fetched from Argo CD.
    pub fetched_at_ms: u64,
    /// Milliseconds since `fetched_at_ms`, when the answer was sent.
    pub age_ms: u64,
    /// `true` unless the data comes from a fetch that just succeeded: show its age.
    pub stale: bool,
    /// A background refresh is running; subscribers get its changes as events.
    pub refreshing: bool,
    /// Servers that failed in the fetch that produced this data.
    #[serde(default)]
    pub failures: Vec<ServerFailure>,
}

/// One server that could not be listed; the other servers' previews are still shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFailure {
    pub server: String,
    #[serde(flatten)]
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscribed {
    pub id: u64,
    /// Events for this subscription carry this number (the `subscribe` request's id).
    pub subscription: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unsubscribed {
    pub id: u64,
}

/// Event: the previews changed since the last event (or since `subscribe`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewsChanged {
    pub subscription: u64,
    pub changes: Vec<Change>,
    /// When the data these changes lead to was fetched (unix ms).
    pub fetched_at_ms: u64,
    /// Servers that failed in that fetch.
    #[serde(default)]
    pub failures: Vec<ServerFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub change: ChangeKind,
    /// The new preview; for `deleted`, the last one known.
    pub preview: Preview,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// An answer that failed. `id` is `null` when the request's id could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    pub id: Option<u64>,
    #[serde(flatten)]
    pub error: ErrorBody,
}

/// A typed error: a stable code, what failed and why, and what the user can do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    pub fix: String,
}

/// Stable error codes. DO NOT MODIFY THE VALUES, always append new codes at the bottom
/// (and to the table in PROTOCOL.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame is not valid UTF-8 JSON.
    BadJson,
    /// Valid JSON, but not a request: not an object, no numeric `id`, fields of the wrong type.
    BadRequest,
    /// A `type` this companion does not know (the extension may be newer).
    UnknownType,
    /// An inbound frame over 1 MiB; it was skipped.
    FrameTooLarge,
    /// The browser launched the companion for an extension it is not installed for.
    OriginNotAllowed,
    /// No server configured, or the config file is broken.
    Config,
    /// Argo CD refused the token (401).
    ArgocdUnauthorized,
    /// Argo CD refused access (403).
    Forbidden,
    /// Argo CD could not be reached (DNS, refused, reset).
    ArgocdUnreachable,
    /// Certificate or TLS handshake failure.
    Tls,
    /// Argo CD did not answer in time.
    Timeout,
    /// Argo CD answered with something that is not the expected JSON, or an unexpected status.
    ArgocdBadResponse,
    /// A `list` cursor from data that has since been replaced: list again from the start.
    CursorExpired,
    /// A bug or a local failure (cache, I/O) in the companion.
    Internal,
    /// The preview or application named is not one the companion listed, or Argo CD says
    /// it does not exist (any more).
    NotFound,
    /// Argo CD refused an action (403) because the user's role lacks the permission the
    /// message names, e.g. `applications, sync`.
    PermissionMissing,
    /// Argo CD refused to start a sync for another reason: a sync window, the application
    /// being deleted, or another operation running.
    SyncRefused,
    /// The team relay needs the user to sign in (HTTP 401).
    Unauthenticated,
    /// The team relay refused a request over the client's limits (HTTP 429).
    RateLimited,
    /// The team relay has not listed every Argo CD server yet (HTTP 503).
    NotReady,
    /// A code from a newer companion; read `message` and `fix`.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The wire string, e.g. `argocd_unauthorized`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownType => "unknown_type",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::OriginNotAllowed => "origin_not_allowed",
            ErrorCode::Config => "config",
            ErrorCode::ArgocdUnauthorized => "argocd_unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::ArgocdUnreachable => "argocd_unreachable",
            ErrorCode::Tls => "tls",
            ErrorCode::Timeout => "timeout",
            ErrorCode::ArgocdBadResponse => "argocd_bad_response",
            ErrorCode::CursorExpired => "cursor_expired",
            ErrorCode::Internal => "internal",
            ErrorCode::NotFound => "not_found",
            ErrorCode::PermissionMissing => "permission_missing",
            ErrorCode::SyncRefused => "sync_refused",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::NotReady => "not_ready",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// Every code in table order (PROTOCOL.md), for tests and docs.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::BadJson,
        ErrorCode::BadRequest,
        ErrorCode::UnknownType,
        ErrorCode::FrameTooLarge,
        ErrorCode::OriginNotAllowed,
        ErrorCode::Config,
        ErrorCode::ArgocdUnauthorized,
        ErrorCode::Forbidden,
        ErrorCode::ArgocdUnreachable,
        ErrorCode::Tls,
        ErrorCode::Timeout,
        ErrorCode::ArgocdBadResponse,
        ErrorCode::CursorExpired,
        ErrorCode::Internal,
        ErrorCode::NotFound,
        ErrorCode::PermissionMissing,
        ErrorCode::SyncRefused,
        ErrorCode::Unauthenticated,
        ErrorCode::RateLimited,
        ErrorCode::NotReady,
    ];
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_strings_match_serde() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: ErrorCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *code);
        }
    }

    #[test]
    fn error_code_from_a_newer_companion_reads_as_unknown() {
        let code: ErrorCode = serde_json::from_str("\"quota_exceeded\"").unwrap();
        assert_eq!(code, ErrorCode::Unknown);
    }

    #[test]
    fn request_ignores_unknown_fields_and_defaults_optional_ones() {
        let r: Request = serde_json::from_str(r#"{"id":7,"type":"list","extra":true}"#).unwrap();
        assert_eq!(
            r,
            Request {
                id: 7,
                body: RequestBody::List {
                    host: None,
                    cursor: None
                }
            }
        );
    }
}
