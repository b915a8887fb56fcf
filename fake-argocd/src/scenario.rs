//! The scenarios the fake serves. [`Scenario::demo`]: three services on `<svc>.demo.test`,
//! each with a base app whose `externalURLs` name its host, and seven previews across
//! Healthy / Progressing / Degraded whose routes come from every source the companion
//! understands (annotations, a Linkerd v1beta3 HTTPRoute, a Gateway API HTTPRoute) plus one
//! with no route at all. The same data yields the cookie routes the demo site obeys
//! ([`SiteRoute`]), so the site routes exactly as the HTTPRoutes served by the fake Argo CD
//! say. [`Scenario::at_scale`]: the same kinds of objects for benchmarks, any number of
//! previews, every route found only by discovery.

use serde_json::{Value, json};

use super::FakeArgo;
use super::generate::{self, AppBuilder, DOMAIN, SERVICES, sha};

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

/// [`linkerd_route`] whose PR backend marks its responses with `x-preview-pr: <pr>`: the
/// `ResponseHeaderModifier` examples/chart writes, on the backendRef as Linkerd's v1beta3
/// takes it.
pub fn marked_linkerd_route(service: &str, app: &str, regex: &str, pr: &str) -> Value {
    let mut route = linkerd_route(service, app, regex);
    route["spec"]["rules"][0]["backendRefs"][0]["filters"] = json!([{
        "type": "ResponseHeaderModifier",
        "responseHeaderModifier": {"add": [{"name": "x-preview-pr", "value": pr}]}
    }]);
    route
}

fn gateway_route(service: &str, app: &str, regex: &str, hostname: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": app, "namespace": service},
        "spec": {
            "parentRefs": [{"name": "demo-gateway", "namespace": "gateway", "sectionName": "http"}],
            "hostnames": [hostname],
            "rules": [cookie_rule(regex, service, app)]
        }
    })
}

