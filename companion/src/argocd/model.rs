//! The subset of Argo CD's Application, ApplicationSet, managed-resource, list and watch
//! JSON that Preview Switch reads: the shapes every other `argocd` module and `core` share,
//! so data flows one way (model → decode → client) and no two modules import each other.
//! Unknown fields are ignored, and `null` is accepted wherever Argo CD may send it (Go's
//! encoder writes nil maps and slices as `null`), so a newer or older server still decodes.
//! These are a foreign boundary: nothing outside the companion sees these names.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// `null` or absent → `T::default()`.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// For fields only shown to people (status, timestamps, destination, sources): a value of
/// the wrong type reads as absent instead of failing the whole list, so one odd
/// Application (a CRD version skew, a hand-edited object) cannot hide every other preview.
/// Identity fields (name, namespace, labels, annotations) stay strict.
pub(crate) fn lenient<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned + Default,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(T::deserialize(value).unwrap_or_default())
}

/// The scalar form of [`lenient`], without building a tree (these sit on the decoder's hot
/// path): a string is kept, anything else (number, bool, list, object) is skipped as absent.
pub(crate) fn lenient_str<'de, D>(d: D) -> Result<Option<String>, D::Error>
where
    D: Deserializer<'de>,
{
    use serde::de::{IgnoredAny, MapAccess, SeqAccess, Visitor};
    struct AnyToStr;
    impl<'de> Visitor<'de> for AnyToStr {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(AnyToStr)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Self::Value, A::Error> {
            while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }
    d.deserialize_any(AnyToStr)
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Application {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: AppSpec,
    // `nullable`, not `lenient`: status is large in unprojected lists; its fields are lenient.
    #[serde(deserialize_with = "nullable")]
    pub status: AppStatus,
    /// The operation a sync request set (`operation.sync.revision`), until the controller
    /// picks it up.
    #[serde(deserialize_with = "lenient")]
    pub operation: Option<Operation>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Operation {
    pub sync: Option<SyncOperation>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SyncOperation {
    pub revision: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    #[serde(deserialize_with = "nullable")]
    pub namespace: String,
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    #[serde(deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
    #[serde(deserialize_with = "lenient_str")]
    pub creation_timestamp: Option<String>,
    #[serde(deserialize_with = "lenient_str")]
    pub resource_version: Option<String>,
    #[serde(deserialize_with = "lenient")]
    pub owner_references: Vec<OwnerReference>,
}

impl ObjectMeta {
    /// The namespace, or Argo CD's default ([`DEFAULT_NAMESPACE`]) when the object (or the
    /// list projection) left it empty: the one place that default is applied.
    pub fn namespace_or_default(&self) -> &str {
        if self.namespace.is_empty() {
            DEFAULT_NAMESPACE
        } else {
            &self.namespace
        }
    }
}

/// Argo CD's default namespace for Applications and ApplicationSets.
pub const DEFAULT_NAMESPACE: &str = "argocd";

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OwnerReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub controller: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AppSpec {
    #[serde(deserialize_with = "nullable")]
    pub project: String,
    pub source: Option<Source>,
    #[serde(deserialize_with = "nullable")]
    pub sources: Vec<Source>,
    #[serde(deserialize_with = "nullable")]
    pub destination: Destination,
}

impl AppSpec {
    /// `spec.source` followed by every `spec.sources[]` entry.
    pub fn all_sources(&self) -> impl Iterator<Item = &Source> {
        self.source.iter().chain(self.sources.iter())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Source {
    #[serde(rename = "repoURL")]
    pub repo_url: Option<String>,
    pub path: Option<String>,
    pub chart: Option<String>,
    pub target_revision: Option<String>,
    pub helm: Option<Helm>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Helm {
    /// A YAML document as a string.
    pub values: Option<String>,
    /// The same as an object (Argo CD 2.6+).
    pub values_object: Option<serde_json::Value>,
    #[serde(deserialize_with = "nullable")]
    pub parameters: Vec<HelmParameter>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HelmParameter {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Destination {
    pub server: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AppStatus {
    // Its fields are lenient; `comparedTo` makes the whole object too big for `lenient`.
    #[serde(deserialize_with = "nullable")]
    pub sync: SyncStatus,
    #[serde(deserialize_with = "lenient")]
    pub health: HealthStatus,
    // Holds the last sync's whole result: too big for `lenient`; its fields are lenient.
    pub operation_state: Option<OperationState>,
    #[serde(deserialize_with = "lenient")]
    pub summary: Summary,
    /// `status.history[]`: past deployments, oldest first. Not in the list projection; read
    /// from whole list items (`envs`).
    #[serde(deserialize_with = "lenient")]
    pub history: Vec<RevisionHistory>,
    /// `status.resources[]`: what the app manages (kinds and names; per-resource health
    /// only where the controller persists it, before v3.0 by default).
    #[serde(deserialize_with = "nullable")]
    pub resources: Vec<ResourceStatus>,
}

/// One `status.history[]` entry (`RevisionHistory`): single-source apps carry `revision`
/// and `source`, multi-source apps `revisions` and `sources`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RevisionHistory {
    pub id: Option<i64>,
    pub revision: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub revisions: Vec<String>,
    pub deployed_at: Option<String>,
    pub source: Option<Source>,
    #[serde(deserialize_with = "nullable")]
    pub sources: Vec<Source>,
}

impl RevisionHistory {
    /// The (first source's) revision this entry deployed.
    pub fn first_revision(&self) -> Option<&str> {
        self.revision
            .as_deref()
            .or(self.revisions.first().map(String::as_str))
            .filter(|r| !r.is_empty())
    }
}

/// One `status.resources[]` entry.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ResourceStatus {
    #[serde(deserialize_with = "lenient_str")]
    pub group: Option<String>,
    #[serde(deserialize_with = "lenient_str")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "lenient_str")]
    pub namespace: Option<String>,
    #[serde(deserialize_with = "lenient_str")]
    pub name: Option<String>,
}

/// `GET /api/v1/applications/{name}/revisions/{revision}/metadata` (`RevisionMetadata`).
/// Immutable for a (repository, revision): cached on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(default)]
pub struct RevisionMetadata {
    #[serde(deserialize_with = "lenient_str")]
    pub author: Option<String>,
    #[serde(deserialize_with = "lenient_str")]
    pub date: Option<String>,
    #[serde(deserialize_with = "nullable")]
    pub tags: Vec<String>,
    #[serde(deserialize_with = "lenient_str")]
    pub message: Option<String>,
}

/// `GET /api/v1/applications/{name}/links` (`LinksResponse`; `{}` when none).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct LinksResponse {
    #[serde(deserialize_with = "nullable")]
    pub items: Vec<LinkInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct LinkInfo {
    pub title: String,
    pub url: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SyncStatus {
    #[serde(deserialize_with = "lenient_str")]
    pub status: Option<String>,
    #[serde(deserialize_with = "lenient_str")]
    pub revision: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HealthStatus {
    #[serde(deserialize_with = "lenient_str")]
    pub status: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OperationState {
    #[serde(deserialize_with = "lenient_str")]
    pub phase: Option<String>,
    /// Why the last operation failed, e.g. `one or more objects failed to apply`.
    #[serde(deserialize_with = "lenient_str")]
    pub message: Option<String>,
    #[serde(deserialize_with = "lenient_str")]
    pub finished_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Summary {
    #[serde(deserialize_with = "nullable")]
    pub images: Vec<String>,
    /// Plain URLs or `title|url`.
    #[serde(rename = "externalURLs", deserialize_with = "nullable")]
    pub external_urls: Vec<String>,
}

/// One item of `GET /api/v1/applications/{name}/managed-resources`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ManagedResource {
    pub group: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub version: String,
    /// The live object as a JSON **string**; `"null"` when absent.
    pub live_state: Option<String>,
    /// The desired object as a JSON **string**; `"null"` when absent.
    pub target_state: Option<String>,
}

/// The `managed-resources` response body.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ManagedResources {
    #[serde(deserialize_with = "nullable")]
    pub items: Vec<ManagedResource>,
}

/// One item of `GET /api/v1/applicationsets`. The spec stays JSON: only the Pull Request
/// generator is read from it ([`crate::core::scm::repo_from_appset_spec`]).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ApplicationSet {
    #[serde(deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    #[serde(deserialize_with = "nullable")]
    pub spec: serde_json::Value,
    #[serde(deserialize_with = "nullable")]
    pub status: AppSetStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AppSetStatus {
    /// The Applications it generated (Argo CD 2.8+), so a preview's ApplicationSet is found
    /// without its `ownerReferences`, which the list projection never returns.
    #[serde(deserialize_with = "nullable")]
    pub resources: Vec<AppSetResource>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct AppSetResource {
    pub kind: String,
    pub name: String,
    pub namespace: String,
}

/// The `applicationsets` list body (`items` may be `null`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ApplicationSetList {
    #[serde(deserialize_with = "nullable")]
    pub items: Vec<ApplicationSet>,
}

/// `GET /api/version` (PascalCase keys).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Version {
    pub version: String,
}

/// A decoded ApplicationList (what [`crate::argocd::decode`] yields).
#[derive(Debug, Clone, Default)]
pub struct AppList {
    pub resource_version: Option<String>,
    pub items: Vec<Application>,
}

/// One NDJSON (or SSE `data:`) line of `GET /api/v1/stream/applications`.
#[derive(Deserialize)]
pub struct WatchLine {
    pub result: Option<WatchResult>,
    pub error: Option<serde_json::Value>,
}

/// The event inside a [`WatchLine`]: `ADDED`, `MODIFIED` or `DELETED` and the object.
#[derive(Deserialize)]
pub struct WatchResult {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub application: Application,
}

/// Argo CD's error body: `{"error": "...", "code": 16, "message": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ApiError {
    pub error: Option<String>,
    pub code: Option<i64>,
    pub message: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_generated_application_decodes() {
        let raw = include_str!(
            "../../../tests/fixtures/argocd/application-appset-generated-with-status.derived.json"
        );
        let app: Application = serde_json::from_str(raw).unwrap();
        assert_eq!(app.metadata.owner_references[0].kind, "ApplicationSet");
        assert_eq!(app.status.health.status.as_deref(), Some("Healthy"));
        assert_eq!(
            app.status.operation_state.unwrap().phase.as_deref(),
            Some("Succeeded")
        );
    }

    #[test]
    fn nulls_where_go_writes_them_decode_as_empty() {
        let app: Application = serde_json::from_str(
            r#"{"metadata":{"name":"a","labels":null,"annotations":null,"ownerReferences":null},
                "spec":{"sources":null,"destination":null},"status":{"summary":{"images":null,"externalURLs":null}}}"#,
        )
        .unwrap();
        assert_eq!(app.metadata.name, "a");
        assert!(app.metadata.labels.is_empty() && app.status.summary.images.is_empty());
    }

    #[test]
    fn wrong_types_in_display_fields_read_as_absent_and_identity_stays_strict() {
        let app: Application = serde_json::from_str(
            r#"{"metadata":{"name":"a-pr-1","creationTimestamp":17,"labels":{"type":"pr"}},
                "metadata2":{"resourceVersion":{"a":[1]}},
                "status":{"health":{"status":5},"sync":{"status":["Synced"]},
                          "operationState":{"phase":{"x":1},"finishedAt":false},
                          "summary":{"externalURLs":"x"}}}"#,
        )
        .unwrap();
        assert_eq!(app.metadata.name, "a-pr-1");
        assert_eq!(app.metadata.labels["type"], "pr");
        assert_eq!(app.metadata.creation_timestamp, None);
        assert_eq!(app.status.health.status, None);
        assert_eq!(app.status.sync.status, None);
        assert_eq!(app.status.operation_state.unwrap().phase, None);
        assert!(serde_json::from_str::<Application>(r#"{"metadata":{"name":7}}"#).is_err());
        assert!(
            serde_json::from_str::<Application>(r#"{"metadata":{"labels":{"type":1}}}"#).is_err()
        );
    }
}
