//! The host loop: reads frames, answers requests concurrently (one task per request, one
//! writer task so frames never interleave), keeps the last good listing (memory + disk
//! cache) and refreshes it in the background, answers `list` a page at a time
//! ([`super::paging`]), and pushes `previews_changed` events to subscribers. Generic over the stream and the
//! [`Source`], so tests run it over `tokio::io::duplex` with a fake source.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::Preview;
use protocol::messages::{
    AppAction, CAPABILITIES, ErrorBody, ErrorCode, ErrorReply, HelloReply, ListReply,
    MAX_FRAME_BYTES, PROTOCOL_VERSION, PreviewsChanged, Reply, Request, RequestBody, Subscribed,
    Unsubscribed,
};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinSet};

use super::cache::{self, Snapshot};
use super::framing::{Inbound, read_frame, write_frame};
use super::paging::{self, Cursor, PageError};
use super::previews::{Previews, PreviewsOptions, diff, now_ms};
use super::source::Source;
use super::{AllowedOrigins, Caller};

/// Tunables; [`HostOptions::default`] is what the real host uses.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// Where the listing cache lives; `None` keeps it in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Upper bound for one fetch over all servers (each server also has its own timeout).
    pub fetch_timeout: Duration,
    /// Data younger than this is answered as not stale and not refreshed on `list`.
    pub fresh_for: Duration,
    /// After stdin closes, how long a running background refresh may take to reach the cache.
    pub eof_grace: Duration,
    /// First and longest wait before reopening a broken watch.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub allowed: AllowedOrigins,
    /// How this binary was installed, for `hello` (`crate::installed::current`); `None`
    /// leaves it out.
    pub installed: Option<protocol::install::InstallMethod>,
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            cache_dir: cache::default_dir(),
            fetch_timeout: Duration::from_secs(30),
            fresh_for: Duration::from_secs(10),
            eof_grace: Duration::from_millis(1500),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            allowed: AllowedOrigins::default(),
            installed: None,
        }
    }
}

impl HostOptions {
    /// The defaults, with the fetch bound set just above the slowest server's own timeout.
    pub fn for_targets(targets: &[crate::server::ServerTarget]) -> HostOptions {
        let slowest = targets.iter().map(|t| t.timeout).max();
        HostOptions {
            fetch_timeout: slowest.map_or(Duration::from_secs(30), |t| t + Duration::from_secs(2)),
            ..HostOptions::default()
        }
    }
}

/// Why [`run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The browser closed stdin between frames: the normal end.
    Eof,
    /// Stdin ended inside a frame: the browser went away mid-write.
    Truncated,
    /// A length no browser sends (over 64 MiB): the stream cannot be resynchronised.
    Garbage,
    /// Reading stdin failed.
    ReadError,
}

/// State shared by every request of one host process.
struct Host<S> {
    live: Arc<Previews<S>>,
    opts: HostOptions,
    /// Environments and notifications (`envs`).
    extra: envs::Extra,
}

/// One connection's writer and subscription.
struct Port {
    tx: mpsc::Sender<Vec<u8>>,
    subscription: Mutex<Option<Subscription>>,
    /// The `watch_envs` task of this port.
    envs_watch: Mutex<Option<AbortHandle>>,
}

struct Subscription {
    /// The `subscribe` request's id, named by every event.
    id: u64,
    /// The task pushing events; `None` for the moment between claiming and starting it.
    task: Option<AbortHandle>,
}

impl Port {
    /// Serialises and queues one frame. A reply that would break the frame cap becomes an
    /// `internal` error instead (callers page, so this is a bug guard).
    async fn send(&self, reply: &Reply) -> bool {
        send_on(&self.tx, reply).await
    }

    fn stop_subscription(&self) {
        envs::stop(&self.envs_watch);
        let sub = self.subscription.lock().expect("lock").take();
        if let Some(task) = sub.and_then(|s| s.task) {
            task.abort();
        }
    }
}

async fn send_on(tx: &mpsc::Sender<Vec<u8>>, reply: &Reply) -> bool {
    let mut body = serde_json::to_vec(reply).expect("replies always serialise");
    if body.len() > MAX_FRAME_BYTES {
        tracing::error!("dropping a {} byte reply over the frame cap", body.len());
        let id = reply.id();
        body = serde_json::to_vec(&error_reply(
            id,
            ErrorCode::Internal,
            "the answer did not fit in one 1 MiB frame".to_owned(),
            "report this bug with the host log",
        ))
        .expect("serialise");
    }
    tx.send(body).await.is_ok()
}

