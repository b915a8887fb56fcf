//! `GET /v1/events`: the change stream. One publisher task turns each new snapshot of the
//! shared listing into at most one `previews_changed` event (the native host's diff, the
//! same change objects), numbers it `<relay start ms>-<seq>`, keeps the last
//! [`KEPT`] events and fans each out to every client as one prebuilt SSE event. A client
//! that sends `Last-Event-ID` gets the events after it replayed, then the live ones; an id
//! the relay no longer holds (too old, or from before a restart) gets a `reset` event
//! instead: read `/v1/previews` again. A client too slow to keep up is disconnected, so it
//! reconnects with its last id rather than skipping changes silently.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive};
use futures_util::stream::{self, Stream, StreamExt};
use protocol::relay::{PREVIEWS_CHANGED, RESET, RelayChanges};
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

use super::Live;
use crate::host::cache::Snapshot;
use crate::host::previews::{diff, now_ms};

/// Events kept for clients that reconnect.
pub const KEPT: usize = 1024;
/// Events a client may fall behind before it is disconnected.
const BACKLOG: usize = 256;
/// A comment line this often keeps proxies from closing an idle stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The snapshot the relay serves, and the id of the last event it includes.
#[derive(Debug, Clone)]
pub struct Published {
    pub snapshot: Arc<Snapshot>,
    pub last_event_id: String,
}

#[derive(Debug, Clone)]
struct Logged {
    seq: u64,
    event: Event,
}

#[derive(Debug)]
struct Log {
    /// The last event's number (0: none yet).
    seq: u64,
    recent: VecDeque<Logged>,
}

/// The numbered events and the snapshot they lead to.
#[derive(Debug)]
pub struct EventLog {
    /// The relay's start time: ids from another run of the relay are never taken as ours.
    epoch: u64,
    log: Mutex<Log>,
    tx: broadcast::Sender<Event>,
    published: watch::Sender<Option<Published>>,
}

/// Where a client's stream starts.
#[derive(Debug)]
pub enum Start {
    /// Replay these, then follow.
    Resume(Vec<Event>, broadcast::Receiver<Event>),
    /// The id is unknown: a `reset` event, then follow.
    Reset(broadcast::Receiver<Event>),
}

impl EventLog {
    pub fn new() -> EventLog {
        EventLog {
            epoch: now_ms(),
            log: Mutex::new(Log {
                seq: 0,
                recent: VecDeque::new(),
            }),
            tx: broadcast::channel(BACKLOG).0,
            published: watch::Sender::new(None),
        }
    }

    fn id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.epoch)
    }

    /// The id of the last event so far (`<epoch>-0` before the first).
    pub fn start_id(&self) -> String {
        self.id(self.log.lock().expect("lock").seq)
    }

    /// What `/v1/previews` serves: `None` until the first snapshot.
    pub fn published(&self) -> Option<Published> {
        self.published.borrow().clone()
    }

    /// Records the step from `old` to `new`: one event when previews or failures changed.
    fn absorb(&self, old: Option<&Snapshot>, new: &Arc<Snapshot>) {
        let mut log = self.log.lock().expect("lock");
        if let Some(old) = old {
            let changes = diff(Some(old), new);
            if !changes.is_empty() || old.failures != new.failures {
                log.seq += 1;
                let seq = log.seq;
                let data = serde_json::to_string(&RelayChanges {
                    changes,
                    fetched_at_ms: new.fetched_at_ms,
                    failures: new.failures.clone(),
                })
                .expect("changes serialise");
                let logged = Logged {
                    seq,
                    event: Event::default()
                        .event(PREVIEWS_CHANGED)
                        .id(self.id(seq))
                        .data(data),
                };
                // Sent under the lock, so a client joining now sees it either in its
                // replay or live, never both and never neither. No receivers is fine.
                let _ = self.tx.send(logged.event.clone());
                log.recent.push_back(logged);
                while log.recent.len() > KEPT {
                    log.recent.pop_front();
                }
            }
        }
        let last_event_id = self.id(log.seq);
        self.published.send_replace(Some(Published {
            snapshot: new.clone(),
            last_event_id,
        }));
    }

    /// Where a client that last saw `last_event_id` starts.
    pub fn start(&self, last_event_id: Option<&str>) -> Start {
        let log = self.log.lock().expect("lock");
        let rx = self.tx.subscribe();
        let Some(last) = last_event_id else {
            return Start::Resume(Vec::new(), rx);
        };
        let seq = last
            .split_once('-')
            .filter(|(epoch, _)| *epoch == self.epoch.to_string())
            .and_then(|(_, seq)| seq.parse::<u64>().ok());
        let oldest_kept = log.recent.front().map_or(log.seq + 1, |l| l.seq);
        match seq {
            // Every event after `seq` is still here (none may be missing in between).
            Some(seq) if seq <= log.seq && seq + 1 >= oldest_kept => Start::Resume(
                log.recent
                    .iter()
                    .filter(|l| l.seq > seq)
                    .map(|l| l.event.clone())
                    .collect(),
                rx,
            ),
            _ => Start::Reset(rx),
        }
    }
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog::new()
    }
}

