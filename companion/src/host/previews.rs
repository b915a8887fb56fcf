//! The live listing, independent of any transport: the last good [`Snapshot`] (memory and
//! disk cache), one fetch at a time with re-runs coalesced, the per-server watches that
//! trigger re-lists, the diff between two snapshots, and per-server statistics. The
//! native-messaging host ([`super::serve`]) and the team relay (`crate::relay`) each hold
//! one [`Previews`] and only translate it to their wire: one implementation, two transports.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::StreamExt;
use futures_util::future::{BoxFuture, FutureExt, Shared};
use protocol::Preview;
use protocol::messages::{Change, ChangeKind, ErrorBody, ErrorCode, ServerFailure, ServerInfo};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::cache::{self, Snapshot};
use super::source::{Fetched, Source};

/// How the listing is kept; the host's and the relay's defaults differ only in the cache.
#[derive(Debug, Clone)]
pub struct PreviewsOptions {
    /// Where the listing cache lives; `None` keeps it in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Upper bound for one fetch over all servers (each server also has its own timeout).
    pub fetch_timeout: Duration,
    /// Data younger than this is answered as not stale and not refreshed on `list`.
    pub fresh_for: Duration,
    /// First and longest wait before reopening a broken watch.
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

/// The result of one fetch (or the reason none could be made).
pub type Outcome = Result<Arc<Snapshot>, ErrorBody>;

/// How many past snapshots stay reachable (the host's `list` cursors name them).
const HISTORY: usize = 4;

/// Where one server's watch stands, for `/metrics` and the relay's `stale` flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WatchState {
    /// No watch was started (the host before its first `subscribe`).
    #[default]
    Idle,
    /// Asking Argo CD to open the stream.
    Connecting,
    /// The stream is open: a change reaches us as it happens.
    Open,
    /// The stream broke or could not be opened; waiting before the next try.
    Backoff,
}

impl WatchState {
    pub fn as_str(self) -> &'static str {
        match self {
            WatchState::Idle => "idle",
            WatchState::Connecting => "connecting",
            WatchState::Open => "open",
            WatchState::Backoff => "backoff",
        }
    }
}

/// What happened to one configured server so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerStats {
    pub watch: WatchState,
    /// Fetches that asked this server (each one lists it once).
    pub lists: u64,
    /// Fetches in which this server failed, plus watches that broke or could not open.
    pub errors: u64,
    /// Unix ms of the last fetch in which this server answered.
    pub last_success_ms: Option<u64>,
    /// The last failure, `None` once the server answers again.
    pub last_error: Option<ErrorBody>,
}

/// The live listing over one [`Source`]; shared (`Arc`) by every request and connection.
pub struct Previews<S> {
    source: S,
    opts: PreviewsOptions,
    servers: Vec<ServerInfo>,
    cache_file: Option<PathBuf>,
    current: watch::Sender<Option<Arc<Snapshot>>>,
    history: Mutex<VecDeque<Arc<Snapshot>>>,
    inflight: Mutex<Option<Shared<BoxFuture<'static, Outcome>>>>,
    /// A change was signalled while a fetch was running: fetch again when it ends.
    rerun: AtomicBool,
    stats: Mutex<Vec<ServerStats>>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl<S: Source> Previews<S> {
    /// The listing, seeded from the disk cache when there is one.
    pub fn new(source: S, opts: PreviewsOptions) -> Arc<Self> {
        let servers = source.servers();
        let cache_file = opts
            .cache_dir
            .as_deref()
            .map(|dir| cache::file_for(dir, &servers));
        let cached = cache_file.as_deref().and_then(cache::load).map(Arc::new);
        let history = cached.iter().cloned().collect();
        let stats = vec![ServerStats::default(); servers.len()];
        Arc::new(Previews {
            source,
            opts,
            servers,
            cache_file,
            current: watch::Sender::new(cached),
            history: Mutex::new(history),
            inflight: Mutex::new(None),
            rerun: AtomicBool::new(false),
            stats: Mutex::new(stats),
        })
    }

    /// Where the listing is cached on disk, if anywhere (other caches go beside it).
    pub fn cache_file(&self) -> Option<&std::path::Path> {
        self.cache_file.as_deref()
    }

    /// The source it lists from, for what else a transport asks of the same servers.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// The configured servers; never a token.
    pub fn servers(&self) -> &[ServerInfo] {
        &self.servers
    }

    /// The last good snapshot, if any fetch (or the cache) produced one.
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.borrow().clone()
    }

