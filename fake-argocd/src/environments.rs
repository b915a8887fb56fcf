//! The demo's environments: three Argo CD servers, `dev`, `stag` and `prod`, each running
//! the demo services' non-preview Applications at realistic versions: one service in step
//! everywhere (courses-fe 5.34.0), one that differs (checkout-api: prod still on 2.7.3),
//! one whose prod went backwards (search-ui 5.33.0 followed by 5.3.0, the 5.33/5.3 slip),
//! and one whose prod Argo Rollout is paused at a canary step (payments-api). `dev` also
//! holds the demo's previews ([`Scenario::demo`]). Every deployed commit has revision
//! metadata with its tag, and every app a deep link. [`at_scale`] builds the same shape
//! with many services, for the `envs` benchmark.

use serde_json::{Value, json};

use super::FakeArgo;
use super::generate::{AppBuilder, mix};
use super::scenario::Scenario;

/// The deep link every demo app gets (argocd-cm `application.links`).
pub const DEEP_LINK: (&str, &str) = (
    "Grafana",
    "https://grafana.example.org/d/apps?var-app={name}",
);

/// One server of the environments demo.
#[derive(Debug, Clone)]
pub struct EnvServer {
    /// The config server name: dev, stag or prod.
    pub name: String,
    pub scenario: Scenario,
    /// `(repoURL, revision, tags, message)` the repo server knows.
    pub revisions: Vec<(String, String, Vec<String>, String)>,
}

impl EnvServer {
    /// A fake Argo CD serving this server's apps, commits and deep link.
    pub fn fake(&self) -> FakeArgo {
        let fake = self.scenario.fake();
        for (repo, rev, tags, message) in &self.revisions {
            let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
            fake.set_revision_metadata(repo, rev, &tags, message);
        }
        fake.set_deep_links(&[DEEP_LINK]);
        fake
    }
}

/// The commit a service's version was built from (stable across servers).
pub fn commit(service: &str, version: &str) -> String {
    let seed = service
        .bytes()
        .chain([0])
        .chain(version.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!(
        "{:016x}{:016x}{:08x}",
        mix(seed),
        mix(seed ^ 1),
        mix(seed ^ 2) as u32
    )
}

/// The repository a demo service deploys from (what `AppBuilder` writes).
pub fn repo(service: &str) -> String {
    format!("https://github.com/example-org/{service}.git")
}

/// What one environment of one service runs.
struct Deployed<'a> {
    service: &'a str,
    version: &'a str,
    previous: &'a str,
    health: &'a str,
    rollout: Option<Value>,
}

/// A non-preview Application running `d.version` of its service, with the history
/// `[previous, version]` and the image tagged with the bare version.
fn env_app(d: &Deployed<'_>, cluster: &str, seed: u64) -> Value {
    let mut b = AppBuilder::base(d.service, seed);
    b.cluster = cluster.into();
    b.revision = commit(d.service, d.version);
    b.image_tag = d.version.trim_start_matches('v').to_owned();
    b.health = d.health.into();
    let mut app = b.build();
    let prev = commit(d.service, d.previous);
    let source = app["spec"]["source"].clone();
    let entry = |id: u64, rev: &str, day: u32| {
        let mut s = source.clone();
        s["targetRevision"] = json!(rev);
        json!({"id": id, "revision": rev, "deployStartedAt": format!("2026-11-{day:02}T09:41:50Z"),
               "deployedAt": format!("2026-11-{day:02}T09:41:57Z"), "initiatedBy": {"automated": true},
               "source": s})
    };
    app["status"]["history"] = json!([entry(41, &prev, 12), entry(42, &b.revision, 19)]);
    if let Some(rollout) = &d.rollout {
        let resources = app["status"]["resources"]
            .as_array_mut()
            .expect("resources");
        resources.retain(|r| r["kind"] != "Deployment");
        resources.push(
            json!({"group": "argoproj.io", "version": "v1alpha1", "kind": "Rollout",
            "namespace": rollout["metadata"]["namespace"], "name": rollout["metadata"]["name"],
            "status": "Synced"}),
        );
    }
    app
}

/// A canary Rollout paused at its second step (weight 25%), as the rollouts controller
/// leaves it: `status.phase: Paused`, `message: CanaryPauseStep`.
pub fn paused_rollout(service: &str, version: &str) -> Value {
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": service, "namespace": service, "generation": 12,
            "annotations": {"rollout.argoproj.io/revision": "12"}},
        "spec": {
            "replicas": 4,
            "strategy": {"canary": {"steps": [
                {"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "10m"}}
            ]}},
            "template": {"spec": {"containers": [{"name": service,
                "image": format!("registry.example.test/web/{service}:{}", version.trim_start_matches('v'))}]}}
        },
        "status": {
            "phase": "Paused", "message": "CanaryPauseStep", "currentStepIndex": 1,
            "pauseConditions": [{"reason": "CanaryPauseStep", "startTime": "2026-11-20T09:45:00Z"}],
            "controllerPause": true, "observedGeneration": "12", "replicas": 4, "availableReplicas": 4
        }
    })
}