fn error_reply(id: Option<u64>, code: ErrorCode, message: String, fix: &str) -> Reply {
    Reply::Error(ErrorReply {
        id,
        error: ErrorBody {
            code,
            message,
            fix: fix.to_owned(),
        },
    })
}

/// Serves one native-messaging connection until the reader ends.
pub async fn run<R, W, S>(
    mut reader: R,
    writer: W,
    caller: Option<Caller>,
    source: S,
    opts: HostOptions,
) -> Ending
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
    S: Source,
{
    let refusal = caller
        .as_ref()
        .filter(|c| !opts.allowed.permits(c))
        .map(|c| c.to_string());
    if let Some(origin) = &refusal {
        tracing::warn!("refusing to serve {origin}: not an allowed extension");
    }
    let eof_grace = opts.eof_grace;
    let host = Host::new(source, opts);
    let (tx, rx) = mpsc::channel::<Vec<u8>>(64);
    let writer_task = tokio::spawn(write_loop(writer, rx));
    let port = Arc::new(Port {
        tx,
        subscription: Mutex::new(None),
        envs_watch: Mutex::new(None),
    });
    let mut tasks = JoinSet::new();

    let ending = loop {
        let inbound = match read_frame(&mut reader).await {
            Ok(inbound) => inbound,
            Err(e) => {
                tracing::error!("reading stdin failed: {e}");
                break Ending::ReadError;
            }
        };
        match inbound {
            Inbound::Frame(body) => {
                if let Some(origin) = &refusal {
                    let reply = error_reply(
                        peek_id(&body),
                        ErrorCode::OriginNotAllowed,
                        format!("preview-switch is not installed for {origin}"),
                        "run `preview-switch install --extension-id <this extension's id>`",
                    );
                    port.send(&reply).await;
                    continue;
                }
                match parse_request(&body) {
                    Ok(request) => {
                        tasks.spawn(host.clone().handle(request, port.clone()));
                    }
                    Err(reply) => {
                        port.send(&reply).await;
                    }
                }
            }
            Inbound::Skipped { len } => {
                port.send(&too_large(len)).await;
            }
            Inbound::Garbage { len } => {
                tracing::error!("frame length {len} is not from a browser; closing");
                port.send(&too_large(len)).await;
                break Ending::Garbage;
            }
            Inbound::Eof => break Ending::Eof,
            Inbound::Truncated => {
                tracing::warn!("stdin ended inside a frame");
                break Ending::Truncated;
            }
        }
        while tasks.try_join_next().is_some() {}
    };

    port.stop_subscription();
    // Requests already read still get their answer: a one-shot caller may close stdin right
    // after writing. Each is bounded by the fetch timeout.
    while tasks.join_next().await.is_some() {}
    // Let a background refresh reach the disk cache, so the next process answers fresher.
    if let Some(refresh) = host.live.running() {
        let _ = tokio::time::timeout(eof_grace, refresh).await;
    }
    drop(port);
    drop(host);
    if tokio::time::timeout(Duration::from_secs(2), writer_task)
        .await
        .is_err()
    {
        tracing::warn!("stdout writer did not finish in time");
    }
    ending
}

async fn write_loop<W: AsyncWrite + Unpin>(mut writer: W, mut rx: mpsc::Receiver<Vec<u8>>) {
    while let Some(frame) = rx.recv().await {
        if let Err(e) = write_frame(&mut writer, &frame).await {
            tracing::warn!("writing to stdout failed: {e}");
            return;
        }
    }
}

fn too_large(len: usize) -> Reply {
    error_reply(
        None,
        ErrorCode::FrameTooLarge,
        format!("a {len} byte request exceeds the 1 MiB limit and was skipped"),
        "send smaller requests; requests are small JSON objects",
    )
}

/// The request's `id`, when the frame is JSON with a numeric one.
fn peek_id(body: &[u8]) -> Option<u64> {
    serde_json::from_slice::<Value>(body)
        .ok()?
        .get("id")?
        .as_u64()
}

