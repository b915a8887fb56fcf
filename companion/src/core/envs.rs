//! What runs where, decided without I/O: which environment and service a non-preview
//! Application is (labels, else an environment segment of its name, else the server's
//! context), which version it runs (the revision's git tag, else the image tag, else the
//! short revision), whether it went backwards (semver), what its Argo Rollout is doing
//! (from the live object), and how environments group into services (`in_step`, what
//! differs). The shell (`crate::envs`) fetches the list, revision metadata, rollouts and
//! links and hands them here.

use std::collections::BTreeMap;

use protocol::envs::{DeepLink, EnvLinks, EnvStatus, Rollout, ServiceEnvs};
use regex::Regex;
use serde_json::Value;

use super::{keys, preview};
use crate::argocd::model::{Application, LinkInfo, ManagedResource, RevisionMetadata};

/// The environment segments recognised by default, as a whole leading or trailing
/// `-`-separated part of an Application's name.
pub const DEFAULT_ENV_PATTERN: &str = "dev|qa|test|stag|staging|prod|production";

/// How an environment segment is recognised in a name: a regex that must match one whole
/// leading or trailing `-`-separated segment (config.toml `env_pattern`).
#[derive(Debug, Clone)]
pub struct EnvPattern {
    re: Regex,
    source: String,
}

impl Default for EnvPattern {
    fn default() -> Self {
        EnvPattern::new(DEFAULT_ENV_PATTERN).expect("the default pattern compiles")
    }
}

