//! Keeps the full preview list current from the companion's `previews_changed` events
//! (added / modified / deleted, keyed by server, namespace and app), so the worker can hand
//! the state a whole list after each event. A new subscription's first events are only a
//! diff from the companion's disk cache (or an initial set in several chunks), so [`Live`]
//! seeds itself from a full `list` and holds events back until that seed is in. Pure,
//! tested natively.

use protocol::Preview;
use protocol::messages::{Change, ChangeKind};

fn same_app(a: &Preview, b: &Preview) -> bool {
    a.server == b.server && a.namespace == b.namespace && a.app == b.app
}

/// Applies one event's changes in order: a modified preview replaces the known one in
/// place, an added one we already hold is treated as modified, a deleted one goes.
/// Returns the previews the changes deleted (held or not).
pub fn apply(previews: &mut Vec<Preview>, changes: Vec<Change>) -> Vec<Preview> {
    let mut deleted = Vec::new();
    for Change { change, preview } in changes {
        let at = previews.iter().position(|p| same_app(p, &preview));
        match (change, at) {
            (ChangeKind::Deleted, Some(i)) => {
                previews.remove(i);
                deleted.push(preview);
            }
            (ChangeKind::Deleted, None) => deleted.push(preview),
            (ChangeKind::Added | ChangeKind::Modified, Some(i)) => previews[i] = preview,
            (ChangeKind::Added | ChangeKind::Modified, None) => previews.push(preview),
        }
    }
    deleted
}

/// What the worker hands the state after an event: the whole list and what was deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    pub previews: Vec<Preview>,
    pub deleted: Vec<Preview>,
}

/// The worker's copy of every preview across subscriptions.
#[derive(Debug, Default)]
pub struct Live {
    previews: Vec<Preview>,
    seeded: bool,
    held: Vec<Change>,
}

impl Live {
    /// A new subscription: events wait for [`Live::seed`]. The old list stays meanwhile; it
    /// only ever drives cleanup through explicit deletions.
    pub fn subscribed_again(&mut self) {
        self.seeded = false;
        self.held.clear();
    }

    /// One `previews_changed` event; `None` while the seed is not in (the event is held).
    pub fn changed(&mut self, changes: Vec<Change>) -> Option<Update> {
        if !self.seeded {
            self.held.extend(changes);
            return None;
        }
        let deleted = apply(&mut self.previews, changes);
        Some(Update {
            previews: self.previews.clone(),
            deleted,
        })
    }

    /// The full list read after `subscribed` (`None`: it could not be read, keep the old
    /// one); the events held meanwhile are applied on top.
    pub fn seed(&mut self, list: Option<Vec<Preview>>) -> Update {
        if let Some(list) = list {
            self.previews = list;
        }
        self.seeded = true;
        let held = std::mem::take(&mut self.held);
        let deleted = apply(&mut self.previews, held);
        Update {
            previews: self.previews.clone(),
            deleted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preview(app: &str, pr: u64) -> Preview {
        Preview {
            server: "https://argocd.test".into(),
            context: "dev".into(),
            app: app.into(),
            namespace: "argocd".into(),
            service: "courses-fe".into(),
            pr,
            ..Default::default()
        }
    }

    fn change(change: ChangeKind, p: Preview) -> Change {
        Change { change, preview: p }
    }

    #[test]
    fn first_event_fills_then_changes_update_in_place_and_deletes_remove() {
        let mut list = Vec::new();
        apply(
            &mut list,
            vec![
                change(ChangeKind::Added, preview("a-pr-1", 1)),
                change(ChangeKind::Added, preview("a-pr-2", 2)),
            ],
        );
        assert_eq!(list.len(), 2);
        let mut healthy = preview("a-pr-1", 1);
        healthy.health = Some("Healthy".into());
        apply(
            &mut list,
            vec![change(ChangeKind::Modified, healthy.clone())],
        );
        assert_eq!(list[0], healthy, "modified in place, order kept");
        apply(
            &mut list,
            vec![
                change(ChangeKind::Deleted, preview("a-pr-2", 2)),
                change(ChangeKind::Deleted, preview("never-seen", 9)),
            ],
        );
        assert_eq!(list, vec![healthy]);
    }

    #[test]
    fn a_new_subscription_seeds_from_the_full_list_and_holds_events_until_then() {
        let mut live = Live::default();
        live.seed(Some(vec![preview("a-pr-1", 1), preview("b-pr-2", 2)]));
        live.subscribed_again();
        // The restarted companion's first event is a diff from its disk cache: b is gone.
        assert_eq!(
            live.changed(vec![change(ChangeKind::Deleted, preview("b-pr-2", 2))]),
            None
        );
        // A chunk of an initial set: held too.
        assert_eq!(
            live.changed(vec![change(ChangeKind::Added, preview("c-pr-3", 3))]),
            None
        );
        let update = live.seed(Some(vec![preview("a-pr-1", 1), preview("b-pr-2", 2)]));
        assert_eq!(
            update.previews,
            vec![preview("a-pr-1", 1), preview("c-pr-3", 3)],
            "a, untouched by the diff, is still known"
        );
        assert_eq!(update.deleted, vec![preview("b-pr-2", 2)]);
        let update = live
            .changed(vec![change(ChangeKind::Modified, preview("c-pr-3", 3))])
            .expect("seeded: events pass");
        assert_eq!(update.previews.len(), 2);
        assert!(update.deleted.is_empty());
    }

    #[test]
    fn an_app_with_the_same_name_on_another_server_is_another_preview() {
        let mut list = vec![preview("a-pr-1", 1)];
        let mut other = preview("a-pr-1", 1);
        other.server = "https://argocd.prod.test".into();
        apply(&mut list, vec![change(ChangeKind::Added, other)]);
        assert_eq!(list.len(), 2);
        let mut again = preview("a-pr-1", 1);
        again.pr = 1;
        apply(&mut list, vec![change(ChangeKind::Added, again)]);
        assert_eq!(
            list.len(),
            2,
            "an added preview we hold is replaced, not doubled"
        );
    }
}
