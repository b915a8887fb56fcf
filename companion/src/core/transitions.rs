//! Deploy notifications, decided without I/O: from what was already notified about an
//! Application ([`Seen`], persisted by the host so a restart replays nothing) and what it
//! looks like now ([`Observation`]), the state changes worth telling a person about: it
//! finished deploying a revision it did not run before (Synced and Healthy there), its sync
//! failed, its health turned Degraded, its Argo Rollout paused or aborted. One per change:
//! a state already notified is not notified again until it is left and entered anew.

use protocol::envs::{Notification, NotificationKind, Rollout};
use serde::{Deserialize, Serialize};

use super::envs::{rollout_words, short};

/// One Application as the watch shows it now.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    pub server: String,
    pub namespace: String,
    pub app: String,
    pub service: String,
    /// The pull request, for a preview.
    pub pr: Option<u64>,
    /// The preview's context or the environment's name.
    pub env: String,
    /// What it runs: the revision when Argo CD says it (`status.sync.revision`), else the
    /// image tag. Compared, never parsed.
    pub runs: Option<String>,
    pub sync: Option<String>,
    pub health: Option<String>,
    /// `status.operationState.phase`.
    pub phase: Option<String>,
    pub operation_message: Option<String>,
    /// Its Argo Rollout, when the shell read it (it does when health is Suspended or Degraded).
    pub rollout: Option<Rollout>,
    pub link: Option<String>,
}

/// What was already notified (or seen first) about one Application.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// The last revision (or image) it ran Synced and Healthy.
    #[serde(default)]
    pub deployed: Option<String>,
    #[serde(default)]
    pub sync_failed: bool,
    #[serde(default)]
    pub degraded: bool,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub aborted: bool,
}

impl Seen {
    /// The state `now` is in, keeping the last deployed revision while it is not settled.
    fn after(previous: Option<&Seen>, now: &Observation) -> Seen {
        let settled = now.sync.as_deref() == Some("Synced")
            && now.health.as_deref() == Some("Healthy")
            && now.runs.is_some();
        Seen {
            deployed: if settled {
                now.runs.clone()
            } else {
                previous.and_then(|p| p.deployed.clone())
            },
            sync_failed: matches!(now.phase.as_deref(), Some("Failed" | "Error")),
            degraded: now.health.as_deref() == Some("Degraded"),
            paused: now.rollout.as_ref().is_some_and(|r| r.paused && !r.aborted),
            aborted: now.rollout.as_ref().is_some_and(|r| r.aborted),
        }
    }
}

/// The changes worth a notification from `previous` to `now`, and the new [`Seen`]. The
/// first sight of an Application (`previous` is `None`) only records it.
pub fn observe(previous: Option<&Seen>, now: &Observation) -> (Vec<NotificationKind>, Seen) {
    let next = Seen::after(previous, now);
    let Some(before) = previous else {
        return (Vec::new(), next);
    };
    let mut kinds = Vec::new();
    if next.deployed.is_some() && next.deployed != before.deployed {
        kinds.push(NotificationKind::Deployed);
    }
    if next.sync_failed && !before.sync_failed {
        kinds.push(NotificationKind::SyncFailed);
    }
    if next.degraded && !before.degraded {
        kinds.push(NotificationKind::Degraded);
    }
    if next.paused && !before.paused {
        kinds.push(NotificationKind::RolloutPaused);
    }
    if next.aborted && !before.aborted {
        kinds.push(NotificationKind::RolloutAborted);
    }
    (kinds, next)
}

/// The key an Application's [`Seen`] is kept under.
pub fn key(server: &str, namespace: &str, app: &str) -> String {
    format!("{}|{namespace}|{app}", server.trim_end_matches('/'))
}