    /// Notified of every new snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Option<Arc<Snapshot>>> {
        self.current.subscribe()
    }

    /// A recent snapshot by its fetch time (the host's cursors).
    pub fn recent(&self, fetched_at_ms: u64) -> Option<Arc<Snapshot>> {
        let history = self.history.lock().expect("lock");
        history
            .iter()
            .rev()
            .find(|s| s.fetched_at_ms == fetched_at_ms)
            .cloned()
    }

    /// Per configured server, in [`Previews::servers`] order.
    pub fn stats(&self) -> Vec<ServerStats> {
        self.stats.lock().expect("lock").clone()
    }

    /// Older than `fresh_for`, or holding a failed server's previous previews.
    pub fn is_stale(&self, snap: &Snapshot) -> bool {
        snap.kept_previous
            || now_ms().saturating_sub(snap.fetched_at_ms)
                >= u64::try_from(self.opts.fresh_for.as_millis()).unwrap_or(u64::MAX)
    }

    /// A fetch is running.
    pub fn refreshing(&self) -> bool {
        self.inflight.lock().expect("lock").is_some()
    }

    /// The running fetch, if any (to let it reach the cache before exiting).
    pub fn running(&self) -> Option<Shared<BoxFuture<'static, Outcome>>> {
        self.inflight.lock().expect("lock").clone()
    }

    /// Starts a fetch unless one is running, and returns a handle on it. With `again`, a
    /// running fetch (which may have started before the change being signalled) is
    /// followed by another one.
    pub fn refresh(self: &Arc<Self>, again: bool) -> Shared<BoxFuture<'static, Outcome>> {
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
                        let failures: Vec<ServerFailure> = self
                            .servers
                            .iter()
                            .map(|s| ServerFailure {
                                server: s.url.clone(),
                                error: error.clone(),
                            })
                            .collect();
                        // With earlier data, the overall bound running out is every server
                        // failing: keep that data, marked stale, with the timeout beside it
                        // (found by the fault table under load).
                        if self.current.borrow().is_some() {
                            Ok(self.absorb(Fetched {
                                previews: Vec::new(),
                                failures,
                            }))
                        } else {
                            self.count(&failures);
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

    /// One fetch's effect on the per-server statistics.
    fn count(&self, failures: &[ServerFailure]) {
        let now = now_ms();
        let mut stats = self.stats.lock().expect("lock");
        for (server, stat) in self.servers.iter().zip(stats.iter_mut()) {
            stat.lists += 1;
            match failures
                .iter()
                .find(|f| same_server(&f.server, &server.url))
            {
                Some(failure) => {
                    stat.errors += 1;
                    stat.last_error = Some(failure.error.clone());
                }
                None => {
                    stat.last_success_ms = Some(now);
                    stat.last_error = None;
                }
            }
        }
    }

    /// Turns a fetch into the new current snapshot. Previews of a server that failed this
    /// time are kept from the previous snapshot (and the result marked stale), so a network
    /// blip never reads as "all previews deleted".
    fn absorb(&self, fetched: Fetched) -> Arc<Snapshot> {
        self.count(&fetched.failures);
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
            while history.len() > HISTORY {
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

    /// Starts one watch per configured server; dropping (or aborting) the set stops them.
    pub fn watch_all(self: &Arc<Self>) -> JoinSet<()> {
        let mut watchers = JoinSet::new();
        for index in 0..self.servers.len() {
            watchers.spawn(self.clone().watch_server(index));
        }
        watchers
    }

    fn set_watch(&self, index: usize, state: WatchState, error: Option<&ErrorBody>) {
        if let Some(stat) = self.stats.lock().expect("lock").get_mut(index) {
            stat.watch = state;
            if let Some(e) = error {
                stat.errors += 1;
                stat.last_error = Some(e.clone());
            }
        }
    }

    /// Keeps one server's change feed open: every change triggers a re-list; a broken feed
    /// is reopened after a growing pause, with a re-list for what happened meanwhile.
    async fn watch_server(self: Arc<Self>, index: usize) {
        // Back to idle when the watch is dropped (the host's subscription ended).
        struct Idle<'a, S: Source>(&'a Previews<S>, usize);
        impl<S: Source> Drop for Idle<'_, S> {
            fn drop(&mut self) {
                self.0.set_watch(self.1, WatchState::Idle, None);
            }
        }
        let _idle = Idle(&self, index);
        let mut backoff = self.opts.backoff_min;
        loop {
            self.set_watch(index, WatchState::Connecting, None);
            match self.source.watch(index).await {
                Ok(mut feed) => {
                    self.set_watch(index, WatchState::Open, None);
                    while let Some(item) = feed.next().await {
                        match item {
                            Ok(()) => {
                                backoff = self.opts.backoff_min;
                                drop(self.refresh(true));
                            }
                            Err(e) => {
                                tracing::warn!("watch of server {index} broke: {}", e.message);
                                self.set_watch(index, WatchState::Backoff, Some(&e));
                                break;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!("cannot watch server {index}: {}", e.message);
                    self.set_watch(index, WatchState::Backoff, Some(&e));
                }
            }
            self.set_watch(index, WatchState::Backoff, None);
            let started = Instant::now();
            tokio::time::sleep(backoff).await;
            tracing::debug!("reopening watch {index} after {:?}", started.elapsed());
            backoff = (backoff * 2).min(self.opts.backoff_max);
            drop(self.refresh(true));
        }
    }
}

pub fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

/// What changed from `old` to `new`, keyed by (server, namespace, app).
pub fn diff(old: Option<&Snapshot>, new: &Snapshot) -> Vec<Change> {
    let key = |p: &Preview| (p.server.clone(), p.namespace.clone(), p.app.clone());
    let old_map: HashMap<_, &Preview> = old
        .map(|s| s.previews.iter().map(|p| (key(p), p)).collect())
        .unwrap_or_default();
    let mut seen = HashSet::new();
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