/// Frame body → request, or the error answer naming what is wrong with it. Public for the
/// fuzz target (`fuzz/fuzz_targets/request_parser.rs`).
pub fn parse_request(body: &[u8]) -> Result<Request, Reply> {
    let text = std::str::from_utf8(body).map_err(|e| {
        error_reply(
            None,
            ErrorCode::BadJson,
            format!("the request is not UTF-8: {e}"),
            "send UTF-8 JSON",
        )
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        error_reply(
            None,
            ErrorCode::BadJson,
            format!("the request is not JSON: {e}"),
            "send one JSON object per frame",
        )
    })?;
    let bad = |id, message: String| {
        error_reply(
            id,
            ErrorCode::BadRequest,
            message,
            "see PROTOCOL.md for the request format",
        )
    };
    let Value::Object(map) = &value else {
        return Err(bad(None, "the request is not a JSON object".to_owned()));
    };
    let id = match map.get("id") {
        Some(v) => v.as_u64().ok_or_else(|| {
            bad(
                None,
                format!("the request id must be an integer from 0 to 2^64-1, got {v}"),
            )
        })?,
        None => return Err(bad(None, "the request has no id".to_owned())),
    };
    let kind = match map.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(other) => {
            return Err(bad(
                Some(id),
                format!("the request type must be a string, got {other}"),
            ));
        }
        None => return Err(bad(Some(id), "the request has no type".to_owned())),
    };
    if !RequestBody::TYPES.contains(&kind.as_str()) {
        return Err(error_reply(
            Some(id),
            ErrorCode::UnknownType,
            format!("unknown request type {kind:?}"),
            "update preview-switch: the extension is newer than the companion",
        ));
    }
    // From the text, not the `Value`: a `Value` keeps only the last of two equal keys, so
    // `{"type":"list","type":"refresh"}` would be read one way here and another way by any
    // parser that keeps the first. Duplicate fields are refused instead (found by fuzzing).
    let request = serde_json::from_str::<Request>(text)
        .map_err(|e| bad(Some(id), format!("bad fields in the {kind} request: {e}")))?;
    // The host filter names the tab's host: a wildcard, range, URL or control character
    // cannot be one, so it is refused rather than silently matching nothing.
    if let RequestBody::List { host: Some(h), .. } | RequestBody::Refresh { host: Some(h) } =
        &request.body
        && let Err(why) = crate::core::cookie::validate_host(h)
    {
        return Err(bad(
            Some(id),
            format!("the host filter is not one exact host name: {why}"),
        ));
    }
    Ok(request)
}

impl<S: Source> Host<S> {
    fn new(source: S, opts: HostOptions) -> Arc<Self> {
        let live = Previews::new(
            source,
            PreviewsOptions {
                cache_dir: opts.cache_dir.clone(),
                fetch_timeout: opts.fetch_timeout,
                fresh_for: opts.fresh_for,
                backoff_min: opts.backoff_min,
                backoff_max: opts.backoff_max,
            },
        );
        let extra = envs::Extra::new(live.cache_file());
        Arc::new(Host { live, opts, extra })
    }

    async fn handle(self: Arc<Self>, request: Request, port: Arc<Port>) {
        let id = request.id;
        let reply = match request.body {
            RequestBody::Hello { protocol, .. } => {
                if protocol != PROTOCOL_VERSION {
                    tracing::warn!(
                        "extension speaks protocol {protocol}, companion {PROTOCOL_VERSION}"
                    );
                }
                Reply::Hello(Box::new(HelloReply {
                    id,
                    protocol: PROTOCOL_VERSION,
                    companion_version: env!("CARGO_PKG_VERSION").to_owned(),
                    capabilities: CAPABILITIES.iter().map(|c| (*c).to_owned()).collect(),
                    servers: self.live.servers().to_vec(),
                    installed: self.opts.installed.clone(),
                }))
            }
            RequestBody::List { host, cursor } => self.list(id, host, cursor).await,
            RequestBody::Refresh { host } => match self.live.refresh(false).await {
                Ok(snap) => self.answer(id, &snap, host.as_deref(), 0),
                Err(error) => Reply::Error(ErrorReply {
                    id: Some(id),
                    error,
                }),
            },
            RequestBody::Subscribe => {
                // Claim the port's one subscription slot before any await, so two
                // concurrent `subscribe`s agree on one subscription.
                let existing = {
                    let mut slot = port.subscription.lock().expect("lock");
                    match &*slot {
                        Some(sub) => Some(sub.id),
                        None => {
                            *slot = Some(Subscription { id, task: None });
                            None
                        }
                    }
                };
                if let Some(subscription) = existing {
                    Reply::Subscribed(Subscribed { id, subscription })
                } else {
                    // Queue the answer before the task can queue its first event.
                    port.send(&Reply::Subscribed(Subscribed {
                        id,
                        subscription: id,
                    }))
                    .await;
                    let task = tokio::spawn(self.clone().subscription(id, port.tx.clone()));
                    let mut slot = port.subscription.lock().expect("lock");
                    match &mut *slot {
                        Some(sub) if sub.id == id => sub.task = Some(task.abort_handle()),
                        // Unsubscribed (or disconnected) while the answer was queued.
                        _ => task.abort(),
                    }
                    return;
                }
            }
            RequestBody::Unsubscribe => {
                port.stop_subscription();
                Reply::Unsubscribed(Unsubscribed { id })
            }
            RequestBody::Envs { service, refresh } => self.envs(id, service, refresh).await,
            RequestBody::RefreshApp(app) => self.act(id, app, AppAction::Refresh).await,
            RequestBody::SyncApp(app) => self.act(id, app, AppAction::Sync).await,
            RequestBody::AppLinks(app) => self.app_links(id, app).await,
            RequestBody::WatchEnvs { services } => self.watch_envs(id, services, &port),
        };
        port.send(&reply).await;
    }