impl EnvPattern {
    /// Compiles `pattern` anchored at both ends; the error says why it is not a regex.
    pub fn new(pattern: &str) -> Result<EnvPattern, String> {
        let re = Regex::new(&format!("^(?:{pattern})$"))
            .map_err(|e| format!("env_pattern {} is not a regex: {e}", super::quoted(pattern)))?;
        if re.is_match("") {
            return Err(format!(
                "env_pattern {} matches an empty name segment",
                super::quoted(pattern)
            ));
        }
        Ok(EnvPattern {
            re,
            source: pattern.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// `(service, env)` when `name` has an environment segment first or last:
    /// `dev-backend-api` → (`backend-api`, `dev`), `admin-api-gateway-qa` →
    /// (`admin-api-gateway`, `qa`). A name that is only the segment has no service.
    pub fn split<'a>(&self, name: &'a str) -> Option<(&'a str, &'a str)> {
        if let Some((env, rest)) = name.split_once('-')
            && !rest.is_empty()
            && self.re.is_match(env)
        {
            return Some((rest, env));
        }
        if let Some((rest, env)) = name.rsplit_once('-')
            && !rest.is_empty()
            && self.re.is_match(env)
        {
            return Some((rest, env));
        }
        None
    }
}

/// `(service, env)` of a non-preview Application: the labels `preview-switch.io/service`
/// and `preview-switch.io/env`; else the name with its environment segment removed; else
/// the whole name and the server's `context` (or `spec.destination.name`).
pub fn service_and_env(app: &Application, pattern: &EnvPattern, context: &str) -> (String, String) {
    let label = |k: &str| {
        app.metadata
            .labels
            .get(k)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let name = app.metadata.name.as_str();
    let split = pattern.split(name);
    let service = label(keys::SERVICE)
        .or_else(|| split.map(|(s, _)| s.to_owned()))
        .unwrap_or_else(|| name.to_owned());
    let env = label(keys::ENV)
        .or_else(|| split.map(|(_, e)| e.to_owned()))
        .or_else(|| Some(context.to_owned()).filter(|c| !c.is_empty()))
        .or_else(|| app.spec.destination.name.clone().filter(|n| !n.is_empty()))
        .unwrap_or_default();
    (service, env)
}

/// The revision the app runs: `status.sync.revision`, else the newest history entry's.
pub fn current_revision(app: &Application) -> Option<String> {
    app.status
        .sync
        .revision
        .clone()
        .filter(|r| !r.is_empty())
        .or_else(|| {
            app.status
                .history
                .last()
                .and_then(|h| h.first_revision().map(str::to_owned))
        })
}

/// The revision it ran before: the newest history entry with another revision.
pub fn previous_revision(app: &Application, current: Option<&str>) -> Option<String> {
    app.status
        .history
        .iter()
        .rev()
        .filter_map(|h| h.first_revision())
        .find(|r| Some(*r) != current)
        .map(str::to_owned)
}

/// When `current` was deployed: the newest history entry with it, RFC 3339 UTC.
pub fn deployed_at(app: &Application, current: Option<&str>) -> Option<String> {
    app.status
        .history
        .iter()
        .rev()
        .find(|h| current.is_none() || h.first_revision() == current)
        .and_then(|h| h.deployed_at.as_deref())
        .and_then(|t| t.trim().parse::<jiff::Timestamp>().ok())
        .map(|t| t.to_string())
}

/// A tag as a semantic version: `v5.33.0`, `5.33.0`, `release-5.3.0` is not one.
pub fn semver_of(tag: &str) -> Option<semver::Version> {
    let t = tag.trim();
    let t = t
        .strip_prefix('v')
        .or_else(|| t.strip_prefix('V'))
        .unwrap_or(t);
    semver::Version::parse(t).ok()
}

/// The tag that names a revision: the highest semver tag, else the first one.
pub fn pick_tag(tags: &[String]) -> Option<String> {
    tags.iter()
        .filter_map(|t| semver_of(t).map(|v| (v, t)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, t)| t.clone())
        .or_else(|| tags.iter().find(|t| !t.trim().is_empty()).cloned())
}

/// The version shown for a deployment and where it came from: the revision's git tag,
/// else the image tag, else the revision's first 7 characters.
pub fn version(
    metadata: Option<&RevisionMetadata>,
    image_tag: Option<&str>,
    revision: Option<&str>,
) -> (Option<String>, Option<&'static str>) {
    if let Some(tag) = metadata.and_then(|m| pick_tag(&m.tags)) {
        return (Some(tag), Some("tag"));
    }
    if let Some(tag) = image_tag.filter(|t| !t.is_empty()) {
        return (Some(tag.to_owned()), Some("image"));
    }
    match revision.filter(|r| !r.is_empty()) {
        Some(r) => (Some(short(r)), Some("revision")),
        None => (None, None),
    }
}

/// A revision as people read it: 7 characters of a commit, a tag or chart version whole.
pub fn short(revision: &str) -> String {
    if revision.len() >= 12 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        revision[..7].to_owned()
    } else {
        revision.to_owned()
    }
}

/// Whether `current` is older than `previous`: only when both are semver (`5.33.0`
/// followed by `5.3.0` is; `5.3.0` followed by `5.33.0` is not).
pub fn went_backwards(current: Option<&str>, previous: Option<&str>) -> bool {
    match (current.and_then(semver_of), previous.and_then(semver_of)) {
        (Some(now), Some(before)) => now < before,
        _ => false,
    }
}

/// The first line of a commit message, trimmed, at most 120 characters.
pub fn subject(message: &str) -> Option<String> {
    let line = message.lines().map(str::trim).find(|l| !l.is_empty())?;
    let line: String = line.chars().filter(|c| !c.is_control()).take(120).collect();
    Some(line)
}

/// An Argo Rollout's progress from its live object, as `kubectl argo rollouts get` reads it
/// (argo-rollouts `pkg/kubectl-argo-rollouts/info/rollout_info.go` `NewRolloutInfo`):
/// `status.phase`/`status.message` (set by the controller, `CalculateRolloutPhase`), the
/// canary's `status.currentStepIndex` of `spec.strategy.canary.steps`, and the weight the
/// current step sets (`replicaset.GetCurrentSetWeight`: the last `setWeight` at or before
/// the current step, 0 when aborted, 100 past the last step). `None` for anything that is
/// not a Rollout.
pub fn rollout_from_live(live: &Value) -> Option<Rollout> {
    if live.get("kind").and_then(Value::as_str) != Some("Rollout") {
        return None;
    }
    let s = |p: &str| {
        live.pointer(p)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let canary = live.pointer("/spec/strategy/canary");
    let blue_green = live.pointer("/spec/strategy/blueGreen");
    let steps: Vec<&Value> = canary
        .and_then(|c| c.get("steps"))
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let step = live
        .pointer("/status/currentStepIndex")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok());
    let aborted = live
        .pointer("/status/abort")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let phase = s("/status/phase");
    let message = s("/status/message");
    let paused_conditions = live
        .pointer("/status/pauseConditions")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    let paused = phase.as_deref() == Some("Paused")
        || (phase.is_none()
            && (paused_conditions
                || live.pointer("/spec/paused").and_then(Value::as_bool) == Some(true)));
    let weight = canary.map(|_| {
        if aborted {
            return 0;
        }
        match step {
            Some(i) if (i as usize) < steps.len() => steps[..=i as usize]
                .iter()
                .rev()
                .find_map(|st| st.get("setWeight").and_then(Value::as_u64))
                .and_then(|w| u32::try_from(w).ok())
                .unwrap_or(0),
            _ => 100,
        }
    });
    Some(Rollout {
        name: s("/metadata/name").unwrap_or_default(),
        phase,
        message: message.clone(),
        strategy: if canary.is_some() {
            Some("Canary".into())
        } else if blue_green.is_some() {
            Some("BlueGreen".into())
        } else {
            None
        },
        step: canary.and(step),
        steps: canary.map(|_| u32::try_from(steps.len()).unwrap_or(u32::MAX)),
        weight,
        paused,
        aborted: aborted
            || message
                .as_deref()
                .is_some_and(|m| m.starts_with("RolloutAborted")),
    })
}

/// The first Rollout among `managed-resources` items whose live object reads as one.
pub fn rollout_of(items: &[ManagedResource]) -> Option<Rollout> {
    items.iter().find_map(|r| {
        let live: Value = serde_json::from_str(r.live_state.as_deref()?).ok()?;
        rollout_from_live(&live)
    })
}

/// The deep links worth showing: http(s) only (a `javascript:` URL from a hostile
/// `argocd-cm` must not become a link), an empty description dropped.
pub fn deep_links(items: Vec<LinkInfo>) -> Vec<DeepLink> {
    items
        .into_iter()
        .filter(|l| l.url.starts_with("https://") || l.url.starts_with("http://"))
        .map(|l| DeepLink {
            title: l.title,
            url: l.url,
            description: l.description.filter(|d| !d.is_empty()),
        })
        .collect()
}

/// A Rollout's state in words: `rollout paused at step 1 of 4, canary weight 25%`.
pub fn rollout_words(r: &Rollout) -> Option<String> {
    let at = match (r.step, r.steps) {
        (Some(step), Some(steps)) if steps > 0 => format!(" at step {step} of {steps}"),
        _ => String::new(),
    };
    let weight = r
        .weight
        .map(|w| format!(", canary weight {w}%"))
        .unwrap_or_default();
    if r.aborted {
        let why = r
            .message
            .as_deref()
            .map(|m| m.trim_start_matches("RolloutAborted:").trim())
            .filter(|m| !m.is_empty())
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        Some(format!("rollout aborted{at}{why}"))
    } else if r.paused {
        Some(format!("rollout paused{at}{weight}"))
    } else if r.phase.as_deref() == Some("Progressing") {
        Some(format!("rollout progressing{at}{weight}"))
    } else if r.phase.as_deref() == Some("Degraded") {
        Some(format!(
            "rollout degraded{}",
            r.message
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ))
    } else {
        None
    }
}

/// Everything the shell gathered for one environment Application.
#[derive(Debug, Clone, Default)]
pub struct Gathered<'a> {
    pub metadata: Option<&'a RevisionMetadata>,
    pub previous_metadata: Option<&'a RevisionMetadata>,
    pub rollout: Option<Rollout>,
    pub deep_links: Vec<DeepLink>,
}

/// One environment of one service.
pub fn env_status(
    app: &Application,
    server_url: &str,
    context: &str,
    pattern: &EnvPattern,
    gathered: Gathered<'_>,
) -> (String, EnvStatus) {
    let (service, env) = service_and_env(app, pattern, context);
    let server = server_url.trim_end_matches('/').to_owned();
    let namespace = app.metadata.namespace_or_default().to_owned();
    let revision = current_revision(app);
    let previous = previous_revision(app, revision.as_deref());
    let image_tag = preview::image_tag(app, &service);
    let (shown, version_from) =
        version(gathered.metadata, image_tag.as_deref(), revision.as_deref());
    // History keeps no images: the previous version is its tag, else its short revision.
    let previous_version = previous.as_deref().map(|p| {
        version(gathered.previous_metadata, None, Some(p))
            .0
            .unwrap_or_else(|| short(p))
    });
    let status = &app.status;
    let phase = status
        .operation_state
        .as_ref()
        .and_then(|o| o.phase.clone());
    let mut e = EnvStatus {
        env,
        server: server.clone(),
        app: app.metadata.name.clone(),
        went_backwards: went_backwards(shown.as_deref(), previous_version.as_deref()),
        version: shown,
        deployed_at: deployed_at(app, revision.as_deref()),
        revision,
        image_tag,
        sync: status.sync.status.clone(),
        health: status.health.status.clone(),
        previous_version,
        rollout: gathered.rollout,
        links: EnvLinks {
            argocd: Some(format!(
                "{server}/applications/{namespace}/{}",
                app.metadata.name
            )),
            deep_links: gathered.deep_links,
        },
        namespace,
        context: context.to_owned(),
        version_from: version_from.map(str::to_owned),
        phase,
        subject: gathered
            .metadata
            .and_then(|m| m.message.as_deref())
            .and_then(subject),
        notes: Vec::new(),
    };
    e.notes = notes(
        &e,
        status
            .operation_state
            .as_ref()
            .and_then(|o| o.message.as_deref()),
    );
    (service, e)
}

/// What needs attention in an environment, in words.
pub fn notes(e: &EnvStatus, operation_message: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if e.went_backwards
        && let Some(before) = &e.previous_version
    {
        out.push(format!("went backwards from {before}"));
    }
    if let Some(sync) = e.sync.as_deref().filter(|s| *s != "Synced") {
        out.push(sync.to_owned());
    }
    if matches!(e.phase.as_deref(), Some("Failed" | "Error")) {
        match operation_message.map(str::trim).filter(|m| !m.is_empty()) {
            Some(m) => out.push(format!(
                "sync failed: {}",
                m.chars().take(160).collect::<String>()
            )),
            None => out.push("sync failed".into()),
        }
    }
    if let Some(h) = e
        .health
        .as_deref()
        .filter(|h| matches!(*h, "Degraded" | "Missing"))
    {
        out.push(h.to_owned());
    }
    if let Some(words) = e.rollout.as_ref().and_then(rollout_words) {
        out.push(words);
    }
    out
}

/// Groups environments into services, sorted by service name; each service's
/// environments keep the order given (the servers' configured order, then by name).
pub fn group(envs: Vec<(String, EnvStatus)>) -> Vec<ServiceEnvs> {
    let mut by_service: BTreeMap<String, Vec<EnvStatus>> = BTreeMap::new();
    for (service, e) in envs {
        by_service.entry(service).or_default().push(e);
    }
    by_service
        .into_iter()
        .map(|(service, envs)| {
            let differs = differs(&envs);
            ServiceEnvs {
                service,
                in_step: differs.is_none(),
                envs,
                differs,
            }
        })
        .collect()
}

/// What differs between the environments' versions, in words; `None` when they agree.
/// An environment with no known version does not count against the others.
pub fn differs(envs: &[EnvStatus]) -> Option<String> {
    // `v2.8.0` (a tag) and `2.8.0` (an image tag) are one version.
    let same = |v: &str| semver_of(v).map_or_else(|| v.to_owned(), |s| s.to_string());
    let mut by_version: Vec<(&str, String, Vec<&str>)> = Vec::new();
    for e in envs {
        let Some(v) = e.version.as_deref() else {
            continue;
        };
        let norm = same(v);
        match by_version.iter_mut().find(|(_, known, _)| *known == norm) {
            Some((_, _, names)) => names.push(&e.env),
            None => by_version.push((v, norm, vec![&e.env])),
        }
    }
    if by_version.len() < 2 {
        return None;
    }
    // The odd ones out first: fewest environments, then the order given.
    by_version.sort_by_key(|(_, _, names)| names.len());
    Some(
        by_version
            .iter()
            .map(|(v, _, names)| {
                let verb = if names.len() == 1 { "runs" } else { "run" };
                format!("{} {verb} {v}", names.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; "),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn app(v: Value) -> Application {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn environment_segments_are_recognised_first_or_last() {
        let p = EnvPattern::default();
        assert_eq!(p.split("dev-backend-api"), Some(("backend-api", "dev")));
        assert_eq!(
            p.split("admin-api-gateway-qa"),
            Some(("admin-api-gateway", "qa"))
        );
        assert_eq!(
            p.split("checkout-production"),
            Some(("checkout", "production"))
        );
        assert_eq!(p.split("courses-fe"), None);
        assert_eq!(p.split("prod"), None, "a name that is only the segment");
        assert_eq!(
            p.split("devtools-api"),
            None,
            "a whole segment, not a prefix"
        );
        let custom = EnvPattern::new("uat|live").unwrap();
        assert_eq!(custom.split("shop-live"), Some(("shop", "live")));
        assert_eq!(custom.split("shop-prod"), None);
        assert!(EnvPattern::new("(").unwrap_err().contains("not a regex"));
        assert!(EnvPattern::new("a*").unwrap_err().contains("empty"));
    }

    #[test]
    fn labels_win_over_the_name_and_the_context_is_the_last_resort() {
        let p = EnvPattern::default();
        let labelled = app(json!({"metadata": {"name": "dev-backend-api", "labels": {
            "preview-switch.io/service": "api", "preview-switch.io/env": "eu-dev"}}}));
        assert_eq!(
            service_and_env(&labelled, &p, "dev"),
            ("api".into(), "eu-dev".into())
        );
        let named = app(json!({"metadata": {"name": "admin-api-gateway-qa"}}));
        assert_eq!(
            service_and_env(&named, &p, "ctx"),
            ("admin-api-gateway".into(), "qa".into())
        );
        let plain = app(json!({"metadata": {"name": "courses-fe"}}));
        assert_eq!(
            service_and_env(&plain, &p, "stag"),
            ("courses-fe".into(), "stag".into())
        );
        let by_dest = app(json!({"metadata": {"name": "courses-fe"},
            "spec": {"destination": {"name": "prod-eu"}}}));
        assert_eq!(
            service_and_env(&by_dest, &p, ""),
            ("courses-fe".into(), "prod-eu".into())
        );
    }

    #[test]
    fn the_version_is_the_tag_else_the_image_else_the_short_revision() {
        let rev = "9d8a6c2f0e1b4a7d3c5e8f9a0b1c2d3e4f5a6b7c";
        let tagged = RevisionMetadata {
            tags: vec!["latest".into(), "v5.3.0".into(), "v5.2.9".into()],
            ..Default::default()
        };
        assert_eq!(
            version(Some(&tagged), Some("5.3.0-img"), Some(rev)),
            (Some("v5.3.0".into()), Some("tag"))
        );
        let untagged = RevisionMetadata::default();
        assert_eq!(
            version(Some(&untagged), Some("5.3.0-img"), Some(rev)),
            (Some("5.3.0-img".into()), Some("image"))
        );
        assert_eq!(
            version(None, None, Some(rev)),
            (Some("9d8a6c2".into()), Some("revision"))
        );
        assert_eq!(short("1.2.3"), "1.2.3", "a chart version stays whole");
        assert_eq!(version(None, None, None), (None, None));
        let odd = RevisionMetadata {
            tags: vec!["release-candidate".into()],
            ..Default::default()
        };
        assert_eq!(pick_tag(&odd.tags).as_deref(), Some("release-candidate"));
    }

    #[test]
    fn went_backwards_only_by_semver() {
        assert!(
            went_backwards(Some("5.3.0"), Some("5.33.0")),
            "the seed case"
        );
        assert!(went_backwards(Some("v5.3.0"), Some("v5.33.0")));
        assert!(!went_backwards(Some("5.33.0"), Some("5.3.0")));
        assert!(!went_backwards(Some("5.33.0"), Some("5.33.0")));
        assert!(went_backwards(Some("1.0.0-rc.1"), Some("1.0.0")));
        assert!(!went_backwards(Some("abc1234"), Some("5.33.0")));
        assert!(!went_backwards(Some("5.3.0"), None));
    }

    #[test]
    fn history_gives_the_previous_revision_and_when_the_current_one_was_deployed() {
        let a = app(json!({"metadata": {"name": "search-ui"}, "status": {
        "sync": {"status": "Synced", "revision": "bbb"},
        "history": [
            {"id": 0, "revision": "aaa", "deployedAt": "2026-11-01T10:00:00Z", "source": {"repoURL": ""}},
            {"id": 1, "revision": "ccc", "deployedAt": "2026-11-02T10:00:00Z", "source": {"repoURL": ""}},
            {"id": 2, "revision": "bbb", "deployedAt": "2026-11-03T10:00:00+01:00", "source": {"repoURL": ""}},
            {"id": 3, "revision": "bbb", "deployedAt": "2026-11-04T10:00:00Z", "source": {"repoURL": ""}}
        ]}}));
        let current = current_revision(&a);
        assert_eq!(current.as_deref(), Some("bbb"));
        assert_eq!(
            previous_revision(&a, current.as_deref()).as_deref(),
            Some("ccc")
        );
        assert_eq!(
            deployed_at(&a, current.as_deref()).as_deref(),
            Some("2026-11-04T10:00:00Z")
        );
        let multi = app(json!({"status": {"history": [
            {"id": 0, "revisions": ["r1", "chart-1"], "deployedAt": "2026-11-01T10:00:00Z"}]}}));
        assert_eq!(current_revision(&multi).as_deref(), Some("r1"));
        assert_eq!(previous_revision(&multi, Some("r1")), None);
    }

    fn rollout(step: u64, phase: &str, message: &str, abort: bool) -> Value {
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": {"name": "payments-api", "namespace": "payments"},
            "spec": {"strategy": {"canary": {"steps": [
                {"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "10m"}}
            ]}}},
            "status": {"currentStepIndex": step, "phase": phase, "message": message, "abort": abort}
        })
    }

    #[test]
    fn a_paused_canary_reads_its_step_and_weight_from_the_live_object() {
        let r = rollout_from_live(&rollout(1, "Paused", "CanaryPauseStep", false)).unwrap();
        assert_eq!(
            (r.step, r.steps, r.weight, r.paused, r.aborted),
            (Some(1), Some(4), Some(25), true, false)
        );
        assert_eq!(r.strategy.as_deref(), Some("Canary"));
        assert_eq!(
            rollout_words(&r).as_deref(),
            Some("rollout paused at step 1 of 4, canary weight 25%")
        );
        let done = rollout_from_live(&rollout(4, "Healthy", "", false)).unwrap();
        assert_eq!((done.weight, done.paused), (Some(100), false));
        assert_eq!(rollout_words(&done), None);
        let aborted = rollout_from_live(&rollout(
            2,
            "Degraded",
            "RolloutAborted: Rollout aborted update to revision 3",
            true,
        ))
        .unwrap();
        assert!(aborted.aborted && !aborted.paused);
        assert_eq!(aborted.weight, Some(0));
        assert_eq!(
            rollout_words(&aborted).as_deref(),
            Some("rollout aborted at step 2 of 4: Rollout aborted update to revision 3")
        );
        assert_eq!(rollout_from_live(&json!({"kind": "Deployment"})), None);
    }

    fn env(name: &str, version: Option<&str>) -> EnvStatus {
        EnvStatus {
            env: name.into(),
            version: version.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn services_are_in_step_when_every_known_version_agrees() {
        let grouped = group(vec![
            ("b".into(), env("dev", Some("2.8.0"))),
            ("a".into(), env("dev", Some("1.0.0"))),
            ("b".into(), env("stag", Some("2.8.0"))),
            ("b".into(), env("prod", Some("2.7.3"))),
            ("a".into(), env("prod", Some("1.0.0"))),
            ("a".into(), env("qa", None)),
            ("a".into(), env("stag", Some("v1.0.0"))),
        ]);
        assert_eq!(grouped[0].service, "a");
        assert!(grouped[0].in_step);
        assert_eq!(grouped[0].differs, None);
        assert!(!grouped[1].in_step);
        assert_eq!(
            grouped[1].differs.as_deref(),
            Some("prod runs 2.7.3; dev, stag run 2.8.0")
        );
        let envs: Vec<&str> = grouped[1].envs.iter().map(|e| e.env.as_str()).collect();
        assert_eq!(envs, ["dev", "stag", "prod"], "the order given");
    }

    #[test]
    fn an_environment_says_in_words_what_needs_attention() {
        let a = app(
            json!({"metadata": {"name": "prod-payments-api", "namespace": "argocd"},
            "spec": {"source": {"repoURL": "https://git.acme.io/payments.git"}},
            "status": {
                "sync": {"status": "OutOfSync", "revision": "5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f"},
                "health": {"status": "Degraded"},
                "operationState": {"phase": "Failed", "message": "one or more objects failed to apply"},
                "summary": {"images": ["registry.acme.io/payments-api:3.1.0"]},
                "history": [
                    {"id": 0, "revision": "4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e", "deployedAt": "2026-11-01T10:00:00Z"},
                    {"id": 1, "revision": "5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f5f", "deployedAt": "2026-11-02T10:00:00Z"}]}}),
        );
        let before = RevisionMetadata {
            tags: vec!["v3.2.0".into()],
            ..Default::default()
        };
        let now = RevisionMetadata {
            tags: vec!["v3.1.0".into()],
            message: Some("Pay: retry once\n\nbody".into()),
            ..Default::default()
        };
        let (service, e) = env_status(
            &a,
            "https://argocd.prod/",
            "prod-cluster",
            &EnvPattern::default(),
            Gathered {
                metadata: Some(&now),
                previous_metadata: Some(&before),
                rollout: rollout_from_live(&rollout(1, "Paused", "CanaryPauseStep", false)),
                deep_links: Vec::new(),
            },
        );
        assert_eq!(service, "payments-api");
        assert_eq!(
            (e.env.as_str(), e.context.as_str()),
            ("prod", "prod-cluster")
        );
        assert_eq!(e.version.as_deref(), Some("v3.1.0"));
        assert_eq!(e.previous_version.as_deref(), Some("v3.2.0"));
        assert!(e.went_backwards);
        assert_eq!(e.image_tag.as_deref(), Some("3.1.0"));
        assert_eq!(e.subject.as_deref(), Some("Pay: retry once"));
        assert_eq!(e.deployed_at.as_deref(), Some("2026-11-02T10:00:00Z"));
        assert_eq!(
            e.links.argocd.as_deref(),
            Some("https://argocd.prod/applications/argocd/prod-payments-api")
        );
        assert_eq!(
            e.notes,
            [
                "went backwards from v3.2.0",
                "OutOfSync",
                "sync failed: one or more objects failed to apply",
                "Degraded",
                "rollout paused at step 1 of 4, canary weight 25%"
            ]
        );
    }
}