/// The notification for one change, in words: `courses-fe PR 123 now runs abc1234: Fix
/// enrolment button`. `revision` is the commit it runs when the shell learnt it (else what
/// it `runs`), `subject` that commit's first line.
pub fn notification(
    subscription: u64,
    kind: NotificationKind,
    now: &Observation,
    revision: Option<&str>,
    subject: Option<&str>,
) -> Notification {
    let who = match now.pr {
        Some(pr) => format!("{} PR {pr}", now.service),
        None => format!("{} in {}", now.service, now.env),
    };
    let shown = revision.or(now.runs.as_deref());
    let runs = shown.map(short);
    let (title, message) = match kind {
        NotificationKind::Deployed => (
            format!("{who} deployed"),
            match (&runs, subject) {
                (Some(r), Some(s)) => format!("{who} now runs {r}: {s}"),
                (Some(r), None) => format!("{who} now runs {r}"),
                (None, _) => format!("{who} is Synced and Healthy"),
            },
        ),
        NotificationKind::SyncFailed => (
            format!("{who}: sync failed"),
            match now
                .operation_message
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty())
            {
                Some(m) => format!(
                    "The sync of {} failed: {}",
                    now.app,
                    m.chars().take(200).collect::<String>()
                ),
                None => format!("The sync of {} failed", now.app),
            },
        ),
        NotificationKind::Degraded => (
            format!("{who} is Degraded"),
            format!(
                "{} turned Degraded{}",
                now.app,
                runs.as_deref()
                    .map(|r| format!(" running {r}"))
                    .unwrap_or_default()
            ),
        ),
        NotificationKind::RolloutPaused | NotificationKind::RolloutAborted => {
            let words = now
                .rollout
                .as_ref()
                .and_then(rollout_words)
                .unwrap_or_else(|| "rollout changed".into());
            let verb = if kind == NotificationKind::RolloutPaused {
                "paused"
            } else {
                "aborted"
            };
            (
                format!("{who}: rollout {verb}"),
                format!("{}: {words}", now.app),
            )
        }
        NotificationKind::Other => (who.clone(), who.clone()),
    };
    let kind_word = serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    Notification {
        subscription,
        kind,
        server: now.server.clone(),
        namespace: now.namespace.clone(),
        app: now.app.clone(),
        service: now.service.clone(),
        pr: now.pr,
        env: now.env.clone(),
        revision: shown.map(str::to_owned),
        title,
        message,
        link: now.link.clone(),
        key: format!(
            "{kind_word}|{}|{}",
            key(&now.server, &now.namespace, &now.app),
            now.runs.as_deref().unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NotificationKind::*;

    fn obs(runs: &str, sync: &str, health: &str) -> Observation {
        Observation {
            server: "https://argocd.dev".into(),
            namespace: "argocd".into(),
            app: "courses-fe-pr-123".into(),
            service: "courses-fe".into(),
            pr: Some(123),
            env: "dev".into(),
            runs: Some(runs.into()),
            sync: Some(sync.into()),
            health: Some(health.into()),
            link: Some("https://argocd.dev/applications/argocd/courses-fe-pr-123".into()),
            ..Default::default()
        }
    }

    /// Feeds observations in order and collects what would be notified.
    fn run(steps: &[Observation], start: Option<Seen>) -> Vec<Vec<NotificationKind>> {
        let mut seen = start;
        steps
            .iter()
            .map(|o| {
                let (kinds, next) = observe(seen.as_ref(), o);
                seen = Some(next);
                kinds
            })
            .collect()
    }

    #[test]
    fn a_redeploy_is_notified_once_when_it_settles() {
        let old = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let new = "abc1234d5e6f708192a3b4c5d6e7f8091a2b3c4d";
        let got = run(
            &[
                obs(old, "Synced", "Healthy"),
                obs(new, "OutOfSync", "Healthy"),
                obs(new, "Synced", "Progressing"),
                obs(new, "Synced", "Healthy"),
                obs(new, "Synced", "Healthy"),
            ],
            None,
        );
        assert_eq!(got, [vec![], vec![], vec![], vec![Deployed], vec![]]);
    }

    #[test]
    fn the_first_sight_only_records_and_a_restart_replays_nothing() {
        let first = run(&[obs("r1", "Synced", "Degraded")], None);
        assert_eq!(first, [Vec::<NotificationKind>::new()]);
        // What a restart reads back from disk: the same state gives nothing again.
        let (_, seen) = observe(None, &obs("r1", "Synced", "Healthy"));
        let json = serde_json::to_string(&seen).unwrap();
        let back: Seen = serde_json::from_str(&json).unwrap();
        assert_eq!(run(&[obs("r1", "Synced", "Healthy")], Some(back)), [vec![]]);
    }

    #[test]
    fn failures_are_notified_on_entering_them_only() {
        let mut failed = obs("r1", "OutOfSync", "Degraded");
        failed.phase = Some("Failed".into());
        failed.operation_message = Some("one or more objects failed to apply".into());
        let got = run(
            &[
                obs("r1", "Synced", "Healthy"),
                failed.clone(),
                failed.clone(),
                obs("r1", "Synced", "Healthy"),
                failed,
            ],
            None,
        );
        assert_eq!(
            got,
            [
                vec![],
                vec![SyncFailed, Degraded],
                vec![],
                vec![],
                vec![SyncFailed, Degraded]
            ]
        );
    }

    #[test]
    fn a_rollout_pausing_then_aborting_is_two_notifications() {
        let paused = |aborted: bool| {
            let mut o = obs(
                "r2",
                "Synced",
                if aborted { "Degraded" } else { "Suspended" },
            );
            o.rollout = Some(Rollout {
                name: "courses-fe".into(),
                phase: Some(if aborted { "Degraded" } else { "Paused" }.into()),
                step: Some(1),
                steps: Some(4),
                weight: Some(if aborted { 0 } else { 25 }),
                paused: !aborted,
                aborted,
                ..Default::default()
            });
            o
        };
        let got = run(
            &[
                obs("r1", "Synced", "Healthy"),
                paused(false),
                paused(false),
                paused(true),
            ],
            None,
        );
        assert_eq!(
            got,
            [
                vec![],
                vec![RolloutPaused],
                vec![],
                vec![Degraded, RolloutAborted]
            ]
        );
    }

    #[test]
    fn the_words_name_the_preview_the_revision_and_the_commit() {
        let now = obs(
            "abc1234d5e6f708192a3b4c5d6e7f8091a2b3c4d",
            "Synced",
            "Healthy",
        );
        let n = notification(5, Deployed, &now, None, Some("Fix enrolment button"));
        assert_eq!(n.title, "courses-fe PR 123 deployed");
        assert_eq!(
            n.message,
            "courses-fe PR 123 now runs abc1234: Fix enrolment button"
        );
        assert_eq!(
            n.key,
            "deployed|https://argocd.dev|argocd|courses-fe-pr-123|abc1234d5e6f708192a3b4c5d6e7f8091a2b3c4d"
        );
        let mut env = obs("dev-4f2c9a1", "Synced", "Healthy");
        env.pr = None;
        env.env = "prod".into();
        let n = notification(5, Deployed, &env, None, None);
        assert_eq!(n.message, "courses-fe in prod now runs dev-4f2c9a1");
        // Listed by image (Argo CD before 3.5), the commit learnt afterwards is shown.
        let n = notification(
            5,
            Deployed,
            &env,
            Some("4f2c9a1d5e6f708192a3b4c5d6e7f8091a2b3c4d"),
            Some("Fix"),
        );
        assert_eq!(n.message, "courses-fe in prod now runs 4f2c9a1: Fix");
        assert!(
            n.key.ends_with("|dev-4f2c9a1"),
            "the key stays what it runs: {}",
            n.key
        );
    }
}
