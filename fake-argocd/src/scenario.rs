//! The demo scenario: three services on `<svc>.demo.test`, each with a base app whose
//! `externalURLs` name its host, and seven previews across Healthy / Progressing /
//! Degraded whose routes come from every source the companion understands (annotations, a
//! Linkerd v1beta3 HTTPRoute, a Gateway API HTTPRoute) plus one with no route at all.
//! The same data yields the cookie routes the demo site obeys ([`SiteRoute`]), so the
//! site routes exactly as the HTTPRoutes served by the fake Argo CD say.

use serde_json::{Value, json};

use super::FakeArgo;
use super::generate::{AppBuilder, sha};

/// The token the demo server accepts.
pub const DEMO_TOKEN: &str = "demo-token";

/// The domain the demo hosts live under (`courses-fe.demo.test`).
pub const DEMO_DOMAIN: &str = "demo.test";

/// One cookie route as the mesh would apply it: a request to `host` whose whole `Cookie`
/// header matches `cookie_regex` goes to the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteRoute {
    pub app: String,
    pub service: String,
    /// Host name without port.
    pub host: String,
    /// The HTTPRoute header-match value, e.g. `(^|.*; )team\-courses\-fe\-pr=123(;.*|$)`.
    pub cookie_regex: String,
    pub cookie_name: String,
    pub pr: u64,
    pub image_tag: String,
}

/// Everything the demo serves.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub apps: Vec<Value>,
    /// Live objects per app name, served by `managed-resources`.
    pub managed: Vec<(String, Vec<Value>)>,
    pub appsets: Vec<Value>,
    /// The cookie routes the demo site obeys.
    pub routes: Vec<SiteRoute>,
    pub token: String,
}

/// How a preview's route is declared in the scenario.
enum RouteBy {
    Annotations,
    Linkerd,
    Gateway,
    Nothing,
}

/// The HTTPRoute cookie match for `name=value` (PLATFORM E).
pub fn cookie_regex(name: &str, value: &str) -> String {
    format!(
        "(^|.*; ){}={}(;.*|$)",
        regex::escape(name),
        regex::escape(value)
    )
}

fn host(service: &str) -> String {
    format!("{service}.{DEMO_DOMAIN}")
}

fn cookie_rule(regex: &str, backend: &str, pr_namespace: &str) -> Value {
    json!({
        "matches": [{"headers": [{"name": "cookie", "type": "RegularExpression", "value": regex}]}],
        "backendRefs": [{"name": backend, "namespace": pr_namespace, "port": 80, "weight": 100}]
    })
}

fn linkerd_route(service: &str, app: &str, regex: &str) -> Value {
    json!({
        "apiVersion": "policy.linkerd.io/v1beta3",
        "kind": "HTTPRoute",
        "metadata": {"name": app, "namespace": service, "labels": {"app.kubernetes.io/instance": app}},
        "spec": {
            "parentRefs": [{"name": service, "kind": "Service", "group": "core", "port": 80}],
            "rules": [
                cookie_rule(regex, service, app),
                {"backendRefs": [{"name": service, "port": 80}]}
            ]
        }
    })
}

fn gateway_route(service: &str, app: &str, regex: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": app, "namespace": service},
        "spec": {
            "parentRefs": [{"name": "demo-gateway", "namespace": "gateway", "sectionName": "http"}],
            "hostnames": [host(service)],
            "rules": [cookie_rule(regex, service, app)]
        }
    })
}

fn workload(kind: &str, api_version: &str, name: &str, namespace: &str) -> Value {
    json!({
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": name}}
    })
}

