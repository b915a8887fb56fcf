//! Realistic Applications for the fake: one builder ([`AppBuilder`]) shaped like the real
//! generated Application in `tests/fixtures/argocd/application-appset-generated-with-status.derived.json`
//! (ownerReferences, finalizers, `status.history` x10, `resources`, `operationState` with
//! `syncResult`, `sync.comparedTo`, `summary`), used by the demo scenario and by
//! [`generated`], which stamps out thousands of them (~12 KB each) for scale tests and
//! benchmarks; [`write_list`] writes such a list to a file.

use std::io::Write;
use std::path::Path;

use serde_json::{Map, Value, json};

/// The services the generated previews belong to (about 20, like a mid-sized org).
pub const SERVICES: &[&str] = &[
    "courses-fe",
    "checkout-api",
    "search-ui",
    "catalog-api",
    "cart-fe",
    "payments-api",
    "accounts-fe",
    "reviews-api",
    "inventory-api",
    "shipping-api",
    "notifications-api",
    "profile-fe",
    "admin-ui",
    "pricing-api",
    "orders-api",
    "recommendations-api",
    "media-api",
    "auth-api",
    "landing-fe",
    "help-center-fe",
];

/// Deterministic pseudo-random numbers (splitmix64), so runs are reproducible.
pub(crate) fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A 40-hex-digit commit sha derived from `seed`.
pub(crate) fn sha(seed: u64) -> String {
    format!(
        "{:016x}{:016x}{:08x}",
        mix(seed),
        mix(seed ^ 0xA5A5),
        mix(seed ^ 0x5A5A) as u32
    )
}

/// What varies between Applications; everything else is filled in realistically.
#[derive(Debug, Clone)]
pub struct AppBuilder {
    pub name: String,
    pub service: String,
    pub project: String,
    /// `Some(n)`: a PR preview (label `type: pr`, helm `prNumber`, ApplicationSet owner).
    pub pr: Option<u64>,
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
    pub revision: String,
    pub image_tag: String,
    pub health: String,
    pub sync: String,
    pub phase: String,
    pub created: String,
    pub external_urls: Vec<String>,
    /// The cluster (`spec.destination.name`).
    pub cluster: String,
    pub seed: u64,
}

impl AppBuilder {
    /// A healthy, synced base (non-preview) app of `service`.
    pub fn base(service: &str, seed: u64) -> AppBuilder {
        let revision = sha(seed);
        AppBuilder {
            name: service.to_owned(),
            service: service.to_owned(),
            project: "default".into(),
            pr: None,
            labels: vec![("type".into(), "base".into())],
            annotations: Vec::new(),
            image_tag: format!("dev-{}", &revision[..7]),
            revision,
            health: "Healthy".into(),
            sync: "Synced".into(),
            phase: "Succeeded".into(),
            created: "2025-01-14T09:12:44Z".into(),
            external_urls: Vec::new(),
            cluster: "dev-eu-west-1".into(),
            seed,
        }
    }

    /// A PR preview `<service>-pr-<pr>`.
    pub fn preview(service: &str, pr: u64, seed: u64) -> AppBuilder {
        let mut b = AppBuilder::base(service, seed);
        b.name = format!("{service}-pr-{pr}");
        b.pr = Some(pr);
        b.labels = vec![
            ("type".into(), "pr".into()),
            ("preview-switch.io/service".into(), service.into()),
            ("app.kubernetes.io/part-of".into(), service.into()),
        ];
        b.created = format!(
            "2026-11-{:02}T{:02}:{:02}:{:02}Z",
            1 + mix(seed) % 20,
            mix(seed + 1) % 24,
            mix(seed + 2) % 60,
            mix(seed + 3) % 60
        );
        b
    }

    fn namespace(&self) -> String {
        match self.pr {
            Some(pr) => format!("{}-pr-{pr}", self.service),
            None => self.service.clone(),
        }
    }

