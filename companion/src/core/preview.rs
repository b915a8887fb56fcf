//! One Argo CD Application → one `protocol::Preview` (DESIGN §3): its PR number, service,
//! environment, deployed image tag, status and links. Routes are left empty here and filled
//! in by [`super::routes::resolve`] once the shell has gathered what routing needs.

use protocol::{Links, Preview};
use serde_json::Value;

use super::{keys, scm};
use crate::argocd::model::Application;

/// The PR number, first that applies: label `preview-switch.io/pr`; Helm `prNumber` in
/// `valuesObject`, then parameters, then the `values` string; name suffix `-pr-<n>`.
/// A candidate that is not a plain positive number (no sign, no leading zero, at most
/// `u32::MAX`) does not apply, so the next source is tried.
pub fn pr_number(app: &Application) -> Option<u64> {
    let meta = &app.metadata;
    meta.labels
        .get(keys::PR)
        .and_then(|v| parse_pr(v))
        .or_else(|| helm_value(app, &["prNumber"]).and_then(|v| parse_pr(&v)))
        .or_else(|| name_suffix(&meta.name).map(|(_, pr)| pr))
}

/// The service: label `preview-switch.io/service`, else the name without `-pr-<n>`, else the
/// whole name.
pub fn service_name(app: &Application) -> String {
    if let Some(s) = app
        .metadata
        .labels
        .get(keys::SERVICE)
        .filter(|s| !s.trim().is_empty())
    {
        return s.trim().to_string();
    }
    let name = &app.metadata.name;
    match name_suffix(name) {
        Some((base, _)) => base.to_string(),
        None => name.clone(),
    }
}

/// The deployed image tag: from `status.summary.images`, the image whose repository name best
/// matches the service (else the first with a tag); else Helm `imageTag` or `image.tag`.
pub fn image_tag(app: &Application, service: &str) -> Option<String> {
    let images: Vec<(&str, &str)> = app
        .status
        .summary
        .images
        .iter()
        .filter_map(|i| split_image(i))
        .collect();
    let best = images
        .iter()
        .enumerate()
        // Higher score wins; among equals the earlier image (max_by keeps the last, so
        // compare the index reversed).
        .max_by(|(ia, (ra, _)), (ib, (rb, _))| {
            match_score(ra, service)
                .cmp(&match_score(rb, service))
                .then(ib.cmp(ia))
        })
        .map(|(_, (_, tag))| tag.to_string());
    best.or_else(|| helm_value(app, &["imageTag"]))
        .or_else(|| helm_value(app, &["image", "tag"]))
}

/// Builds the preview for `app`, or `None` when it has no PR number (it is not a preview).
/// `context` is the configured server or context name; when empty, the destination
/// cluster's name stands in. Routes are empty and `unroutable` is `None` until resolved.
pub fn derive(app: &Application, server_url: &str, context: Option<&str>) -> Option<Preview> {
    let pr = pr_number(app)?;
    let meta = &app.metadata;
    let service = service_name(app);
    let server = server_url.trim_end_matches('/').to_string();
    let namespace = meta.namespace_or_default().to_owned();
    let dest = &app.spec.destination;
    let context = context
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .or_else(|| dest.name.clone().filter(|n| !n.is_empty()))
        .or_else(|| dest.server.clone())
        .unwrap_or_default();
    let ann = |k: &str| meta.annotations.get(k).and_then(|v| annotation_text(v));
    let mut warnings = Vec::new();
    let repo = match meta.annotations.get(keys::REPO) {
        Some(r) => match scm::repo_from_url(r, meta.annotations.get(keys::SCM).map(String::as_str))
        {
            Ok(repo) => Some(repo),
            Err(why) => {
                warnings.push(format!("{why}: fix the annotation {}", keys::REPO));
                None
            }
        },
        None => None,
    };
    let links = Links {
        argocd: Some(format!("{server}/applications/{namespace}/{}", meta.name)),
        pull_request: repo.as_ref().map(|r| r.pull_request_url(pr)),
    };
    let status = &app.status;
    Some(Preview {
        context,
        app: meta.name.clone(),
        namespace,
        pr,
        sync: status.sync.status.clone(),
        health: status.health.status.clone(),
        phase: status
            .operation_state
            .as_ref()
            .and_then(|o| o.phase.clone()),
        revision: status.sync.revision.clone(),
        image_tag: image_tag(app, &service),
        created_at: meta.creation_timestamp.as_deref().and_then(rfc3339_utc),
        links,
        routes: Vec::new(),
        unroutable: None,
        repo: repo.map(|r| r.url),
        title: ann(keys::TITLE),
        branch: ann(keys::BRANCH),
        author: ann(keys::AUTHOR),
        head_sha: ann(keys::HEAD_SHA),
        warnings,
        service,
        server,
    })
}

