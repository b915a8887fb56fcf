//! Per-client limits: requests per second (a `governor` token bucket per client, keyed by
//! the signed-in identity, else the peer address) and open event streams per client. Over
//! either, the relay answers 429 with `Retry-After` and says which limit and how to raise it.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use super::auth::Client;

/// The limits `serve` was started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests per second per client, sustained.
    pub per_second: NonZeroU32,
    /// Requests a client may make at once before the rate applies.
    pub burst: NonZeroU32,
    /// Open `/v1/events` streams per client (a browser keeps one per profile).
    pub streams: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_second: NonZeroU32::new(10).expect("non-zero"),
            burst: NonZeroU32::new(40).expect("non-zero"),
            streams: 8,
        }
    }
}

/// Why a request was refused with 429.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Over {
    Rate {
        retry_after: Duration,
        per_second: u32,
    },
    Streams {
        open: usize,
    },
}

impl Over {
    pub fn retry_after_secs(&self) -> u64 {
        match self {
            // Whole seconds, at least one: a 0 would invite an immediate retry loop.
            Over::Rate { retry_after, .. } => retry_after.as_secs().max(1),
            Over::Streams { .. } => 30,
        }
    }

    pub fn message(&self, client: &Client) -> String {
        match self {
            Over::Rate { per_second, .. } => format!(
                "too many requests from {}: the limit is {per_second} per second",
                client.0
            ),
            Over::Streams { open } => format!(
                "too many open event streams for {}: {open} are open already",
                client.0
            ),
        }
    }

    pub fn fix(&self) -> String {
        match self {
            Over::Rate { .. } => format!(
                "wait {} s and try again; the relay's operator can raise --rate-limit",
                self.retry_after_secs()
            ),
            Over::Streams { .. } => {
                "close other browser profiles following this relay; the relay's operator can raise --max-streams-per-client".into()
            }
        }
    }
}

/// The limiter shared by every request.
#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    rate: DefaultKeyedRateLimiter<Client>,
    streams: Arc<Mutex<HashMap<Client, usize>>>,
}

/// One open event stream; dropping it (the client went away) frees its slot.
#[derive(Debug)]
pub struct StreamSlot {
    client: Client,
    streams: Arc<Mutex<HashMap<Client, usize>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self.streams.lock().expect("lock");
        if let Some(n) = streams.get_mut(&self.client) {
            *n -= 1;
            if *n == 0 {
                streams.remove(&self.client);
            }
        }
    }
}

impl Limiter {
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits,
            rate: DefaultKeyedRateLimiter::keyed(
                Quota::per_second(limits.per_second).allow_burst(limits.burst),
            ),
            streams: Arc::default(),
        }
    }

    /// Counts one request of `client`.
    pub fn request(&self, client: &Client) -> Result<(), Over> {
        self.rate.check_key(client).map_err(|not_until| Over::Rate {
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            per_second: self.limits.per_second.get(),
        })
    }

    /// Takes one of `client`'s event-stream slots.
    pub fn open_stream(&self, client: &Client) -> Result<StreamSlot, Over> {
        let mut streams = self.streams.lock().expect("lock");
        let open = streams.entry(client.clone()).or_default();
        if *open >= self.limits.streams {
            return Err(Over::Streams { open: *open });
        }
        *open += 1;
        Ok(StreamSlot {
            client: client.clone(),
            streams: self.streams.clone(),
        })
    }

    /// Open streams over all clients.
    pub fn open_streams(&self) -> usize {
        self.streams.lock().expect("lock").values().sum()
    }

    /// Forgets clients that have been quiet long enough to be back at a full bucket, so
    /// memory does not grow with every client ever seen.
    pub fn forget_quiet(&self) {
        self.rate.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_second: u32, burst: u32, streams: usize) -> Limits {
        Limits {
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
            streams,
        }
    }

    #[test]
    fn a_burst_passes_then_the_rate_applies_per_client() {
        let limiter = Limiter::new(limits(1, 3, 1));
        let alice = Client("alice@example.com".into());
        let bob = Client("bob@example.com".into());
        for _ in 0..3 {
            assert_eq!(limiter.request(&alice), Ok(()));
        }
        let over = limiter.request(&alice).unwrap_err();
        assert!(matches!(over, Over::Rate { per_second: 1, .. }), "{over:?}");
        assert_eq!(over.retry_after_secs(), 1);
        assert!(over.message(&alice).contains("alice@example.com"));
        assert!(over.fix().contains("--rate-limit"));
        assert_eq!(
            limiter.request(&bob),
            Ok(()),
            "one client's burst is its own"
        );
    }

    #[test]
    fn a_closed_stream_frees_its_slot() {
        let limiter = Limiter::new(limits(1, 1, 2));
        let alice = Client("alice".into());
        let first = limiter.open_stream(&alice).unwrap();
        let _second = limiter.open_stream(&alice).unwrap();
        assert_eq!(
            limiter.open_stream(&alice).unwrap_err(),
            Over::Streams { open: 2 }
        );
        assert!(limiter.open_stream(&Client("bob".into())).is_ok());
        drop(first);
        let _third = limiter.open_stream(&alice).unwrap();
        assert_eq!(
            limiter.open_streams(),
            2,
            "alice's two; bob's was dropped at once"
        );
    }
}
