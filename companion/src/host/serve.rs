//! The host loop: reads frames, answers requests concurrently (one task per request, one
//! writer task so frames never interleave), keeps the last good listing (memory + disk
//! cache) and refreshes it in the background, answers `list` a page at a time
//! ([`super::paging`]), and pushes `previews_changed` events to subscribers. Generic over the stream and the
//! [`Source`], so tests run it over `tokio::io::duplex` with a fake source.

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use protocol::Preview;
use protocol::messages::{
    AppAction, CAPABILITIES, Change, ChangeKind, ErrorBody, ErrorCode, ErrorReply, HelloReply,
    ListReply, MAX_FRAME_BYTES, PROTOCOL_VERSION, PreviewsChanged, Reply, Request, RequestBody,
    ServerInfo, Subscribed, Unsubscribed,
};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio::task::{AbortHandle, JoinSet};

use super::cache::{self, Snapshot};
use super::framing::{Inbound, read_frame, write_frame};
use super::paging::{self, Cursor, PageError};
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

type Outcome = Result<Arc<Snapshot>, ErrorBody>;

/// How many past snapshots keep serving `list` cursors after a refresh replaced them.
const CURSOR_HISTORY: usize = 4;

/// State shared by every request of one host process.
struct Host<S> {
    source: S,
    opts: HostOptions,
    servers: Vec<ServerInfo>,
    cache_file: Option<PathBuf>,
    current: watch::Sender<Option<Arc<Snapshot>>>,
    history: Mutex<VecDeque<Arc<Snapshot>>>,
    inflight: Mutex<Option<Shared<BoxFuture<'static, Outcome>>>>,
    /// A change was signalled while a fetch was running: fetch again when it ends.
    rerun: AtomicBool,
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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
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
    let inflight = host.inflight.lock().expect("lock").clone();
    if let Some(refresh) = inflight {
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
        let servers = source.servers();
        let cache_file = opts
            .cache_dir
            .as_deref()
            .map(|dir| cache::file_for(dir, &servers));
        let cached = cache_file.as_deref().and_then(cache::load).map(Arc::new);
        let history = cached.iter().cloned().collect();
        let extra = envs::Extra::new(cache_file.as_deref());
        Arc::new(Host {
            source,
            opts,
            servers,
            cache_file,
            current: watch::Sender::new(cached),
            history: Mutex::new(history),
            inflight: Mutex::new(None),
            rerun: AtomicBool::new(false),
            extra,
        })
    }

    fn is_stale(&self, snap: &Snapshot) -> bool {
        snap.kept_previous
            || now_ms().saturating_sub(snap.fetched_at_ms)
                >= u64::try_from(self.opts.fresh_for.as_millis()).unwrap_or(u64::MAX)
    }