/// Sets the repository and pull-request link from the generating ApplicationSet, unless the
/// annotation already gave them (the annotation wins; a disagreement becomes a warning).
pub fn apply_appset_repo(preview: &mut Preview, appset: &str, found: Result<scm::Repo, String>) {
    match (found, &preview.repo) {
        (Ok(repo), None) => {
            preview.links.pull_request = Some(repo.pull_request_url(preview.pr));
            preview.repo = Some(repo.url);
        }
        (Ok(repo), Some(own)) if !own.eq_ignore_ascii_case(&repo.url) => {
            preview.warnings.push(format!(
                "the annotation {} says {own} but the ApplicationSet {appset} generates from {}: the annotation is used",
                keys::REPO,
                repo.url
            ));
        }
        (Ok(_), Some(_)) => {}
        (Err(why), None) => preview.warnings.push(format!(
            "no pull-request link from the ApplicationSet {appset}: {why}"
        )),
        (Err(_), Some(_)) => {}
    }
}

/// An annotation value shown to people: trimmed, control characters dropped, at most 300
/// characters (a hostile megabyte title must not flood the popup); `None` when empty.
fn annotation_text(v: &str) -> Option<String> {
    let clean: String = v
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect();
    (!clean.is_empty()).then_some(clean)
}

/// Whether `app` is itself a preview: it has a PR number. Used to skip previews when
/// looking for the base Application of a service.
pub fn is_preview(app: &Application) -> bool {
    pr_number(app).is_some()
}

/// The order of `list` output: service, then PR number, then server.
pub fn sort(previews: &mut [Preview]) {
    previews.sort_by(|a, b| {
        a.service
            .cmp(&b.service)
            .then(a.pr.cmp(&b.pr))
            .then(a.server.cmp(&b.server))
            .then_with(|| a.app.cmp(&b.app))
    });
}

/// Drops repeats of the same Application (server, namespace, name), keeping the first: a
/// list that names an app twice (a server or proxy bug) must not show it twice, nor make
/// the extension's change events see one preview as two.
pub fn dedup(previews: &mut Vec<Preview>) {
    let mut seen = std::collections::HashSet::new();
    previews.retain(|p| seen.insert((p.server.clone(), p.namespace.clone(), p.app.clone())));
}

/// Keeps a preview within `max` bytes of JSON ([`protocol::policy::MAX_PREVIEW_BYTES`] when
/// listed, what fits in a frame when paged): one over it keeps its identity and status but
/// loses its routes, warnings and long texts, and says why it is unroutable. One hostile
/// Application (thousands of routing matches, a huge repository URL) must not take the
/// frame the other previews need, nor fail the page they are on.
pub fn bound(p: &mut Preview, max: usize) {
    let size = json_len(p);
    if size <= max {
        return;
    }
    const TEXT: usize = 300;
    p.routes.clear();
    p.warnings.clear();
    for text in [
        &mut p.title,
        &mut p.branch,
        &mut p.author,
        &mut p.head_sha,
        &mut p.image_tag,
        &mut p.revision,
        &mut p.sync,
        &mut p.health,
        &mut p.phase,
        &mut p.created_at,
    ] {
        if text.as_ref().is_some_and(|t| t.len() > TEXT) {
            *text = None;
        }
    }
    for link in [&mut p.repo, &mut p.links.argocd, &mut p.links.pull_request] {
        if link.as_ref().is_some_and(|l| l.len() > 2 * TEXT) {
            *link = None;
        }
    }
    p.unroutable = Some(format!(
        "this preview takes {size} bytes, more than the {} KiB one preview may take (thousands of routing matches or hosts, or a huge annotation): shorten what the Application and its routing resources carry",
        max / 1024
    ));
}