impl Scenario {
    /// The demo data. `site_port` goes into the base apps' externalURLs so the links open
    /// the running demo site; `None` leaves the port out.
    pub fn demo(site_port: Option<u16>) -> Scenario {
        let port = site_port.map(|p| format!(":{p}")).unwrap_or_default();
        let services = [
            ("courses-fe", "Courses"),
            ("checkout-api", "Checkout"),
            ("search-ui", "Search"),
        ];
        let previews: [(&str, u64, &str, &str, RouteBy); 7] = [
            ("courses-fe", 123, "Healthy", "abc1234", RouteBy::Linkerd),
            (
                "courses-fe",
                130,
                "Progressing",
                "b7e91d0",
                RouteBy::Annotations,
            ),
            ("checkout-api", 45, "Healthy", "4f2c9a1", RouteBy::Gateway),
            ("checkout-api", 51, "Degraded", "e03b5f7", RouteBy::Linkerd),
            ("search-ui", 7, "Healthy", "9d8a6c2", RouteBy::Annotations),
            ("search-ui", 8, "Degraded", "c41f7e3", RouteBy::Gateway),
            ("search-ui", 9, "Progressing", "7a2e4b8", RouteBy::Nothing),
        ];
        let mut apps = Vec::new();
        let mut managed = Vec::new();
        let mut routes = Vec::new();
        for (i, (service, title)) in services.iter().enumerate() {
            let mut b = AppBuilder::base(service, 500 + i as u64);
            b.cluster = "demo".into();
            b.external_urls = vec![
                format!("http://{}{port}/", host(service)),
                format!("{title} (dev)|http://{}{port}/", host(service)),
            ];
            apps.push(b.build());
            managed.push((
                service.to_string(),
                vec![
                    workload("Deployment", "apps/v1", service, service),
                    workload("Service", "v1", service, service),
                    json!({
                        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                        "metadata": {"name": service, "namespace": service},
                        "spec": {"rules": [{"host": host(service), "http": {"paths": [{"path": "/", "pathType": "Prefix",
                            "backend": {"service": {"name": service, "port": {"number": 80}}}}]}}]}
                    }),
                ],
            ));
        }
        for (i, (service, pr, health, short, by)) in previews.into_iter().enumerate() {
            let seed = 700 + i as u64;
            let mut b = AppBuilder::preview(service, pr, seed);
            b.cluster = "demo".into();
            b.revision = format!("{short}{}", &sha(seed)[7..]);
            b.image_tag = format!("dev-{short}");
            b.health = health.into();
            b.created = format!("2026-11-{:02}T{:02}:30:00Z", 10 + i, 8 + i);
            match health {
                "Progressing" => {
                    b.phase = "Running".into();
                    b.sync = "OutOfSync".into();
                }
                "Degraded" => b.phase = "Failed".into(),
                _ => {}
            }
            let app = b.name.clone();
            let cookie = format!("team-{service}-pr");
            let regex = cookie_regex(&cookie, &pr.to_string());
            let mut objects = vec![
                workload("Deployment", "apps/v1", &app, &app),
                workload("Service", "v1", &app, &app),
            ];
            // What a Pull Request generator template writes (see examples/): the link's
            // details. search-ui's template predates them and writes none.
            if service != "search-ui" {
                b.annotations.extend([
                    (
                        "preview-switch.io/title".into(),
                        demo_title(service, pr).into(),
                    ),
                    (
                        "preview-switch.io/branch".into(),
                        format!("feature/{service}-{pr}"),
                    ),
                    ("preview-switch.io/author".into(), "octocat".into()),
                    ("preview-switch.io/head-sha".into(), b.revision.clone()),
                ]);
            }
            let routed = match by {
                RouteBy::Annotations => {
                    b.annotations.extend([
                        ("preview-switch.io/cookie".into(), cookie.clone()),
                        ("preview-switch.io/hosts".into(), host(service)),
                    ]);
                    true
                }
                RouteBy::Linkerd => {
                    objects.push(linkerd_route(service, &app, &regex));
                    true
                }
                RouteBy::Gateway => {
                    objects.push(gateway_route(service, &app, &regex));
                    true
                }
                RouteBy::Nothing => false,
            };
            if routed {
                routes.push(SiteRoute {
                    app: app.clone(),
                    service: service.into(),
                    host: host(service),
                    cookie_regex: regex,
                    cookie_name: cookie,
                    pr,
                    image_tag: b.image_tag.clone(),
                });
            }
            apps.push(b.build());
            managed.push((app, objects));
        }
        let appsets = services
            .iter()
            .map(|(service, _)| {
                // Argo CD 2.8+ lists the generated apps in `status.resources`; search-ui's
                // set has no status (an older controller), so its previews are matched
                // through their ownerReferences instead.
                let generated: Vec<Value> = apps
                    .iter()
                    .filter(|a| {
                        a["metadata"]["ownerReferences"][0]["name"] == format!("{service}-previews")
                    })
                    .map(|a| {
                        json!({"group": "argoproj.io", "version": "v1alpha1", "kind": "Application",
                            "name": a["metadata"]["name"], "namespace": "argocd",
                            "status": a["status"]["sync"]["status"], "health": a["status"]["health"]})
                    })
                    .collect();
                let status = if *service == "search-ui" {
                    Value::Null
                } else {
                    json!({"resources": generated})
                };
                json!({
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "ApplicationSet",
                    "metadata": {"name": format!("{service}-previews"), "namespace": "argocd"},
                    "spec": {
                        "goTemplate": true,
                        "generators": [{"pullRequest": {
                            "github": {"owner": "example-org", "repo": service, "labels": ["preview"]},
                            "requeueAfterSeconds": 1800
                        }}],
                        "template": {
                            "metadata": {"name": format!("{service}-pr-{{{{.number}}}}"), "labels": {"type": "pr"}},
                            "spec": {"project": "default"}
                        }
                    },
                    "status": status
                })
            })
            .collect();
        Scenario {
            apps,
            managed,
            appsets,
            routes,
            token: DEMO_TOKEN.into(),
        }
    }

