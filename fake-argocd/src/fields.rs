//! The two `fields=` projections Argo CD applies, reproduced so that a client asking for a
//! key the real server drops gets nothing here either.
//!
//! Source, read from argoproj/argo-cd (`pkg/apiclient/application/forwarder_overwrite.go`,
//! commit 07bdcdf3867a4c468726169ad8a6584bfd5d99fd, and the same map in earlier v2/v3
//! versions of that file): the application **list** honours only the keys of the hand-kept
//! `appFields` map, each requested as `items.<key>`; everything else is silently dropped,
//! `metadata.ownerReferences` is not in the map, and `spec` is only selectable whole
//! (`items.spec.source` etc. are dropped). A `-` prefix turns the list into "every allowed
//! key except these". The list-level `metadata` (resourceVersion) is always written.
//! `items.status.sync.revision` is not in that file; PLATFORM.md D reports it from v3.5, so
//! it is honoured only when the configured version is at least 3.5.
//!
//! Every **other** endpoint (single app, managed resources, the watch stream) goes through
//! argoproj/pkg `grpc/http/forwarders.go`, a generic JSON-path filter ([`generic`]).

use serde_json::{Map, Value};

/// How a list-projection key reads its value and what Go writes when it is absent.
struct Allowed {
    key: &'static str,
    /// JSON path inside the Application.
    from: &'static [&'static str],
    /// Skip the key when the app has no `status.operationState` / `operation` / resources
    /// (the Go code returns an untyped nil there); otherwise write `missing`.
    skip_unless: Option<&'static [&'static str]>,
    missing: fn() -> Value,
}

fn null() -> Value {
    Value::Null
}
fn empty_string() -> Value {
    Value::String(String::new())
}
fn empty_object() -> Value {
    Value::Object(Map::new())
}

const OP_STATE: &[&str] = &["status", "operationState"];

#[rustfmt::skip]
const ALLOWED: &[Allowed] = &[
    Allowed { key: "metadata.name", from: &["metadata", "name"], skip_unless: None, missing: empty_string },
    Allowed { key: "metadata.namespace", from: &["metadata", "namespace"], skip_unless: None, missing: empty_string },
    Allowed { key: "metadata.annotations", from: &["metadata", "annotations"], skip_unless: None, missing: null },
    Allowed { key: "metadata.labels", from: &["metadata", "labels"], skip_unless: None, missing: null },
    Allowed { key: "metadata.creationTimestamp", from: &["metadata", "creationTimestamp"], skip_unless: None, missing: null },
    Allowed { key: "metadata.deletionTimestamp", from: &["metadata", "deletionTimestamp"], skip_unless: None, missing: null },
    Allowed { key: "spec", from: &["spec"], skip_unless: None, missing: empty_object },
    Allowed { key: "status.sourceHydrator", from: &["status", "sourceHydrator"], skip_unless: None, missing: empty_object },
    Allowed { key: "status.sync.status", from: &["status", "sync", "status"], skip_unless: None, missing: empty_string },
    Allowed { key: "status.health", from: &["status", "health"], skip_unless: None, missing: empty_object },
    Allowed { key: "status.summary", from: &["status", "summary"], skip_unless: None, missing: empty_object },
    Allowed { key: "status.operationState.startedAt", from: &["status", "operationState", "startedAt"], skip_unless: Some(OP_STATE), missing: null },
    Allowed { key: "status.operationState.finishedAt", from: &["status", "operationState", "finishedAt"], skip_unless: Some(OP_STATE), missing: null },
    Allowed { key: "status.resources", from: &["status", "resources"], skip_unless: Some(&["status", "resources", "0"]), missing: null },
    Allowed { key: "operation.sync", from: &["operation", "sync"], skip_unless: Some(&["operation"]), missing: null },
    Allowed { key: "status.operationState.phase", from: &["status", "operationState", "phase"], skip_unless: Some(OP_STATE), missing: empty_string },
    // Upstream returns SyncResult under this key (a real quirk, kept).
    Allowed { key: "status.operationState.operation.sync", from: &["status", "operationState", "syncResult"], skip_unless: Some(OP_STATE), missing: null },
];

const SYNC_REVISION: Allowed = Allowed {
    key: "status.sync.revision",
    from: &["status", "sync", "revision"],
    skip_unless: None,
    missing: empty_string,
};

/// A parsed `fields=` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    keys: Vec<String>,
    exclude: bool,
}

impl Fields {
    /// `None` when the parameter is absent or empty (no projection).
    pub fn parse(raw: Option<&str>) -> Option<Fields> {
        let raw = raw.filter(|s| !s.is_empty())?;
        let (raw, exclude) = match raw.strip_prefix('-') {
            Some(rest) => (rest, true),
            None => (raw, false),
        };
        Some(Fields {
            keys: raw.split(',').map(str::to_owned).collect(),
            exclude,
        })
    }

