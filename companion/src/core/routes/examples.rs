//! Proves the files under `examples/` match what the companion discovers: each routing
//! template is rendered for a sample pull request by plain substitution (no Helm, no
//! cluster), served as Argo CD's managed-resources item would be, and must give exactly the
//! intended route; the ApplicationSet's template, rendered the same way, must give the
//! intended preview and pull-request link.

use protocol::{Route, RouteKind, RouteSource};
use serde_json::Value;

use super::{BaseHosts, Gathered, from_managed_resources, resolve};
use crate::argocd::model::{Application, ManagedResource};
use crate::core::{preview, scm};

const PR: &str = "42";
const SERVICE: &str = "courses-fe";
const HOST: &str = "courses-fe.dev.example.com";
/// The base app's externalURL host: different from [`HOST`], so a route that names its own
/// hosts is seen to take them from the routing resource, not from the base app.
const BASE_HOST: &str = "base.courses.example.com";
const NAMESPACE: &str = "courses-fe-pr-42";

/// Helm-style placeholders filled with the sample PR's values. The template's `if` guard
/// (its first and last line) is dropped: that is the chart choosing which file to render.
fn render_template(text: &str) -> String {
    let body: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("{{-"))
        .collect();
    let out = body
        .join("\n")
        .replace("{{ .Values.prNumber }}", PR)
        .replace("{{ .Values.service }}", SERVICE)
        .replace("{{ .Values.host }}", HOST)
        .replace("{{ .Release.Namespace }}", NAMESPACE);
    assert!(!out.contains("{{"), "a placeholder is left: {out}");
    out
}

fn as_managed(obj: &Value) -> ManagedResource {
    let (group, version) = obj["apiVersion"].as_str().unwrap().split_once('/').unwrap();
    ManagedResource {
        group: group.into(),
        version: version.into(),
        kind: obj["kind"].as_str().unwrap().into(),
        namespace: obj["metadata"]["namespace"].as_str().unwrap().into(),
        name: obj["metadata"]["name"].as_str().unwrap().into(),
        live_state: Some(obj.to_string()),
        target_state: Some(obj.to_string()),
    }
}

/// The preview the ApplicationSet stamps out for the sample PR.
fn sample_app() -> (Value, Application) {
    let set: Value = serde_norway::from_str(
        &include_str!("../../../../examples/applicationset-pull-requests.yaml")
            .replace("{{ .number }}", PR)
            .replace("{{ .title }}", "Fix enrolment button on small screens")
            .replace("{{ .branch }}", "fix/enrol-button")
            .replace("{{ .author }}", "octocat")
            .replace(
                "{{ .head_sha }}",
                "6dcb09b5b57875f334f61aebed695e2e4193db5e",
            )
            .replace("{{ .head_short_sha }}", "6dcb09b5"),
    )
    .unwrap();
    assert!(!set.to_string().contains("{{"), "a placeholder is left");
    let app: Application = serde_json::from_value(set["spec"]["template"].clone()).unwrap();
    (set, app)
}

fn discovered(template: &str) -> Result<Vec<Route>, String> {
    let obj: Value = serde_norway::from_str(&render_template(template)).unwrap();
    let found = from_managed_resources(&[as_managed(&obj)]);
    assert_eq!(found.len(), 1, "{found:?}");
    let (_, app) = sample_app();
    let p = preview::derive(&app, "https://argocd.dev.example.com", Some("dev")).unwrap();
    resolve(
        &p,
        &Gathered {
            annotation: super::from_annotations(&app, p.pr),
            discovery: Some(Ok(found)),
            // The base app's externalURL, for routes without hosts of their own.
            base_hosts: BaseHosts::Found(vec![BASE_HOST.into()]),
            template: None,
        },
    )
}

fn cookie(name: &str, value: &str, host: &str) -> Route {
    Route {
        kind: RouteKind::Cookie,
        name: name.into(),
        value: value.into(),
        hosts: vec![host.into()],
        source: RouteSource::Discovery,
    }
}

#[test]
fn linkerd_example_routes_on_the_pr_cookie_for_the_base_apps_host() {
    // A Service route has no hostnames: the base app's externalURL supplies them.
    let t = include_str!("../../../../examples/chart/templates/route-linkerd.yaml");
    assert_eq!(
        discovered(t),
        Ok(vec![cookie("courses-fe-pr", PR, BASE_HOST)])
    );
}

#[test]
fn gateway_api_example_routes_on_the_pr_cookie_for_its_hostname() {
    let t = include_str!("../../../../examples/chart/templates/route-gateway.yaml");
    assert_eq!(discovered(t), Ok(vec![cookie("courses-fe-pr", PR, HOST)]));
}

#[test]
fn istio_example_routes_on_the_pr_cookie_for_its_public_host() {
    let t = include_str!("../../../../examples/chart/templates/route-istio.yaml");
    assert_eq!(discovered(t), Ok(vec![cookie("courses-fe-pr", PR, HOST)]));
}

#[test]
fn nginx_example_routes_on_the_canary_cookie_set_to_always() {
    let t = include_str!("../../../../examples/chart/templates/route-nginx.yaml");
    assert_eq!(
        discovered(t),
        Ok(vec![cookie("courses-fe-pr-42", "always", HOST)])
    );
}

#[test]
fn applicationset_example_stamps_out_a_preview_with_its_pull_request_link() {
    let (set, app) = sample_app();
    let p = preview::derive(&app, "https://argocd.dev.example.com", Some("dev")).unwrap();
    assert_eq!(
        (p.app.as_str(), p.service.as_str(), p.pr),
        ("courses-fe-pr-42", SERVICE, 42)
    );
    assert_eq!(
        p.links.pull_request.as_deref(),
        Some("https://github.com/acme/courses-fe/pull/42")
    );
    assert_eq!(
        p.title.as_deref(),
        Some("Fix enrolment button on small screens")
    );
    assert_eq!(p.branch.as_deref(), Some("fix/enrol-button"));
    assert_eq!(p.author.as_deref(), Some("octocat"));
    assert_eq!(p.image_tag.as_deref(), Some("pr-6dcb09b5"));
    assert_eq!(
        p.head_sha.as_deref(),
        Some("6dcb09b5b57875f334f61aebed695e2e4193db5e")
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    // The generator names the same repository, so the two sources agree (no warning), and
    // the link still works for templates that leave the repo annotation out.
    let from_generator = scm::repo_from_appset_spec(&set["spec"]).unwrap().unwrap();
    let mut p2 = p.clone();
    preview::apply_appset_repo(&mut p2, "courses-fe-previews", Ok(from_generator.clone()));
    assert!(p2.warnings.is_empty(), "{:?}", p2.warnings);
    assert_eq!(
        from_generator.pull_request_url(42),
        "https://github.com/acme/courses-fe/pull/42"
    );
    // It matches the default selector.
    assert_eq!(
        app.metadata.labels.get("type").map(String::as_str),
        Some("pr")
    );
}