    fn source(&self, revision: &str) -> Value {
        let tag = format!("dev-{}", &revision[..7]);
        let mut values = json!({
            "image": {"repository": format!("registry.example.test/web/{}", self.service), "tag": tag},
            "replicaCount": 1,
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
            "ingress": {"enabled": self.pr.is_none(), "className": "nginx"}
        });
        if let Some(pr) = self.pr {
            values["prNumber"] = json!(pr.to_string());
            values["imageTag"] = json!(tag);
        }
        json!({
            "repoURL": format!("https://github.com/example-org/{}.git", self.service),
            "path": "deploy/chart",
            "targetRevision": revision,
            "helm": {
                "releaseName": self.name,
                "valueFiles": ["values.yaml", "values-dev.yaml"],
                "valuesObject": values
            }
        })
    }

    fn resources(&self) -> Vec<Value> {
        let ns = self.namespace();
        let health = json!({"status": self.health});
        let mut out = vec![
            json!({"kind": "ConfigMap", "name": format!("{}-config", self.name), "namespace": ns, "status": self.sync, "version": "v1"}),
            json!({"kind": "Service", "name": self.name, "namespace": ns, "status": self.sync, "version": "v1", "health": {"status": "Healthy"}}),
            json!({"kind": "ServiceAccount", "name": self.name, "namespace": ns, "status": self.sync, "version": "v1"}),
            json!({"group": "apps", "kind": "Deployment", "name": self.name, "namespace": ns, "status": self.sync, "version": "v1", "health": health}),
            json!({"group": "autoscaling", "kind": "HorizontalPodAutoscaler", "name": self.name, "namespace": ns, "status": self.sync, "version": "v2", "health": {"status": "Healthy"}}),
        ];
        if self.pr.is_some() {
            out.push(json!({"group": "policy.linkerd.io", "kind": "HTTPRoute", "name": self.name, "namespace": self.service, "status": self.sync, "version": "v1beta3"}));
        } else {
            out.push(json!({"group": "networking.k8s.io", "kind": "Ingress", "name": self.name, "namespace": ns, "status": self.sync, "version": "v1", "health": {"status": "Healthy"}}));
        }
        out
    }

