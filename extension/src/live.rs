//! Keeps the full preview list current from the companion's `previews_changed` events
//! (added / modified / deleted, keyed by server, namespace and app), so the worker can hand
//! the state a whole list after each event. Pure, tested natively.

use protocol::Preview;
use protocol::messages::{Change, ChangeKind};

fn same_app(a: &Preview, b: &Preview) -> bool {
    a.server == b.server && a.namespace == b.namespace && a.app == b.app
}

/// Applies one event's changes in order: a modified preview replaces the known one in
/// place, an added one we already hold is treated as modified, a deleted one goes.
pub fn apply(previews: &mut Vec<Preview>, changes: Vec<Change>) {
    for Change { change, preview } in changes {
        let at = previews.iter().position(|p| same_app(p, &preview));
        match (change, at) {
            (ChangeKind::Deleted, Some(i)) => {
                previews.remove(i);
            }
            (ChangeKind::Deleted, None) => {}
            (ChangeKind::Added | ChangeKind::Modified, Some(i)) => previews[i] = preview,
            (ChangeKind::Added | ChangeKind::Modified, None) => previews.push(preview),
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
