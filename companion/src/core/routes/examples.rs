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
use protocol::Share;

const PR: &str = "42";
const SERVICE: &str = "courses-fe";
const HOST: &str = "courses-fe.dev.example.com";
/// The base app's externalURL host: different from [`HOST`], so a route that names its own
/// hosts is seen to take them from the routing resource, not from the base app.
const BASE_HOST: &str = "base.courses.example.com";
const NAMESPACE: &str = "courses-fe-pr-42";

/// The chart's template for `routing` rendered for the sample PR, share links on or off.
fn render_template(text: &str, routing: &str, share: bool) -> String {
    super::chart::render(
        text,
        &[
            ("routing", routing),
            ("share", if share { "true" } else { "false" }),
            ("prNumber", PR),
            ("service", SERVICE),
            ("host", HOST),
            ("Release.Namespace", NAMESPACE),
        ],
    )
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

/// The sample preview after discovery in the rendered template: its routes (or why none),
/// share rule, marker and warnings.
fn listed(template: &str, routing: &str, share: bool) -> protocol::Preview {
    let obj: Value = serde_norway::from_str(&render_template(template, routing, share)).unwrap();
    let found = from_managed_resources(&[as_managed(&obj)]);
    let (_, app) = sample_app();
    let mut p = preview::derive(&app, "https://argocd.dev.example.com", Some("dev")).unwrap();
    let g = Gathered {
        annotation: super::from_annotations(&app, p.pr),
        discovery: Some(Ok(found)),
        // The base app's externalURL, for routes without hosts of their own.
        base_hosts: BaseHosts::Found(vec![BASE_HOST.into()]),
        template: None,
    };
    let resolved = resolve(&p, &g);
    super::apply(&mut p, resolved);
    let warnings = super::warnings(&p, &g);
    p.warnings.extend(warnings);
    let notes = super::signals(&mut p, &g);
    p.warnings.extend(notes);
    p
}

fn discovered(template: &str, routing: &str) -> Result<Vec<Route>, String> {
    let p = listed(template, routing, false);
    match p.unroutable {
        Some(why) => Err(why),
        None => Ok(p.routes),
    }
}

/// The marker every example but ingress-nginx's adds.
fn marker() -> Option<protocol::Marker> {
    Some(protocol::Marker {
        header: "x-preview-pr".into(),
        value: PR.into(),
    })
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

const LINKERD: &str = include_str!("../../../../examples/chart/templates/route-linkerd.yaml");
const GATEWAY: &str = include_str!("../../../../examples/chart/templates/route-gateway.yaml");
const ISTIO: &str = include_str!("../../../../examples/chart/templates/route-istio.yaml");
const NGINX: &str = include_str!("../../../../examples/chart/templates/route-nginx.yaml");

#[test]
fn linkerd_example_routes_on_the_pr_cookie_for_the_base_apps_host() {
    // A Service route has no hostnames: the base app's externalURL supplies them.
    assert_eq!(
        discovered(LINKERD, "linkerd"),
        Ok(vec![cookie("courses-fe-pr", PR, BASE_HOST)])
    );
}

#[test]
fn gateway_api_example_routes_on_the_pr_cookie_for_its_hostname() {
    assert_eq!(
        discovered(GATEWAY, "gateway"),
        Ok(vec![cookie("courses-fe-pr", PR, HOST)])
    );
}

#[test]
fn istio_example_routes_on_the_pr_cookie_for_its_public_host() {
    assert_eq!(
        discovered(ISTIO, "istio"),
        Ok(vec![cookie("courses-fe-pr", PR, HOST)])
    );
}

#[test]
fn nginx_example_routes_on_the_canary_cookie_set_to_always() {
    assert_eq!(
        discovered(NGINX, "nginx"),
        Ok(vec![cookie("courses-fe-pr-42", "always", HOST)])
    );
}

/// Each provider's chart marks the preview's responses, and with `share: true` carries the
/// share rule that works without the extension; without it the preview has no share rule.
/// ingress-nginx can do neither, and says nothing.
#[test]
fn every_example_but_nginx_marks_its_responses_and_routes_share_links_when_asked() {
    for (template, routing) in [(LINKERD, "linkerd"), (GATEWAY, "gateway"), (ISTIO, "istio")] {
        let off = listed(template, routing, false);
        assert_eq!(off.marker, marker(), "{routing}");
        assert_eq!(off.share, None, "{routing}: opt-in");
        assert!(off.warnings.is_empty(), "{routing}: {:?}", off.warnings);

        let on = listed(template, routing, true);
        assert_eq!(
            on.routes, off.routes,
            "{routing}: the share rule is no route"
        );
        assert_eq!(on.marker, marker(), "{routing}");
        assert_eq!(
            on.share,
            Some(Share {
                param: protocol::policy::DEFAULT_SHARE_PARAM.into(),
                works_without_extension: true,
            }),
            "{routing}"
        );
        assert!(on.warnings.is_empty(), "{routing}: {:?}", on.warnings);
    }
    let nginx = listed(NGINX, "nginx", true);
    assert_eq!((nginx.marker, nginx.share), (None, None));
}

/// A share rule whose response sets no routing cookie reaches the PR for the link's page
/// only: recorded as not working without the extension, and said.
#[test]
fn a_share_rule_without_the_cookie_is_recorded_as_needing_the_extension() {
    let template = GATEWAY.replace(
        "        - name: Set-Cookie\n",
        "        - name: X-Not-A-Cookie\n",
    );
    assert_ne!(template, GATEWAY);
    let p = listed(&template, "gateway", true);
    assert_eq!(
        p.share,
        Some(Share {
            param: "preview-switch".into(),
            works_without_extension: false,
        })
    );
    assert!(
        p.warnings[0].contains("sets none of this preview's routing cookies"),
        "{:?}",
        p.warnings
    );
    // A rule for another PR's link is not this preview's.
    let other = GATEWAY.replace(
        "value: \"{{ .Values.service }}:{{ .Values.prNumber }}\"",
        "value: \"{{ .Values.service }}:7\"",
    );
    let p = listed(&other, "gateway", true);
    assert_eq!(p.share, None);
    assert!(
        p.warnings[0].contains("not for this preview's"),
        "{:?}",
        p.warnings
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