    pub fn build(&self) -> Value {
        let ns = self.namespace();
        let mut labels = Map::new();
        for (k, v) in &self.labels {
            labels.insert(k.clone(), Value::String(v.clone()));
        }
        let mut annotations = Map::new();
        annotations.insert(
            "argocd.argoproj.io/manifest-generate-paths".into(),
            json!(".;/deploy/chart"),
        );
        annotations.insert(
            "notifications.argoproj.io/subscribe.on-health-degraded.slack".into(),
            json!(format!("team-{}", self.service)),
        );
        annotations.insert(
            "notifications.argoproj.io/subscribe.on-sync-failed.slack".into(),
            json!(format!("team-{}", self.service)),
        );
        for (k, v) in &self.annotations {
            annotations.insert(k.clone(), Value::String(v.clone()));
        }
        let uid = |salt: u64| {
            let h = sha(self.seed ^ salt);
            format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..32]
            )
        };
        let mut metadata = json!({
            "name": self.name,
            "namespace": "argocd",
            "uid": uid(1),
            "generation": 40 + mix(self.seed) % 300,
            "creationTimestamp": self.created,
            "labels": labels,
            "annotations": annotations,
            "finalizers": ["resources-finalizer.argocd.argoproj.io"],
        });
        if self.pr.is_some() {
            metadata["ownerReferences"] = json!([{
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "ApplicationSet",
                "name": format!("{}-previews", self.service),
                "uid": uid(2),
                "controller": true,
                "blockOwnerDeletion": true
            }]);
        }
        let source = self.source(&self.revision);
        let destination = json!({"name": self.cluster, "namespace": ns});
        let history: Vec<Value> = (0..10u64)
            .map(|i| {
                let rev = if i == 9 {
                    self.revision.clone()
                } else {
                    sha(self.seed ^ (i + 100))
                };
                json!({
                    "id": 20 + i,
                    "revision": rev,
                    "deployStartedAt": format!("2026-11-{:02}T1{}:0{}:05Z", 10 + i, i % 10, i % 10),
                    "deployedAt": format!("2026-11-{:02}T1{}:0{}:09Z", 10 + i, i % 10, i % 10),
                    "initiatedBy": {"automated": true},
                    "source": self.source(&rev)
                })
            })
            .collect();
        let sync_result_resources: Vec<Value> = self
            .resources()
            .iter()
            .map(|r| {
                json!({
                    "group": r.get("group").cloned().unwrap_or(json!("")),
                    "version": r["version"],
                    "kind": r["kind"],
                    "namespace": r["namespace"],
                    "name": r["name"],
                    "status": "Synced",
                    "message": format!("{}/{} serverside-applied", r["kind"].as_str().unwrap_or("").to_lowercase(), r["name"].as_str().unwrap_or("")),
                    "hookPhase": "Running",
                    "syncPhase": "Sync"
                })
            })
            .collect();
        let mut conditions = Vec::new();
        if self.health == "Degraded" {
            conditions.push(json!({
                "type": "SyncError",
                "message": format!("Deployment {}: readiness probe failed: HTTP probe failed with statuscode: 503", self.name),
                "lastTransitionTime": "2026-11-20T08:15:00Z"
            }));
        }
        let mut summary = json!({
            "images": [format!("registry.example.test/web/{}:{}", self.service, self.image_tag)]
        });
        if !self.external_urls.is_empty() {
            summary["externalURLs"] = json!(self.external_urls);
        }
        let operation_state = json!({
            "operation": {
                "initiatedBy": {"automated": true},
                "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}},
                "sync": {"revision": self.revision, "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"], "syncStrategy": {"hook": {}}}
            },
            "phase": self.phase,
            "message": if self.phase == "Running" { "waiting for healthy state of apps/Deployment/".to_owned() + &self.name } else { "successfully synced (all tasks run)".to_owned() },
            "startedAt": "2026-11-20T08:14:51Z",
            "finishedAt": if self.phase == "Running" { Value::Null } else { json!("2026-11-20T08:14:58Z") },
            "syncResult": {"resources": sync_result_resources, "revision": self.revision, "source": source}
        });
        json!({
            "apiVersion": "argoproj.io/v1alpha1",
            "kind": "Application",
            "metadata": metadata,
            "spec": {
                "project": self.project,
                "source": source,
                "destination": destination,
                "syncPolicy": {
                    "automated": {"prune": true, "selfHeal": true},
                    "syncOptions": ["CreateNamespace=true", "ServerSideApply=true"],
                    "retry": {"limit": 5, "backoff": {"duration": "5s", "factor": 2, "maxDuration": "3m"}}
                }
            },
            "status": {
                "controllerNamespace": "argocd",
                "health": {"status": self.health, "lastTransitionTime": "2026-11-20T08:15:00Z"},
                "sync": {
                    "status": self.sync,
                    "revision": self.revision,
                    "comparedTo": {"source": source, "destination": destination}
                },
                "history": history,
                "operationState": operation_state,
                "reconciledAt": "2026-11-22T10:00:00Z",
                "resources": self.resources(),
                "sourceType": "Helm",
                "summary": summary,
                "conditions": conditions,
                "resourceHealthSource": "appTree"
            }
        })
    }
}

/// The domain the generated services live under (`courses-fe.dev.example.test`).
pub const DOMAIN: &str = "dev.example.test";

/// The `i`-th generated preview: `<svc>-pr-<1000 + i>` of service `i % 20`, its health
/// cycling Healthy, Healthy, Healthy, Progressing, Degraded. No route is declared yet.
pub fn preview_builder(i: usize) -> AppBuilder {
    let healths = ["Healthy", "Healthy", "Healthy", "Progressing", "Degraded"];
    let service = SERVICES[i % SERVICES.len()];
    let mut b = AppBuilder::preview(service, 1000 + i as u64, i as u64);
    b.health = healths[i % healths.len()].into();
    if b.health == "Progressing" {
        b.phase = "Running".into();
    }
    b
}