    async fn list(
        self: &Arc<Self>,
        id: u64,
        host: Option<String>,
        cursor: Option<String>,
    ) -> Reply {
        if let Some(cursor) = cursor {
            let found = Cursor::parse(&cursor)
                .and_then(|c| self.live.recent(c.fetched_at_ms).map(|s| (s, c.offset)));
            return match found {
                Some((snap, offset)) => self.answer(id, &snap, host.as_deref(), offset),
                None => error_reply(
                    Some(id),
                    ErrorCode::CursorExpired,
                    format!("the list behind cursor {cursor:?} has been replaced by newer data"),
                    "list again without a cursor",
                ),
            };
        }
        let snap = match self.live.current() {
            Some(snap) => {
                if self.live.is_stale(&snap) {
                    drop(self.live.refresh(false));
                }
                snap
            }
            // No data yet: wait for the first fetch.
            None => match self.live.refresh(false).await {
                Ok(snap) => snap,
                Err(error) => {
                    return Reply::Error(ErrorReply {
                        id: Some(id),
                        error,
                    });
                }
            },
        };
        self.answer(id, &snap, host.as_deref(), 0)
    }

    /// One page of `snap` from `offset`, as large as fits in a frame.
    fn answer(&self, id: u64, snap: &Snapshot, host: Option<&str>, offset: usize) -> Reply {
        // Nothing to show and a reason: the popup shows the error and its fix.
        if snap.previews.is_empty()
            && let Some(first) = snap.failures.first()
        {
            return Reply::Error(ErrorReply {
                id: Some(id),
                error: first.error.clone(),
            });
        }
        let matching: Vec<&Preview> = snap
            .previews
            .iter()
            .filter(|p| host.is_none_or(|h| p.routes_host(h)))
            .collect();
        let reply = ListReply {
            id,
            previews: Vec::new(),
            next_cursor: None,
            total: matching.len() as u64,
            fetched_at_ms: snap.fetched_at_ms,
            age_ms: now_ms().saturating_sub(snap.fetched_at_ms),
            stale: self.live.is_stale(snap),
            refreshing: self.live.refreshing(),
            failures: snap.failures.clone(),
        };
        match paging::page(reply, &matching, offset) {
            Ok(page) => Reply::List(page),
            Err(PageError::PastEnd { offset }) => error_reply(
                Some(id),
                ErrorCode::CursorExpired,
                format!("cursor offset {offset} is past the end of the list"),
                "list again without a cursor",
            ),
        }
    }

    /// Pushes the changes of every new snapshot to one port; runs the watches that cause
    /// new snapshots. Aborting it (unsubscribe, disconnect) drops the watches too.
    async fn subscription(self: Arc<Self>, subscription: u64, tx: mpsc::Sender<Vec<u8>>) {
        let mut rx = self.live.subscribe();
        let mut baseline = rx.borrow_and_update().clone();
        let _watchers = self.live.watch_all();
        if baseline.as_deref().is_none_or(|s| self.live.is_stale(s)) {
            drop(self.live.refresh(false));
        }
        while rx.changed().await.is_ok() {
            let Some(new) = rx.borrow_and_update().clone() else {
                continue;
            };
            let changes = diff(baseline.as_deref(), &new);
            let failures_changed = baseline
                .as_deref()
                .is_none_or(|b| b.failures != new.failures);
            baseline = Some(new.clone());
            if changes.is_empty() && !failures_changed {
                continue;
            }
            let observed = changes.clone();
            for chunk in paging::chunk_changes(changes, &new) {
                if !send_on(
                    &tx,
                    &Reply::PreviewsChanged(PreviewsChanged {
                        subscription,
                        changes: chunk,
                        fetched_at_ms: new.fetched_at_ms,
                        failures: new.failures.clone(),
                    }),
                )
                .await
                {
                    return;
                }
            }
            if !self.notify_previews(subscription, &observed, &tx).await {
                return;
            }
        }
    }
}

mod envs;
#[cfg(test)]
mod tests;