    fn has(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, p| match v {
        Value::Object(m) => m.get(*p),
        Value::Array(a) => p.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Whether the server version (e.g. `v3.5.1+abc`) is at least 3.5.
pub fn version_has_sync_revision(version: &str) -> bool {
    let v = version.trim_start_matches('v');
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (3, 5)
}

/// One list item projected through the allow-list (`processAppFields` upstream).
pub fn project_list_item(app: &Value, fields: &Fields, sync_revision: bool) -> Value {
    let mut out = Map::new();
    let extra = sync_revision.then_some(&SYNC_REVISION);
    for allowed in ALLOWED.iter().chain(extra) {
        if fields.has(&format!("items.{}", allowed.key)) == fields.exclude {
            continue;
        }
        if let Some(guard) = allowed.skip_unless
            && get(app, guard).is_none_or(Value::is_null)
        {
            continue;
        }
        let value = get(app, allowed.from)
            .cloned()
            .unwrap_or_else(allowed.missing);
        insert_path(&mut out, allowed.key, value);
    }
    Value::Object(out)
}

fn insert_path(out: &mut Map<String, Value>, key: &str, value: Value) {
    let mut parts = key.split('.').peekable();
    let mut node = out;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.insert(part.to_owned(), value);
            return;
        }
        let entry = node
            .entry(part.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        match entry {
            Value::Object(m) => node = m,
            // Unreachable with the fixed table: no key is a prefix of another's value.
            _ => return,
        }
    }
}

/// The generic projection (argoproj/pkg `messageMarshaler.processItem`): a key is kept
/// when its dotted path is listed, or when some listed path starts with it (then its
/// children are filtered in turn); arrays pass their path on to each element. The
/// prefix test is a plain string prefix, as upstream.
pub fn generic(value: &mut Value, fields: &Fields) {
    process(&mut Vec::new(), value, fields);
}

fn process(path: &mut Vec<String>, item: &mut Value, fields: &Fields) {
    match item {
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                path.push(k.clone());
                let field_path = path.join(".");
                let path_in = fields.has(&field_path);
                let parent_in = path_in || fields.keys.iter().any(|f| f.starts_with(&field_path));
                let keep = (fields.exclude && !path_in) || (!fields.exclude && parent_in);
                if keep {
                    if !path_in && let Some(v) = map.get_mut(&k) {
                        process(path, v, fields);
                    }
                } else {
                    map.remove(&k);
                }
                path.pop();
            }
        }
        Value::Array(items) => {
            for v in items {
                process(path, v, fields);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app() -> Value {
        json!({
            "metadata": {"name": "a-pr-1", "namespace": "argocd", "labels": {"type": "pr"},
                         "ownerReferences": [{"kind": "ApplicationSet"}], "resourceVersion": "7"},
            "spec": {"project": "default", "source": {"repoURL": "r"}},
            "status": {"sync": {"status": "Synced", "revision": "abc"}, "health": {"status": "Healthy"},
                       "history": [{"id": 1}], "operationState": {"phase": "Succeeded"}}
        })
    }

    #[test]
    fn list_projection_drops_keys_outside_the_allow_list() {
        let f = Fields::parse(Some(
            "items.metadata.name,items.metadata.ownerReferences,items.spec.source,items.status.history,items.status.health,items.status.sync.revision",
        ))
        .unwrap();
        let got = project_list_item(&app(), &f, false);
        assert_eq!(
            got,
            json!({"metadata": {"name": "a-pr-1"}, "status": {"health": {"status": "Healthy"}}})
        );
    }

    #[test]
    fn sync_revision_only_from_3_5() {
        let f = Fields::parse(Some("items.status.sync.revision,items.status.sync.status")).unwrap();
        assert!(!version_has_sync_revision("v3.1.5+a1b2c3d"));
        assert!(version_has_sync_revision("v3.5.1+a1b2c3d"));
        assert!(version_has_sync_revision("v4.0.0"));
        let got = project_list_item(&app(), &f, true);
        assert_eq!(
            got,
            json!({"status": {"sync": {"status": "Synced", "revision": "abc"}}})
        );
    }

    #[test]
    fn operation_state_keys_are_skipped_without_an_operation_state() {
        let mut a = app();
        a["status"]
            .as_object_mut()
            .unwrap()
            .remove("operationState");
        let f = Fields::parse(Some(
            "items.status.operationState.phase,items.metadata.annotations",
        ))
        .unwrap();
        assert_eq!(
            project_list_item(&a, &f, false),
            json!({"metadata": {"annotations": null}})
        );
    }

    #[test]
    fn exclusion_returns_every_other_allowed_key_only() {
        let f = Fields::parse(Some("-items.status.history")).unwrap();
        let got = project_list_item(&app(), &f, false);
        assert!(got["status"].get("history").is_none());
        assert!(got["metadata"].get("ownerReferences").is_none());
        assert_eq!(got["spec"]["project"], "default");
    }

    #[test]
    fn generic_projection_keeps_listed_paths_and_their_parents() {
        let mut v = json!({"result": {"type": "ADDED", "application": app()}});
        let f = Fields::parse(Some(
            "result.type,result.application.metadata.name,result.application.status.health",
        ))
        .unwrap();
        generic(&mut v, &f);
        assert_eq!(
            v,
            json!({"result": {"type": "ADDED", "application": {
                "metadata": {"name": "a-pr-1"}, "status": {"health": {"status": "Healthy"}}}}})
        );
    }
}