fn json_len(p: &Preview) -> usize {
    serde_json::to_vec(p).map_or(usize::MAX, |v| v.len())
}

/// The pull-request URL for the https URL of a repository (`host/owner/name`), the kind of
/// host guessed from the URL ([`scm::ScmKind::guess`]).
pub fn pull_request_url(repo: &str, pr: u64) -> Option<String> {
    scm::repo_from_url(repo, None)
        .ok()
        .map(|r| r.pull_request_url(pr))
}

/// A PR number as written by a human or a template: digits only, no leading zero, non-zero,
/// at most `u32::MAX` (GitHub and GitLab numbers are 32-bit).
/// `metadata.creationTimestamp` as `Preview::created_at` promises it: RFC 3339 in UTC
/// (`2024-03-04T21:30:33Z`), whatever offset the server wrote; `None` when it is not a
/// timestamp, so no consumer has to parse a server's odd text.
fn rfc3339_utc(raw: &str) -> Option<String> {
    raw.trim()
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.to_string())
}

fn parse_pr(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0')
    {
        return None;
    }
    s.parse::<u64>().ok().filter(|n| *n <= u64::from(u32::MAX))
}

/// `(base, pr)` for a name ending in `-pr-<n>`.
fn name_suffix(name: &str) -> Option<(&str, u64)> {
    let (base, n) = name.rsplit_once("-pr-")?;
    if base.is_empty() {
        return None;
    }
    Some((base, parse_pr(n)?))
}

/// A Helm value by path, looking in every source: `valuesObject`, then `parameters` (dotted
/// name), then the `values` YAML string. Strings and integers come back as text.
fn helm_value(app: &Application, path: &[&str]) -> Option<String> {
    let helms = || app.spec.all_sources().filter_map(|s| s.helm.as_ref());
    helms()
        .find_map(|h| h.values_object.as_ref().and_then(|v| scalar_at(v, path)))
        .or_else(|| {
            let dotted = path.join(".");
            helms().find_map(|h| {
                h.parameters
                    .iter()
                    .find(|p| p.name == dotted && !p.value.trim().is_empty())
                    .map(|p| p.value.trim().to_string())
            })
        })
        .or_else(|| {
            helms().find_map(|h| {
                let values = h.values.as_deref()?;
                // Cheap pre-check: most values strings never mention the key.
                if !values.contains(path[path.len() - 1]) {
                    return None;
                }
                let v: Value = serde_norway::from_str(values).ok()?;
                scalar_at(&v, path)
            })
        })
}