/// The rows of the demo: (service, dev, stag, prod, the version each ran before).
const DEMO: &[(&str, &str, &str, &str, &str)] = &[
    ("courses-fe", "v5.34.0", "v5.34.0", "v5.34.0", "v5.33.2"),
    ("checkout-api", "v2.8.0", "v2.8.0", "v2.7.3", "v2.7.2"),
    ("search-ui", "v5.33.0", "v5.33.0", "v5.3.0", "v5.33.0"),
    ("payments-api", "v3.2.0", "v3.2.0", "v3.2.0", "v3.1.0"),
];

/// The three servers. `site_port` is the demo site's port, for dev's previews' links.
pub fn demo(site_port: Option<u16>) -> Vec<EnvServer> {
    ["dev", "stag", "prod"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut scenario = if *name == "dev" {
                Scenario::demo(site_port)
            } else {
                Scenario {
                    apps: Vec::new(),
                    managed: Vec::new(),
                    appsets: Vec::new(),
                    routes: Vec::new(),
                    token: super::scenario::DEMO_TOKEN.into(),
                }
            };
            let mut revisions = Vec::new();
            for (row, (service, dev, stag, prod, before)) in DEMO.iter().enumerate() {
                let version = [dev, stag, prod][i];
                let paused = i == 2 && *service == "payments-api";
                let d = Deployed {
                    service,
                    version,
                    previous: before,
                    health: if paused { "Suspended" } else { "Healthy" },
                    rollout: paused.then(|| paused_rollout(service, version)),
                };
                let app = env_app(&d, name, 900 + (i * 10 + row) as u64);
                // dev's base apps exist in the demo already (with the site's hosts): keep
                // their identity and routing, give them the version.
                if let Some(existing) = scenario
                    .apps
                    .iter_mut()
                    .find(|a| a["metadata"]["name"] == *service)
                {
                    let urls = existing["status"]["summary"]["externalURLs"].clone();
                    *existing = app;
                    if !urls.is_null() {
                        existing["status"]["summary"]["externalURLs"] = urls;
                    }
                } else {
                    scenario.apps.push(app);
                }
                if let Some(rollout) = d.rollout {
                    scenario.managed.push((service.to_string(), vec![rollout]));
                }
                for v in [d.version, d.previous] {
                    revisions.push((
                        repo(service),
                        commit(service, v),
                        vec![v.to_owned()],
                        format!("Release {v}\n\n{service} {v}: see CHANGELOG.md"),
                    ));
                }
            }
            EnvServer {
                name: (*name).to_owned(),
                scenario,
                revisions,
            }
        })
        .collect()
}

/// `services` services on each of dev, stag and prod, each deployed at a tagged commit
/// with a previous one in its history: the `envs` benchmark's three servers.
pub fn at_scale(services: usize) -> Vec<EnvServer> {
    ["dev", "stag", "prod"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut apps = Vec::with_capacity(services);
            let mut revisions = Vec::with_capacity(services * 2);
            for s in 0..services {
                let service = format!("svc-{s:04}");
                let minor = if i == 2 && s % 7 == 0 { 9 } else { 10 };
                let version = format!("v1.{minor}.{}", s % 5);
                let previous = format!("v1.{}.0", minor - 1);
                let d = Deployed {
                    service: &service,
                    version: &version,
                    previous: &previous,
                    health: "Healthy",
                    rollout: None,
                };
                apps.push(env_app(&d, name, (i * 100_000 + s) as u64));
                for v in [&version, &previous] {
                    revisions.push((
                        repo(&service),
                        commit(&service, v),
                        vec![v.clone()],
                        format!("Release {v}"),
                    ));
                }
            }
            EnvServer {
                name: (*name).to_owned(),
                scenario: Scenario {
                    apps,
                    managed: Vec::new(),
                    appsets: Vec::new(),
                    routes: Vec::new(),
                    token: super::scenario::DEMO_TOKEN.into(),
                },
                revisions,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_environments_hold_each_case_once() {
        let servers = demo(None);
        let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["dev", "stag", "prod"]);
        let app = |server: usize, name: &str| {
            servers[server]
                .scenario
                .apps
                .iter()
                .find(|a| a["metadata"]["name"] == name)
                .cloned()
                .unwrap()
        };
        // search-ui's prod went from 5.33.0 to 5.3.0.
        let search = app(2, "search-ui");
        assert_eq!(
            search["status"]["sync"]["revision"],
            commit("search-ui", "v5.3.0")
        );
        assert_eq!(
            search["status"]["history"][0]["revision"],
            commit("search-ui", "v5.33.0")
        );
        // payments-api's prod runs a paused Rollout instead of a Deployment.
        let payments = app(2, "payments-api");
        assert_eq!(payments["status"]["health"]["status"], "Suspended");
        assert!(
            payments["status"]["resources"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["kind"] == "Rollout")
        );
        // dev keeps the demo's previews and the base apps' site links.
        assert_eq!(
            servers[0]
                .scenario
                .apps
                .iter()
                .filter(|a| a["metadata"]["labels"]["type"] == "pr")
                .count(),
            7
        );
        assert!(app(0, "courses-fe")["status"]["summary"]["externalURLs"].is_array());
        // Every deployed and previous commit has its tag.
        assert!(servers[2].revisions.iter().any(|(_, rev, tags, _)| *rev
            == commit("search-ui", "v5.33.0")
            && tags == &["v5.33.0"]));
    }
}