/// A workload object as Argo CD's managed resources list it.
pub fn workload(kind: &str, api_version: &str, name: &str, namespace: &str) -> Value {
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
                    objects.push(gateway_route(service, &app, &regex, &host(service)));
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
        // search-ui's set has no status (an older controller), so its previews are matched
        // through their ownerReferences instead.
        let appsets = services
            .iter()
            .map(|(service, _)| pull_request_appset(service, &apps, *service != "search-ui"))
            .collect();
        Scenario {
            apps,
            managed,
            appsets,
            routes,
            token: DEMO_TOKEN.into(),
        }
    }

    /// `apps` Applications of which `previews` are PR previews (as [`generate::generated`]:
    /// about 12 KB each, spread over the 20 [`SERVICES`] on `<svc>.dev.example.test`), but
    /// routed the way a mesh team routes them: no cookie annotation, an HTTPRoute among each
    /// preview's managed resources (Linkerd, hosts from the base app's externalURLs, for
    /// even services; Gateway API with `hostnames` for odd ones), and one ApplicationSet
    /// with a Pull Request generator per service, listing what it generated. Listing it
    /// costs what a real organisation's does: one `managed-resources` call per preview, a
    /// base-app lookup per Linkerd service, one ApplicationSet list.
    pub fn at_scale(apps: usize, previews: usize) -> Scenario {
        let previews = previews.min(apps);
        let mut all = Vec::with_capacity(apps);
        let mut managed = Vec::with_capacity(previews);
        let mut routes = Vec::with_capacity(previews);
        for i in 0..previews {
            let b = generate::preview_builder(i);
            let (service, app, pr) = (b.service.clone(), b.name.clone(), i as u64 + 1000);
            let cookie = format!("team-{service}-pr");
            let regex = cookie_regex(&cookie, &pr.to_string());
            let hostname = format!("{service}.{DOMAIN}");
            let route = if (i % SERVICES.len()).is_multiple_of(2) {
                linkerd_route(&service, &app, &regex)
            } else {
                gateway_route(&service, &app, &regex, &hostname)
            };
            managed.push((
                app.clone(),
                vec![
                    workload("Deployment", "apps/v1", &app, &app),
                    workload("Service", "v1", &app, &app),
                    route,
                ],
            ));
            routes.push(SiteRoute {
                app,
                service,
                host: hostname,
                cookie_regex: regex,
                cookie_name: cookie,
                pr,
                image_tag: b.image_tag.clone(),
            });
            all.push(b.build());
        }
        all.extend((0..apps - previews).map(|j| generate::ordinary_builder(j).build()));
        let appsets = SERVICES
            .iter()
            .take(previews)
            .map(|service| pull_request_appset(service, &all, true))
            .collect();
        Scenario {
            apps: all,
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

/// `<service>-previews`: a Pull Request generator over the service's repository, stamping
/// out `<service>-pr-<number>`. With `status`, its `status.resources` lists the generated
/// apps among `apps` (found by their ownerReferences), as Argo CD 2.8+ writes it.
fn pull_request_appset(service: &str, apps: &[Value], status: bool) -> Value {
    let set = format!("{service}-previews");
    let status = if status {
        let generated: Vec<Value> = apps
            .iter()
            .filter(|a| a["metadata"]["ownerReferences"][0]["name"] == set.as_str())
            .map(|a| {
                json!({"group": "argoproj.io", "version": "v1alpha1", "kind": "Application",
                    "name": a["metadata"]["name"], "namespace": "argocd",
                    "status": a["status"]["sync"]["status"], "health": a["status"]["health"]})
            })
            .collect();
        json!({"resources": generated})
    } else {
        Value::Null
    };
    json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": set, "namespace": "argocd"},
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
    fn at_scale_routes_every_preview_by_discovery_with_a_pull_request_appset() {
        let s = Scenario::at_scale(120, 45);
        assert_eq!(s.apps.len(), 120);
        let previews: Vec<&Value> = s
            .apps
            .iter()
            .filter(|a| a["metadata"]["labels"]["type"] == "pr")
            .collect();
        assert_eq!(
            (previews.len(), s.managed.len(), s.routes.len()),
            (45, 45, 45)
        );
        for p in &previews {
            let annotations = p["metadata"]["annotations"].as_object().unwrap();
            assert!(
                annotations
                    .keys()
                    .all(|k| !k.starts_with("preview-switch.io/")),
                "a discovered preview declares nothing: {annotations:?}"
            );
        }
        // Each preview's one HTTPRoute carries the cookie its SiteRoute names.
        let mut kinds = std::collections::BTreeSet::new();
        for ((app, objects), route) in s.managed.iter().zip(&s.routes) {
            assert_eq!(app, &route.app);
            let http: Vec<&Value> = objects
                .iter()
                .filter(|o| o["kind"] == "HTTPRoute")
                .collect();
            assert_eq!(http.len(), 1, "{app}");
            assert_eq!(
                http[0]["spec"]["rules"][0]["matches"][0]["headers"][0]["value"],
                route.cookie_regex.as_str()
            );
            assert_eq!(route.host, format!("{}.dev.example.test", route.service));
            kinds.insert(http[0]["apiVersion"].as_str().unwrap().to_owned());
        }
        assert_eq!(kinds.len(), 2, "Linkerd and Gateway API: {kinds:?}");
        // One Pull Request ApplicationSet per service, listing exactly its previews.
        assert_eq!(s.appsets.len(), 20);
        let listed: usize = s
            .appsets
            .iter()
            .map(|set| {
                assert!(set["spec"]["generators"][0]["pullRequest"]["github"].is_object());
                set["status"]["resources"].as_array().unwrap().len()
            })
            .sum();
        assert_eq!(listed, 45);
        // The base apps name the services' hosts (for routes without hostnames).
        let base = s
            .apps
            .iter()
            .find(|a| a["metadata"]["name"] == "courses-fe")
            .unwrap();
        assert_eq!(
            base["status"]["summary"]["externalURLs"][0],
            "https://courses-fe.dev.example.test/"
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