    /// A fake Argo CD serving this scenario and accepting [`Scenario::token`].
    pub fn fake(&self) -> FakeArgo {
        let fake = FakeArgo::with_apps(&self.token, self.apps.clone());
        for (app, objects) in &self.managed {
            fake.set_managed_resources(app, objects.clone());
        }
        fake.set_applicationsets(self.appsets.clone());
        fake
    }
}

fn demo_title(service: &str, pr: u64) -> &'static str {
    match (service, pr % 3) {
        ("courses-fe", 0) => "Course page: new syllabus layout",
        ("courses-fe", _) => "Fix enrolment button on small screens",
        ("checkout-api", 0) => "Retry card payments once on timeout",
        _ => "Add VAT breakdown to order totals",
    }
}

/// The demo's fake Argo CD (no site port in the URLs; `preview-switch demo` adds it).
pub fn demo_scenario() -> FakeArgo {
    Scenario::demo(None).fake()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_covers_every_route_source_and_health() {
        let s = Scenario::demo(Some(8080));
        let previews: Vec<&Value> = s
            .apps
            .iter()
            .filter(|a| a["metadata"]["labels"]["type"] == "pr")
            .collect();
        assert!(previews.len() >= 6);
        for health in ["Healthy", "Progressing", "Degraded"] {
            assert!(
                previews
                    .iter()
                    .any(|a| a["status"]["health"]["status"] == health),
                "{health}"
            );
        }
        let all_objects: Vec<&Value> = s.managed.iter().flat_map(|(_, o)| o).collect();
        assert!(
            all_objects
                .iter()
                .any(|o| o["apiVersion"] == "policy.linkerd.io/v1beta3")
        );
        assert!(
            all_objects
                .iter()
                .any(|o| o["apiVersion"] == "gateway.networking.k8s.io/v1"
                    && o["spec"]["hostnames"][0] == "checkout-api.demo.test")
        );
        assert!(
            previews
                .iter()
                .any(|a| a["metadata"]["annotations"]["preview-switch.io/cookie"].is_string())
        );
        // One preview has no route at all.
        assert_eq!(s.routes.len(), previews.len() - 1);
        let base = &s.apps[0];
        assert_eq!(
            base["status"]["summary"]["externalURLs"][1],
            "Courses (dev)|http://courses-fe.demo.test:8080/"
        );
    }

    #[test]
    fn linkerd_route_carries_the_escaped_cookie_regex() {
        let s = Scenario::demo(None);
        let (_, objects) = s
            .managed
            .iter()
            .find(|(a, _)| a == "courses-fe-pr-123")
            .unwrap();
        let route = objects.iter().find(|o| o["kind"] == "HTTPRoute").unwrap();
        assert_eq!(
            route["spec"]["rules"][0]["matches"][0]["headers"][0]["value"],
            r"(^|.*; )team\-courses\-fe\-pr=123(;.*|$)"
        );
    }
}
