//! Paging under the 1 MiB frame cap: a `list` answer holds as many previews as fit, and its
//! `next_cursor` (`<fetched_at_ms>-<offset>`) names the snapshot and where the next page
//! starts; `previews_changed` events are split the same way. Pure: sizes are measured by
//! serialising, nothing is sent from here.

use protocol::Preview;
use protocol::messages::{Change, ListReply, MAX_FRAME_BYTES, PreviewsChanged, Reply};

use super::cache::Snapshot;

/// Where a `list` page starts: the snapshot it belongs to and the offset into its matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cursor {
    pub fetched_at_ms: u64,
    pub offset: usize,
}

impl Cursor {
    /// The longest cursor there is, to measure a reply with room for any real one.
    const LONGEST: Cursor = Cursor {
        fetched_at_ms: u64::MAX,
        offset: usize::MAX,
    };

    /// Reads a cursor this host wrote; `None` for anything else.
    pub fn parse(text: &str) -> Option<Cursor> {
        let (at, offset) = text.split_once('-')?;
        Some(Cursor {
            fetched_at_ms: at.parse().ok()?,
            offset: offset.parse().ok()?,
        })
    }

    fn encode(self) -> String {
        format!("{}-{}", self.fetched_at_ms, self.offset)
    }
}

/// Why no page could be cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PageError {
    /// The cursor points past the end of the matching previews.
    PastEnd { offset: usize },
}

/// Fills `reply` (everything set but `previews` and `next_cursor`) with the page of
/// `matching` that starts at `offset` and fits in one frame, and the cursor of the next page
/// (`None` on the last one). A preview too large for a frame on its own is sent cut down
/// ([`crate::core::preview::bound`]), never failing the page: the others still arrive.
pub(super) fn page(
    mut reply: ListReply,
    matching: &[&Preview],
    offset: usize,
) -> Result<ListReply, PageError> {
    if offset > matching.len() {
        return Err(PageError::PastEnd { offset });
    }
    reply.previews = Vec::new();
    reply.next_cursor = Some(Cursor::LONGEST.encode());
    let envelope = serde_json::to_vec(&Reply::List(reply.clone()))
        .expect("serialise")
        .len();
    let budget = MAX_FRAME_BYTES.saturating_sub(envelope);
    reply.previews = fill(&matching[offset..], budget, |p| (*p).clone());
    let end = offset + reply.previews.len();
    reply.next_cursor = (end < matching.len()).then(|| {
        Cursor {
            fetched_at_ms: reply.fetched_at_ms,
            offset: end,
        }
        .encode()
    });
    Ok(reply)
}

/// As many of `items` (from the first) as fit in `budget` bytes as JSON array elements: at
/// least one, cut down to fit when it alone is too large.
fn fill<T, U: serde::Serialize + Bounded>(
    items: &[T],
    budget: usize,
    mut owned: impl FnMut(&T) -> U,
) -> Vec<U> {
    let mut out = Vec::new();
    let mut used = 0;
    for item in items {
        let mut item = owned(item);
        let mut size = json_len(&item) + 1;
        if size > budget {
            item.bound(budget.saturating_sub(1));
            size = json_len(&item) + 1;
        }
        // Past the budget ends the page; an item that still does not fit alone is sent
        // anyway (the send guard reports it) rather than stalling the pages forever.
        if used + size > budget && !out.is_empty() {
            break;
        }
        used += size;
        out.push(item);
    }
    out
}

/// What can be cut down to fit a frame.
trait Bounded {
    fn bound(&mut self, max: usize);
}

impl Bounded for Preview {
    fn bound(&mut self, max: usize) {
        crate::core::preview::bound(self, max);
    }
}

impl Bounded for Change {
    fn bound(&mut self, max: usize) {
        // The change's own fields take a few dozen bytes.
        crate::core::preview::bound(&mut self.preview, max.saturating_sub(64));
    }
}

fn json_len<T: serde::Serialize>(item: &T) -> usize {
    serde_json::to_vec(item).expect("serialise").len()
}