/// The `j`-th generated non-preview app: the first 20 are the services' base apps (with
/// externalURLs naming their hosts), the rest workers labelled by team.
pub fn ordinary_builder(j: usize) -> AppBuilder {
    let seed = 1_000_000 + j as u64;
    let service = SERVICES[j % SERVICES.len()];
    let mut b = AppBuilder::base(service, seed);
    if j < SERVICES.len() {
        b.external_urls = vec![
            format!("https://{service}.{DOMAIN}/"),
            format!("{service} admin|https://{service}.{DOMAIN}/admin"),
        ];
    } else {
        b.name = format!("{service}-worker-{j:05}");
        b.labels = vec![("team".into(), format!("team-{service}"))];
    }
    b
}

/// `apps` realistic Applications, `previews` of them PR previews (label `type: pr`, name
/// `<svc>-pr-<n>`, helm `prNumber`, cookie annotations) spread over [`SERVICES`]; the
/// rest are base apps for those services (with externalURLs) and other ordinary apps.
/// `previews` is capped at `apps`. (Previews routed by discovery instead, with their
/// ApplicationSets: [`crate::Scenario::at_scale`].)
pub fn generated(apps: usize, previews: usize) -> Vec<Value> {
    let previews = previews.min(apps);
    let mut out = Vec::with_capacity(apps);
    for i in 0..previews {
        let mut b = preview_builder(i);
        let service = b.service.clone();
        b.annotations = vec![
            (
                "preview-switch.io/cookie".into(),
                format!("team-{service}-pr"),
            ),
            (
                "preview-switch.io/hosts".into(),
                format!("{service}.{DOMAIN}"),
            ),
        ];
        out.push(b.build());
    }
    out.extend((0..apps - previews).map(|j| ordinary_builder(j).build()));
    out
}

/// Writes the unprojected ApplicationList (`{"metadata":..,"items":[..]}`) to `path`,
/// one item at a time, for the decode benchmark.
pub fn write_list(path: &Path, apps: &[Value]) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    w.write_all(br#"{"metadata":{"resourceVersion":"123456"},"items":"#)?;
    if apps.is_empty() {
        w.write_all(b"null}")?;
    } else {
        for (i, app) in apps.iter().enumerate() {
            w.write_all(if i == 0 { b"[" } else { b"," })?;
            serde_json::to_writer(&mut w, app)?;
        }
        w.write_all(b"]}")?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    // That the companion decodes these is the companion's test
    // (`companion/tests/it/cli.rs`: `list_reads_every_generated_preview`).
    #[test]
    fn generated_apps_are_about_12_kb_and_named() {
        let apps = generated(60, 20);
        for app in &apps {
            let size = serde_json::to_vec(app).unwrap().len();
            assert!(
                (8_400..=15_600).contains(&size),
                "{} is {size} bytes",
                app["metadata"]["name"]
            );
            let name = app["metadata"]["name"].as_str().unwrap_or_default();
            assert!(!name.is_empty(), "{app:#}");
        }
    }

    #[test]
    fn previews_look_like_pull_request_previews() {
        let apps = generated(100, 30);
        let previews: Vec<&Value> = apps
            .iter()
            .filter(|a| a["metadata"]["labels"]["type"] == "pr")
            .collect();
        assert_eq!(previews.len(), 30);
        let services: std::collections::BTreeSet<&str> = previews
            .iter()
            .map(|a| {
                a["metadata"]["labels"]["preview-switch.io/service"]
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert_eq!(services.len(), 20);
        let p = previews[0];
        let name = p["metadata"]["name"].as_str().unwrap();
        let pr = p["spec"]["source"]["helm"]["valuesObject"]["prNumber"]
            .as_str()
            .unwrap();
        assert!(name.ends_with(&format!("-pr-{pr}")), "{name} vs {pr}");
        assert!(p["metadata"]["annotations"]["preview-switch.io/cookie"].is_string());
        let bases = apps
            .iter()
            .filter(|a| a["status"]["summary"]["externalURLs"].is_array())
            .count();
        assert_eq!(bases, 20);
    }

    #[test]
    fn write_list_writes_a_decodable_list() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.json");
        write_list(&path, &generated(5, 2)).unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["items"].as_array().unwrap().len(), 5);
        write_list(&path, &[]).unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert!(v["items"].is_null());
    }
}