fn scalar_at(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    match cur {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) if n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// `(repository name, tag)` of an image reference such as
/// `registry:5000/team/courses-fe:dev-1a2b3c4@sha256:...`; `None` without a tag.
fn split_image(image: &str) -> Option<(&str, &str)> {
    let image = image.split('@').next()?;
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = image[last_slash..].rsplit_once(':')?;
    (!repo.is_empty() && !tag.is_empty()).then_some((repo, tag))
}

/// How well an image's repository name matches the service.
fn match_score(repo: &str, service: &str) -> u8 {
    if repo == service {
        3
    } else if repo.contains(service) {
        2
    } else if !repo.is_empty() && service.contains(repo) {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An Application from JSON, as the client decodes it.
    pub(crate) fn app(json: Value) -> Application {
        serde_json::from_value(json).unwrap()
    }

    /// A real fixture: YAML → JSON → Application, as the API would send it.
    fn fixture(yaml: &str) -> Application {
        let v: Value = serde_norway::from_str(yaml).unwrap();
        app(v)
    }

    /// A preview over the cap keeps who it is and loses its routes and long texts, with
    /// the reason; one under it is untouched.
    #[test]
    fn a_preview_over_its_byte_cap_is_cut_down_and_unroutable() {
        let mut p = Preview {
            app: "web-pr-1".into(),
            service: "web".into(),
            pr: 1,
            title: Some("t".repeat(10)),
            warnings: vec!["w".repeat(100_000)],
            repo: Some(format!("https://github.com/{}", "r".repeat(100_000))),
            routes: vec![protocol::Route {
                kind: protocol::RouteKind::Cookie,
                name: "web-pr".into(),
                value: "1".into(),
                hosts: vec!["web.test".into()],
                source: protocol::RouteSource::Annotation,
            }],
            ..Preview::default()
        };
        let small = Preview {
            warnings: Vec::new(),
            repo: None,
            ..p.clone()
        };
        let mut same = small.clone();
        bound(&mut same, protocol::policy::MAX_PREVIEW_BYTES);
        assert_eq!(same, small);
        bound(&mut p, protocol::policy::MAX_PREVIEW_BYTES);
        assert!(serde_json::to_vec(&p).unwrap().len() <= protocol::policy::MAX_PREVIEW_BYTES);
        assert_eq!(
            (p.app.as_str(), p.pr, p.title.as_deref()),
            ("web-pr-1", 1, Some("tttttttttt"))
        );
        assert!(p.routes.is_empty() && p.repo.is_none());
        assert!(p.unroutable.unwrap().contains("more than the 64 KiB"));
    }

    #[test]
    fn an_app_listed_twice_is_one_preview_and_namespaces_stay_apart() {
        let derive_one = |name: &str, ns: &str| {
            derive(
                &app(
                    serde_json::json!({"metadata": {"name": name, "namespace": ns,
                    "labels": {"preview-switch.io/pr": "7"}}}),
                ),
                "https://argocd.test",
                None,
            )
            .unwrap()
        };
        let mut previews = vec![
            derive_one("web-pr-7", "argocd"),
            derive_one("web-pr-7", "team-a"),
            derive_one("web-pr-7", "argocd"),
        ];
        sort(&mut previews);
        dedup(&mut previews);
        let keys: Vec<_> = previews.iter().map(|p| p.namespace.as_str()).collect();
        assert_eq!(keys, ["argocd", "team-a"]);
    }

    #[test]
    fn pr_number_sources_in_order() {
        let table: Vec<(&str, Value, Option<u64>)> = vec![
            (
                "label wins over everything",
                serde_json::json!({"metadata": {"name": "web-pr-7", "labels": {"preview-switch.io/pr": "42"}},
                    "spec": {"source": {"helm": {"valuesObject": {"prNumber": "9"}}}}}),
                Some(42),
            ),
            (
                "valuesObject string",
                serde_json::json!({"metadata": {"name": "web-pr-7"},
                    "spec": {"source": {"helm": {"valuesObject": {"prNumber": "123"}}}}}),
                Some(123),
            ),
            (
                "valuesObject number in spec.sources",
                serde_json::json!({"metadata": {"name": "web"},
                    "spec": {"sources": [{"repoURL": "x"}, {"helm": {"valuesObject": {"prNumber": 55}}}]}}),
                Some(55),
            ),
            (
                "helm parameter",
                serde_json::json!({"metadata": {"name": "web"},
                    "spec": {"source": {"helm": {"parameters": [{"name": "image.tag", "value": "x"}, {"name": "prNumber", "value": "77"}]}}}}),
                Some(77),
            ),
            (
                "helm values string",
                serde_json::json!({"metadata": {"name": "web"},
                    "spec": {"source": {"helm": {"values": "prNumber: \"31\"\nimage:\n  tag: dev-abc\n"}}}}),
                Some(31),
            ),
            (
                "name suffix",
                serde_json::json!({"metadata": {"name": "courses-fe-pr-123"}}),
                Some(123),
            ),
            (
                "bad label falls through to the name",
                serde_json::json!({"metadata": {"name": "web-pr-8", "labels": {"preview-switch.io/pr": "8a"}}}),
                Some(8),
            ),
            (
                "negative valuesObject falls through",
                serde_json::json!({"metadata": {"name": "web-pr-8"},
                    "spec": {"source": {"helm": {"valuesObject": {"prNumber": -3}}}}}),
                Some(8),
            ),
            (
                "no PR anywhere",
                serde_json::json!({"metadata": {"name": "courses-fe"}}),
                None,
            ),
            (
                "huge",
                serde_json::json!({"metadata": {"name": "web-pr-4294967296"}}),
                None,
            ),
            (
                "u32::MAX is fine",
                serde_json::json!({"metadata": {"name": "web-pr-4294967295"}}),
                Some(4_294_967_295),
            ),
            (
                "leading zero",
                serde_json::json!({"metadata": {"name": "web-pr-007"}}),
                None,
            ),
            (
                "zero",
                serde_json::json!({"metadata": {"name": "web-pr-0"}}),
                None,
            ),
            (
                "sign",
                serde_json::json!({"metadata": {"name": "web-pr-+5"}}),
                None,
            ),
            (
                "float",
                serde_json::json!({"metadata": {"name": "web"},
                "spec": {"source": {"helm": {"valuesObject": {"prNumber": 5.5}}}}}),
                None,
            ),
            (
                "only the suffix",
                serde_json::json!({"metadata": {"name": "-pr-5"}}),
                None,
            ),
        ];
        for (what, json, want) in table {
            assert_eq!(pr_number(&app(json)), want, "{what}");
        }
    }

    #[test]
    fn service_from_label_else_name_without_suffix() {
        let table = [
            (
                serde_json::json!({"metadata": {"name": "courses-fe-pr-123"}}),
                "courses-fe",
            ),
            (
                serde_json::json!({"metadata": {"name": "x-pr-1", "labels": {"preview-switch.io/service": "courses"}}}),
                "courses",
            ),
            (
                serde_json::json!({"metadata": {"name": "team-pr-api-pr-9"}}),
                "team-pr-api",
            ),
            (
                serde_json::json!({"metadata": {"name": "standalone"}}),
                "standalone",
            ),
        ];
        for (json, want) in table {
            assert_eq!(service_name(&app(json)), want);
        }
    }

    #[test]
    fn image_tag_prefers_the_services_image() {
        let a = app(serde_json::json!({"metadata": {"name": "courses-fe-pr-1"},
        "status": {"summary": {"images": [
            "docker.io/library/nginx:1.27",
            "registry.example:5000/team/courses-fe:dev-1a2b3c4",
            "ghcr.io/team/courses-fe-sidecar:v2",
        ]}}}));
        assert_eq!(image_tag(&a, "courses-fe").as_deref(), Some("dev-1a2b3c4"));
        // No image matches the service: the first one with a tag.
        assert_eq!(image_tag(&a, "billing").as_deref(), Some("1.27"));
        // Digest-only and untagged references have no tag.
        let b = app(serde_json::json!({"status": {"summary": {"images": [
            "registry.example:5000/team/web", "web@sha256:abcd"]}},
            "spec": {"source": {"helm": {"valuesObject": {"image": {"tag": "dev-9f8e7d6"}}}}}}));
        assert_eq!(image_tag(&b, "web").as_deref(), Some("dev-9f8e7d6"));
        let c = app(serde_json::json!({"spec": {"source": {"helm": {
            "valuesObject": {"imageTag": "dev-0000001"}, "parameters": [{"name": "image.tag", "value": "other"}]}}}}));
        assert_eq!(image_tag(&c, "web").as_deref(), Some("dev-0000001"));
    }

    #[test]
    fn derive_a_typical_pr_generator_application() {
        let a = app(serde_json::json!({
            "metadata": {"name": "courses-fe-pr-123", "namespace": "argocd",
                "labels": {"type": "pr"},
                "annotations": {"preview-switch.io/repo": "https://github.com/acme/courses-fe.git"},
                "creationTimestamp": "2025-05-01T10:00:00Z"},
            "spec": {"source": {"helm": {"valuesObject": {"prNumber": "123", "imageTag": "dev-1a2b3c4"}}},
                "destination": {"name": "dev-cluster", "namespace": "courses-fe-pr-123"}},
            "status": {"sync": {"status": "Synced", "revision": "1a2b3c4d"}, "health": {"status": "Healthy"},
                "operationState": {"phase": "Succeeded"}}
        }));
        let p = derive(&a, "https://argocd.dev/", Some("dev")).unwrap();
        assert_eq!(p.server, "https://argocd.dev");
        assert_eq!(p.context, "dev");
        assert_eq!(
            (p.app.as_str(), p.service.as_str(), p.pr),
            ("courses-fe-pr-123", "courses-fe", 123)
        );
        assert_eq!(
            p.links.argocd.as_deref(),
            Some("https://argocd.dev/applications/argocd/courses-fe-pr-123")
        );
        assert_eq!(
            p.links.pull_request.as_deref(),
            Some("https://github.com/acme/courses-fe/pull/123")
        );
        assert_eq!(p.image_tag.as_deref(), Some("dev-1a2b3c4"));
        assert_eq!(p.revision.as_deref(), Some("1a2b3c4d"));
        assert_eq!(p.phase.as_deref(), Some("Succeeded"));
        assert_eq!(p.created_at.as_deref(), Some("2025-05-01T10:00:00Z"));
        assert!(p.routes.is_empty() && p.unroutable.is_none());
        // Without a configured context name, the destination cluster names the environment.
        assert_eq!(
            derive(&a, "https://argocd.dev", None).unwrap().context,
            "dev-cluster"
        );
    }

    #[test]
    fn pull_request_link_needs_an_https_repository_url() {
        let table = [
            (
                "https://github.com/acme/web",
                Some("https://github.com/acme/web/pull/5"),
            ),
            (
                "https://github.com/acme/web/",
                Some("https://github.com/acme/web/pull/5"),
            ),
            (
                "https://git.example.com/group/sub/web.git",
                Some("https://git.example.com/group/sub/web/pull/5"),
            ),
            ("http://github.com/acme/web", None),
            ("github.com/acme/web", None),
            ("acme/web", None),
            ("https://github.com/acme", None),
            ("https://user:pw@github.com/acme/web", None),
            ("https://github.com/acme/web?x=1", None),
            ("javascript:alert(1)", None),
        ];
        for (repo, want) in table {
            assert_eq!(pull_request_url(repo, 5).as_deref(), want, "{repo}");
        }
    }

    #[test]
    fn real_fixture_helm_valuesobject_is_not_a_preview() {
        // A real Application with a nested valuesObject but no prNumber and no -pr-<n>
        // suffix: it must not be listed as a preview.
        let a = fixture(include_str!(
            "../../../tests/fixtures/argocd/application-helm-valuesobject.yaml"
        ));
        assert_eq!(a.metadata.name, "argo-workflows");
        assert_eq!(pr_number(&a), None);
        assert!(derive(&a, "https://argocd.dev", None).is_none());
        assert!(!is_preview(&a));
    }

    #[test]
    fn real_fixture_helm_valuesobject_with_a_pr_label() {
        let mut a = fixture(include_str!(
            "../../../tests/fixtures/argocd/application-helm-valuesobject.yaml"
        ));
        a.metadata.labels.insert(keys::PR.into(), "17".into());
        let p = derive(&a, "https://argocd.dev", None).unwrap();
        assert_eq!((p.pr, p.service.as_str()), (17, "argo-workflows"));
        // destination.name is `in-cluster` in the fixture.
        assert_eq!(p.context, "in-cluster");
        assert_eq!(
            p.links.argocd.as_deref(),
            Some("https://argocd.dev/applications/argocd/argo-workflows")
        );
        assert_eq!((p.sync, p.health, p.image_tag), (None, None, None));
    }

    #[test]
    fn real_fixture_reference_spec_renamed_as_a_preview() {
        let mut a = fixture(include_str!(
            "../../../tests/fixtures/argocd/application-reference-spec.yaml"
        ));
        assert_eq!(pr_number(&a), None, "guestbook has no PR number");
        a.metadata.name = "guestbook-pr-4".into();
        let p = derive(&a, "https://argocd.example", Some("prod")).unwrap();
        assert_eq!(
            (p.pr, p.service.as_str(), p.context.as_str()),
            (4, "guestbook", "prod")
        );
        // Its helm parameters name other things (escaped dotted keys); none is an image tag.
        assert_eq!(p.image_tag, None);
        assert_eq!(p.namespace, "argocd");
    }

    #[test]
    fn real_fixture_appset_generated_application() {
        let json: Value = serde_json::from_str(include_str!(
            "../../../tests/fixtures/argocd/application-appset-generated-with-status.derived.json"
        ))
        .unwrap();
        let mut a = app(json);
        // Generated by an ApplicationSet, labelled `preview: "true"`, but nothing says which PR.
        assert_eq!(pr_number(&a), None);
        a.metadata.name = "velero-test-pr-12".into();
        let p = derive(&a, "https://argocd.dev", None).unwrap();
        assert_eq!(p.service, "velero-test");
        assert_eq!(p.namespace, "argo-cd");
        assert_eq!(p.context, "gke-alpha-01-europe-west1");
        assert_eq!(p.sync.as_deref(), Some("Synced"));
        assert_eq!(p.revision.as_deref(), Some("rev1"));
        assert_eq!(p.health.as_deref(), Some("Healthy"));
        assert_eq!(p.phase.as_deref(), Some("Succeeded"));
        assert_eq!(
            p.image_tag.as_deref(),
            Some("latest"),
            "nginx:latest is the only image"
        );
        assert_eq!(p.created_at.as_deref(), Some("2024-03-04T21:30:33Z"));
        assert_eq!(
            p.links.argocd.as_deref(),
            Some("https://argocd.dev/applications/argo-cd/velero-test-pr-12")
        );
        assert_eq!(p.links.pull_request, None);
    }

    #[test]
    fn sorted_by_service_then_pr_then_server() {
        let mk = |service: &str, pr: u64, server: &str| {
            let mut p = derive(
                &app(serde_json::json!({"metadata": {"name": format!("{service}-pr-{pr}")}})),
                server,
                None,
            )
            .unwrap();
            p.service = service.into();
            p
        };
        let mut v = vec![
            mk("web", 2, "b"),
            mk("api", 9, "a"),
            mk("web", 2, "a"),
            mk("web", 10, "a"),
        ];
        sort(&mut v);
        let got: Vec<_> = v
            .iter()
            .map(|p| (p.service.as_str(), p.pr, p.server.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("api", 9, "a"),
                ("web", 2, "a"),
                ("web", 2, "b"),
                ("web", 10, "a")
            ]
        );
    }

    #[test]
    fn the_appset_link_fills_in_and_a_disagreeing_annotation_wins_with_a_warning() {
        let generated = |url: &str| {
            Ok(scm::Repo {
                kind: scm::ScmKind::GitHub,
                url: url.into(),
            })
        };
        let plain = fixture_json(serde_json::json!({"metadata": {"name": "web-pr-5"}}));
        let mut p = derive(&plain, "https://argocd.dev", Some("dev")).unwrap();
        apply_appset_repo(
            &mut p,
            "web-previews",
            generated("https://github.com/acme/web"),
        );
        assert_eq!(p.repo.as_deref(), Some("https://github.com/acme/web"));
        assert_eq!(
            p.links.pull_request.as_deref(),
            Some("https://github.com/acme/web/pull/5")
        );
        assert!(p.warnings.is_empty());

        let annotated = fixture_json(serde_json::json!({"metadata": {"name": "web-pr-5",
            "annotations": {"preview-switch.io/repo": "https://gitlab.com/acme/web"}}}));
        let mut p = derive(&annotated, "https://argocd.dev", Some("dev")).unwrap();
        apply_appset_repo(
            &mut p,
            "web-previews",
            generated("https://github.com/acme/web"),
        );
        assert_eq!(
            p.links.pull_request.as_deref(),
            Some("https://gitlab.com/acme/web/-/merge_requests/5")
        );
        assert_eq!(
            p.warnings,
            [
                "the annotation preview-switch.io/repo says https://gitlab.com/acme/web but the ApplicationSet web-previews generates from https://github.com/acme/web: the annotation is used"
            ]
        );

        // A refused annotation is a warning, not a silent missing link.
        let bad = fixture_json(serde_json::json!({"metadata": {"name": "web-pr-5",
            "annotations": {"preview-switch.io/repo": "http://github.com/acme/web",
                            "preview-switch.io/title": "  Fix\u{7} it  "}}}));
        let p = derive(&bad, "https://argocd.dev", Some("dev")).unwrap();
        assert_eq!(p.links.pull_request, None);
        assert_eq!(p.title.as_deref(), Some("Fix it"));
        assert!(
            p.warnings[0].contains("not an https URL: fix the annotation preview-switch.io/repo"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn the_pull_requests_head_commit_comes_from_its_annotation() {
        let sha = "6dcb09b5b57875f334f61aebed695e2e4193db5e";
        let annotated = fixture_json(serde_json::json!({"metadata": {"name": "web-pr-5",
            "annotations": {"preview-switch.io/head-sha": format!(" {sha}\n")}}}));
        let p = derive(&annotated, "https://argocd.dev", Some("dev")).unwrap();
        assert_eq!(p.head_sha.as_deref(), Some(sha));
        // The sync revision is not the head commit: a preview without the annotation has none.
        let plain = fixture_json(serde_json::json!({"metadata": {"name": "web-pr-5"},
            "status": {"sync": {"revision": "abc123"}}}));
        let p = derive(&plain, "https://argocd.dev", Some("dev")).unwrap();
        assert_eq!(p.head_sha, None);
        let blank = fixture_json(serde_json::json!({"metadata": {"name": "web-pr-5",
            "annotations": {"preview-switch.io/head-sha": "  "}}}));
        let p = derive(&blank, "https://argocd.dev", Some("dev")).unwrap();
        assert_eq!(p.head_sha, None);
    }

    fn fixture_json(v: serde_json::Value) -> Application {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn created_at_is_rfc3339_utc_or_none() {
        let with = |ts: serde_json::Value| {
            let a: Application = serde_json::from_value(serde_json::json!({
                "metadata": {"name": "web-pr-1", "creationTimestamp": ts}
            }))
            .unwrap();
            derive(&a, "https://argocd.dev", Some("dev"))
                .unwrap()
                .created_at
        };
        let utc = |s: &str| Some(s.to_owned());
        assert_eq!(
            with("2024-03-04T21:30:33Z".into()),
            utc("2024-03-04T21:30:33Z")
        );
        assert_eq!(
            with("2024-03-04T22:30:33+01:00".into()),
            utc("2024-03-04T21:30:33Z")
        );
        assert_eq!(
            with(" 2024-03-04T21:30:33.5Z ".into()),
            utc("2024-03-04T21:30:33.5Z")
        );
        for odd in ["yesterday", "2024-03-04", "", "2024-13-40T99:00:00Z"] {
            assert_eq!(with(odd.into()), None, "{odd:?}");
        }
        assert_eq!(with(serde_json::Value::Null), None);
    }
}