/// Splits changes into events that each fit in a frame (one empty event when there are
/// none, so a change in failures alone is still sent).
pub(super) fn chunk_changes(changes: Vec<Change>, snap: &Snapshot) -> Vec<Vec<Change>> {
    let envelope = serde_json::to_vec(&Reply::PreviewsChanged(PreviewsChanged {
        subscription: u64::MAX,
        changes: Vec::new(),
        fetched_at_ms: snap.fetched_at_ms,
        failures: snap.failures.clone(),
    }))
    .expect("serialise")
    .len();
    let budget = MAX_FRAME_BYTES.saturating_sub(envelope);
    let mut chunks = Vec::new();
    if changes.is_empty() {
        chunks.push(Vec::new());
    }
    let mut rest: &[Change] = &changes;
    while !rest.is_empty() {
        let chunk = fill(rest, budget, Change::clone);
        rest = &rest[chunk.len()..];
        chunks.push(chunk);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use protocol::messages::ChangeKind;

    use super::*;

    fn preview(app: &str, padding: usize) -> Preview {
        let mut p: Preview = serde_json::from_value(serde_json::json!({
            "server": "https://argocd.dev", "context": "dev", "app": app, "namespace": "argocd",
            "service": "web", "pr": 1, "sync": null, "health": null, "phase": null,
            "revision": null, "image_tag": null, "created_at": null,
            "links": {"argocd": null, "pull_request": null}, "routes": [], "unroutable": null
        }))
        .unwrap();
        p.unroutable = Some("x".repeat(padding));
        p
    }

    fn reply(total: usize) -> ListReply {
        ListReply {
            id: 1,
            previews: Vec::new(),
            next_cursor: None,
            total: total as u64,
            fetched_at_ms: 1_700_000_000_000,
            age_ms: 0,
            stale: false,
            refreshing: false,
            failures: Vec::new(),
        }
    }

    #[test]
    fn cursors_round_trip_and_anything_else_is_no_cursor() {
        let c = Cursor {
            fetched_at_ms: 1_700_000_000_000,
            offset: 250,
        };
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        for junk in ["", "250", "a-1", "1-b", "-1", "1--2", "1-2-3"] {
            assert_eq!(Cursor::parse(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn pages_stay_under_the_frame_cap_and_chain_to_the_end() {
        // 300 previews of ~10 KiB: about three pages.
        let all: Vec<Preview> = (0..300)
            .map(|i| preview(&format!("a{i}"), 10_000))
            .collect();
        let matching: Vec<&Preview> = all.iter().collect();
        let mut offset = 0;
        let mut seen = Vec::new();
        loop {
            let page = page(reply(all.len()), &matching, offset).unwrap();
            let size = serde_json::to_vec(&Reply::List(page.clone()))
                .unwrap()
                .len();
            assert!(size <= MAX_FRAME_BYTES, "{size}");
            seen.extend(page.previews.iter().map(|p| p.app.clone()));
            match page.next_cursor.as_deref().and_then(Cursor::parse) {
                Some(c) => {
                    assert_eq!(c.fetched_at_ms, 1_700_000_000_000);
                    offset = c.offset;
                }
                None => break,
            }
        }
        let want: Vec<String> = all.iter().map(|p| p.app.clone()).collect();
        assert_eq!(seen, want);
    }

    #[test]
    fn a_cursor_past_the_end_or_a_preview_over_a_frame_is_an_error() {
        let small = preview("small", 10);
        assert_eq!(
            page(reply(1), &[&small], 2),
            Err(PageError::PastEnd { offset: 2 })
        );
        // The end itself is an empty last page.
        let last = page(reply(1), &[&small], 1).unwrap();
        assert!(last.previews.is_empty() && last.next_cursor.is_none());
    }

    /// Regression: one preview over a frame failed its whole page ("preview alone is larger
    /// than a 1 MiB frame"), and the extension dropped the list.
    #[test]
    fn a_preview_over_a_frame_is_cut_down_and_the_page_goes_on() {
        let small = preview("small", 10);
        let huge = preview("huge", MAX_FRAME_BYTES);
        let after = preview("after", 10);
        let page = page(reply(3), &[&small, &huge, &after], 0).unwrap();
        let apps: Vec<&str> = page.previews.iter().map(|p| p.app.as_str()).collect();
        assert_eq!(apps, ["small", "huge", "after"]);
        assert!(page.next_cursor.is_none());
        let cut = &page.previews[1];
        assert!(cut.routes.is_empty());
        assert!(
            cut.unroutable.as_deref().unwrap().contains("more than the"),
            "{:?}",
            cut.unroutable
        );
        assert!(serde_json::to_vec(&Reply::List(page)).unwrap().len() <= MAX_FRAME_BYTES);
    }

    #[test]
    fn changes_split_into_events_that_each_fit_a_frame() {
        let snap = Snapshot {
            fetched_at_ms: 1,
            previews: Vec::new(),
            failures: Vec::new(),
            kept_previous: false,
        };
        assert_eq!(chunk_changes(Vec::new(), &snap), vec![Vec::<Change>::new()]);
        let changes: Vec<Change> = (0..300)
            .map(|i| Change {
                change: ChangeKind::Added,
                preview: preview(&format!("a{i}"), 10_000),
            })
            .collect();
        let chunks = chunk_changes(changes, &snap);
        assert!(chunks.len() >= 3, "{}", chunks.len());
        assert_eq!(chunks.iter().map(Vec::len).sum::<usize>(), 300);
        for chunk in chunks {
            let event = Reply::PreviewsChanged(PreviewsChanged {
                subscription: u64::MAX,
                changes: chunk,
                fetched_at_ms: 1,
                failures: Vec::new(),
            });
            assert!(serde_json::to_vec(&event).unwrap().len() <= MAX_FRAME_BYTES);
        }
    }
}