    /// Starts a fetch unless one is running, and returns a handle on it. With `again`, a
    /// running fetch (which may have started before the change being signalled) is
    /// followed by another one.
    fn refresh(self: &Arc<Self>, again: bool) -> Shared<BoxFuture<'static, Outcome>> {
        let mut inflight = self.inflight.lock().expect("lock");
        if let Some(running) = &*inflight {
            if again {
                self.rerun.store(true, Ordering::SeqCst);
            }
            return running.clone();
        }
        let me = self.clone();
        let fut = async move { me.fetch_loop().await }.boxed().shared();
        *inflight = Some(fut.clone());
        // Drive it even when nobody waits (a background refresh).
        tokio::spawn(fut.clone());
        fut
    }

    async fn fetch_loop(self: Arc<Self>) -> Outcome {
        loop {
            let outcome =
                match tokio::time::timeout(self.opts.fetch_timeout, self.source.fetch()).await {
                    Ok(fetched) => Ok(self.absorb(fetched)),
                    Err(_) => {
                        let error = ErrorBody {
                            code: ErrorCode::Timeout,
                            message: format!(
                                "Argo CD did not answer within {} s",
                                self.opts.fetch_timeout.as_secs_f64()
                            ),
                            fix: "check your network/VPN, or raise the timeout in config.toml"
                                .to_owned(),
                        };
                        // With earlier data, the overall bound running out is every server
                        // failing: keep that data, marked stale, with the timeout beside it
                        // (found by the fault table under load).
                        if self.current.borrow().is_some() {
                            let failures = self
                                .servers
                                .iter()
                                .map(|s| protocol::messages::ServerFailure {
                                    server: s.url.clone(),
                                    error: error.clone(),
                                })
                                .collect();
                            Ok(self.absorb(super::source::Fetched {
                                previews: Vec::new(),
                                failures,
                            }))
                        } else {
                            Err(error)
                        }
                    }
                };
            let mut inflight = self.inflight.lock().expect("lock");
            if self.rerun.swap(false, Ordering::SeqCst) {
                continue;
            }
            *inflight = None;
            return outcome;
        }
    }

    /// Turns a fetch into the new current snapshot. Previews of a server that failed this
    /// time are kept from the previous snapshot (and the result marked stale), so a network
    /// blip never reads as "all previews deleted".
    fn absorb(&self, fetched: super::source::Fetched) -> Arc<Snapshot> {
        let previous = self.current.borrow().clone();
        let mut previews = fetched.previews;
        let mut kept_previous = false;
        if let Some(prev) = &previous {
            if !fetched.failures.is_empty() && fetched.failures.len() >= self.servers.len() {
                // Every server failed: keep the whole previous result, with its own age.
                let snap = Arc::new(Snapshot {
                    fetched_at_ms: prev.fetched_at_ms,
                    previews: prev.previews.clone(),
                    failures: fetched.failures,
                    kept_previous: !prev.previews.is_empty(),
                });
                self.publish(snap.clone());
                return snap;
            }
            let kept: Vec<Preview> = prev
                .previews
                .iter()
                .filter(|p| {
                    fetched
                        .failures
                        .iter()
                        .any(|f| same_server(&f.server, &p.server))
                })
                .cloned()
                .collect();
            if !kept.is_empty() {
                kept_previous = true;
                previews.extend(kept);
                previews.sort_by(|a, b| {
                    (&a.service, a.pr, &a.server).cmp(&(&b.service, b.pr, &b.server))
                });
            }
        }
        let snap = Arc::new(Snapshot {
            fetched_at_ms: now_ms(),
            previews,
            failures: fetched.failures,
            kept_previous,
        });
        self.publish(snap.clone());
        snap
    }

    fn publish(&self, snap: Arc<Snapshot>) {
        {
            let mut history = self.history.lock().expect("lock");
            history.push_back(snap.clone());
            while history.len() > CURSOR_HISTORY {
                history.pop_front();
            }
        }
        if let Some(path) = &self.cache_file
            && let Err(e) = cache::store(path, &snap)
        {
            tracing::warn!("cannot write the listing cache {}: {e}", path.display());
        }
        self.current.send_replace(Some(snap));
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
                    servers: self.servers.clone(),
                    installed: self.opts.installed.clone(),
                }))
            }
            RequestBody::List { host, cursor } => self.list(id, host, cursor).await,
            RequestBody::Refresh { host } => match self.refresh(false).await {
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
            let found = Cursor::parse(&cursor).and_then(|c| {
                let history = self.history.lock().expect("lock");
                history
                    .iter()
                    .rev()
                    .find(|s| s.fetched_at_ms == c.fetched_at_ms)
                    .cloned()
                    .map(|s| (s, c.offset))
            });
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
        let current = self.current.borrow().clone();
        let snap = match current {
            Some(snap) => {
                if self.is_stale(&snap) {
                    drop(self.refresh(false));
                }
                snap
            }
            // No data yet: wait for the first fetch.
            None => match self.refresh(false).await {
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
            stale: self.is_stale(snap),
            refreshing: self.inflight.lock().expect("lock").is_some(),
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
        let mut rx = self.current.subscribe();
        let mut baseline = rx.borrow_and_update().clone();
        let mut watchers = JoinSet::new();
        for index in 0..self.servers.len() {
            watchers.spawn(self.clone().watch_server(index));
        }
        if baseline.as_deref().is_none_or(|s| self.is_stale(s)) {
            drop(self.refresh(false));
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

    /// Keeps one server's change feed open: every change triggers a re-list; a broken feed
    /// is reopened after a growing pause, with a re-list for what happened meanwhile.
    async fn watch_server(self: Arc<Self>, index: usize) {
        let mut backoff = self.opts.backoff_min;
        loop {
            match self.source.watch(index).await {
                Ok(mut feed) => {
                    while let Some(item) = feed.next().await {
                        match item {
                            Ok(()) => {
                                backoff = self.opts.backoff_min;
                                drop(self.refresh(true));
                            }
                            Err(e) => {
                                tracing::warn!("watch of server {index} broke: {}", e.message);
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("cannot watch server {index}: {}", e.message),
            }
            let started = Instant::now();
            tokio::time::sleep(backoff).await;
            tracing::debug!("reopening watch {index} after {:?}", started.elapsed());
            backoff = (backoff * 2).min(self.opts.backoff_max);
            drop(self.refresh(true));
        }
    }
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// What changed from `old` to `new`, keyed by (server, namespace, app).
fn diff(old: Option<&Snapshot>, new: &Snapshot) -> Vec<Change> {
    let key = |p: &Preview| (p.server.clone(), p.namespace.clone(), p.app.clone());
    let old_map: HashMap<_, &Preview> = old
        .map(|s| s.previews.iter().map(|p| (key(p), p)).collect())
        .unwrap_or_default();
    let mut seen = std::collections::HashSet::new();
    let mut changes = Vec::new();
    for p in &new.previews {
        let k = key(p);
        match old_map.get(&k) {
            None => changes.push(Change {
                change: ChangeKind::Added,
                preview: p.clone(),
            }),
            Some(before) if *before != p => changes.push(Change {
                change: ChangeKind::Modified,
                preview: p.clone(),
            }),
            Some(_) => {}
        }
        seen.insert(k);
    }
    if let Some(old) = old {
        for p in &old.previews {
            if !seen.contains(&key(p)) {
                changes.push(Change {
                    change: ChangeKind::Deleted,
                    preview: p.clone(),
                });
            }
        }
    }
    changes
}

mod envs;
#[cfg(test)]
mod tests;