/// Runs until the listing goes away: every new snapshot becomes the published one, with
/// its event.
pub async fn publish(log: Arc<EventLog>, live: Arc<dyn Live>) {
    let mut rx = live.subscribe();
    let mut last: Option<Arc<Snapshot>> = None;
    loop {
        let snap = rx.borrow_and_update().clone();
        if let Some(snap) = snap
            && last.as_ref().is_none_or(|l| !Arc::ptr_eq(l, &snap))
        {
            log.absorb(last.as_deref(), &snap);
            last = Some(snap);
        }
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// The body of one client's stream: the replay (or `reset`), then live events until the
/// client falls behind or the relay shuts down.
pub fn stream(
    start: Start,
    shutdown: CancellationToken,
) -> impl Stream<Item = Result<Event, Infallible>> + Send + 'static {
    let (first, rx) = match start {
        Start::Resume(replay, rx) => (replay, rx),
        Start::Reset(rx) => (
            vec![Event::default().event(RESET).data(
                r#"{"reason":"the relay no longer holds the events after Last-Event-ID: read /v1/previews again"}"#,
            )],
            rx,
        ),
    };
    let live = stream::unfold(rx, |mut rx| async move {
        match rx.recv().await {
            Ok(event) => Some((event, rx)),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::info!("closing an event stream {missed} events behind; it resumes by id");
                None
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    stream::iter(first)
        .chain(live)
        .map(Ok)
        .take_until(shutdown.cancelled_owned())
}

/// The keep-alive every stream gets.
pub fn keep_alive() -> KeepAlive {
    KeepAlive::new().interval(KEEP_ALIVE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Preview;

    fn snap(apps: &[&str]) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            fetched_at_ms: now_ms(),
            previews: apps
                .iter()
                .map(|a| Preview {
                    server: "https://argocd.dev".into(),
                    app: (*a).into(),
                    ..Preview::default()
                })
                .collect(),
            failures: Vec::new(),
            kept_previous: false,
        })
    }

    fn replayed(start: Start) -> Option<usize> {
        match start {
            Start::Resume(events, _) => Some(events.len()),
            Start::Reset(_) => None,
        }
    }

    #[test]
    fn a_client_resumes_after_its_last_event_or_is_told_to_reset() {
        let log = EventLog::new();
        let first = snap(&["a"]);
        log.absorb(None, &first);
        let start = log.published().unwrap().last_event_id;
        assert_eq!(
            start,
            format!("{}-0", log.epoch),
            "the baseline is no event"
        );
        let second = snap(&["a", "b"]);
        log.absorb(Some(&first), &second);
        // The same previews again (a re-list that found nothing new): no event.
        let third = snap(&["a", "b"]);
        log.absorb(Some(&second), &third);
        let fourth = snap(&["b"]);
        log.absorb(Some(&third), &fourth);
        assert_eq!(log.published().unwrap().last_event_id, log.id(2));

        assert_eq!(replayed(log.start(Some(&start))), Some(2));
        assert_eq!(replayed(log.start(Some(&log.id(1)))), Some(1));
        assert_eq!(replayed(log.start(Some(&log.id(2)))), Some(0));
        assert_eq!(replayed(log.start(None)), Some(0));
        for unknown in [log.id(3), "1-1".to_owned(), "garbage".to_owned()] {
            assert_eq!(replayed(log.start(Some(&unknown))), None, "{unknown}");
        }
    }

    #[test]
    fn an_id_older_than_the_kept_events_resets() {
        let log = EventLog::new();
        let mut last = snap(&[]);
        log.absorb(None, &last);
        for i in 0..=KEPT {
            let next = snap(&[&format!("app-{i}")]);
            log.absorb(Some(&last), &next);
            last = next;
        }
        assert_eq!(
            replayed(log.start(Some(&log.id(0)))),
            None,
            "event 1 is gone"
        );
        assert_eq!(replayed(log.start(Some(&log.id(1)))), Some(KEPT));
    }
}
