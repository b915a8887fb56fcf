//! Pull-request links (DESIGN §3): which source-code host a preview's repository lives on
//! and the web URL of its pull request there. Reads either a repository URL (the annotation
//! `preview-switch.io/repo`, optionally with `preview-switch.io/scm` for self-hosted
//! servers whose host name does not say what they run) or an ApplicationSet's Pull Request
//! generator (GitHub incl. Enterprise, GitLab, Gitea, Bitbucket Server, Bitbucket Cloud,
//! Azure DevOps). Pure: string and URL work only.

use serde_json::Value;
use url::Url;

use super::quoted;
use crate::argocd::model::{Application, ApplicationSet};

/// The source-code hosts whose pull-request pages we can link to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScmKind {
    GitHub,
    GitLab,
    Gitea,
    BitbucketServer,
    BitbucketCloud,
    AzureDevOps,
}

impl ScmKind {
    /// The names accepted in the `preview-switch.io/scm` annotation.
    pub const NAMES: &'static str =
        "github, gitlab, gitea, bitbucket-server, bitbucket, azure-devops";

    pub fn parse(s: &str) -> Option<ScmKind> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "github" => ScmKind::GitHub,
            "gitlab" => ScmKind::GitLab,
            "gitea" | "forgejo" => ScmKind::Gitea,
            "bitbucket-server" | "bitbucketserver" => ScmKind::BitbucketServer,
            "bitbucket" | "bitbucket-cloud" => ScmKind::BitbucketCloud,
            "azure-devops" | "azuredevops" => ScmKind::AzureDevOps,
            _ => return None,
        })
    }

    /// Guesses the host from a repository web URL: well-known hosts and URL shapes, else
    /// GitHub (the `/pull/N` form, which GitHub Enterprise shares).
    pub fn guess(repo: &Url) -> ScmKind {
        let host = repo.host_str().unwrap_or_default().to_ascii_lowercase();
        let path = repo.path();
        if host == "bitbucket.org" {
            ScmKind::BitbucketCloud
        } else if host == "dev.azure.com"
            || host.ends_with(".visualstudio.com")
            || path.contains("/_git/")
        {
            ScmKind::AzureDevOps
        } else if path.starts_with("/projects/") && path.contains("/repos/") {
            ScmKind::BitbucketServer
        } else if host == "gitlab.com" || host.starts_with("gitlab.") {
            ScmKind::GitLab
        } else if host == "codeberg.org"
            || host.starts_with("gitea.")
            || host.starts_with("forgejo.")
        {
            ScmKind::Gitea
        } else {
            ScmKind::GitHub
        }
    }
}

/// A repository on a source-code host: its web URL and the kind of host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repo {
    pub kind: ScmKind,
    /// The repository's web page, e.g. `https://github.com/acme/web` (no trailing slash).
    pub url: String,
}

impl Repo {
    /// The pull request's web page.
    pub fn pull_request_url(&self, pr: u64) -> String {
        let base = &self.url;
        match self.kind {
            ScmKind::GitHub => format!("{base}/pull/{pr}"),
            ScmKind::GitLab => format!("{base}/-/merge_requests/{pr}"),
            ScmKind::Gitea => format!("{base}/pulls/{pr}"),
            ScmKind::BitbucketServer | ScmKind::BitbucketCloud => {
                format!("{base}/pull-requests/{pr}")
            }
            ScmKind::AzureDevOps => format!("{base}/pullrequest/{pr}"),
        }
    }
}

/// A repository from the `preview-switch.io/repo` annotation: an https URL with at least two
/// path segments (a trailing `.git` or `/` is dropped). `scm` is the optional
/// `preview-switch.io/scm` annotation; without it the kind is guessed from the URL.
pub fn repo_from_url(repo: &str, scm: Option<&str>) -> Result<Repo, String> {
    let q = quoted(repo);
    let url = Url::parse(repo.trim()).map_err(|e| format!("repository {q} is not a URL ({e})"))?;
    if url.scheme() != "https" {
        return Err(format!("repository {q} is not an https URL"));
    }
    if url.host_str().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(format!(
            "repository {q} must be a plain https://host/owner/name URL (no credentials, query or fragment)"
        ));
    }
    let path = url.path().trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    if path.split('/').filter(|s| !s.is_empty()).count() < 2 {
        return Err(format!(
            "repository {q} has no owner/name path: write e.g. https://github.com/acme/web"
        ));
    }
    let mut base = url.clone();
    base.set_path(path);
    let kind = match scm.map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => ScmKind::parse(s).ok_or_else(|| {
            format!(
                "unknown source-code host kind {}: use one of {}",
                quoted(s),
                ScmKind::NAMES
            )
        })?,
        None => ScmKind::guess(&base),
    };
    Ok(Repo {
        kind,
        url: base.as_str().trim_end_matches('/').to_string(),
    })
}

/// The repository of an ApplicationSet's first Pull Request generator, looked for in
/// `spec.generators[]` and inside `matrix`/`merge` generators. `None` when there is none;
/// `Some(Err)` when there is one but it does not name a linkable repository.
pub fn repo_from_appset_spec(spec: &Value) -> Option<Result<Repo, String>> {
    let generator = find_pull_request_generator(&spec["generators"])?;
    Some(repo_from_generator(generator))
}

/// The ApplicationSet that generated `app`: the one its `ownerReferences` name (same
/// namespace, as owner references are namespace-local), else the one whose
/// `status.resources` lists it. The list projection never returns `ownerReferences`, so the
/// second way is what usually works without an extra request per preview.
pub fn generating_appset<'a>(
    app: &Application,
    appsets: &'a [ApplicationSet],
) -> Option<&'a ApplicationSet> {
    let app_ns = app.metadata.namespace_or_default();
    let owner = app
        .metadata
        .owner_references
        .iter()
        .find(|o| o.kind == "ApplicationSet" && o.controller != Some(false));
    if let Some(owner) = owner {
        return appsets.iter().find(|s| {
            s.metadata.name == owner.name && s.metadata.namespace_or_default() == app_ns
        });
    }
    appsets.iter().find(|s| {
        s.status.resources.iter().any(|r| {
            r.kind == "Application"
                && r.name == app.metadata.name
                && (r.namespace.is_empty() || r.namespace == app_ns)
        })
    })
}

/// Whether an ApplicationSet has a Pull Request generator (else it cannot give links).
pub fn has_pull_request_generator(appset: &ApplicationSet) -> bool {
    find_pull_request_generator(&appset.spec["generators"]).is_some()
}

fn find_pull_request_generator(generators: &Value) -> Option<&Value> {
    for g in generators.as_array().into_iter().flatten() {
        if g["pullRequest"].is_object() {
            return Some(&g["pullRequest"]);
        }
        for nested in ["matrix", "merge"] {
            if let Some(found) = find_pull_request_generator(&g[nested]["generators"]) {
                return Some(found);
            }
        }
    }
    None
}

/// The repository a `pullRequest` generator object names, for each SCM it supports.
pub fn repo_from_generator(generator: &Value) -> Result<Repo, String> {
    let text = |v: &Value, k: &str| -> Result<String, String> {
        v[k].as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| format!("its Pull Request generator has no {k}"))
    };
    let api = |v: &Value| {
        v["api"]
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(g) = generator.get("github").filter(|g| g.is_object()) {
        let web = match api(g) {
            None => Url::parse("https://github.com/").expect("static URL"),
            Some(a) => github_web_base(&a)?,
        };
        return join(
            ScmKind::GitHub,
            web,
            &[&text(g, "owner")?, &text(g, "repo")?],
        );
    }
    if let Some(g) = generator.get("gitlab").filter(|g| g.is_object()) {
        let web = web_base(
            api(g).as_deref().unwrap_or("https://gitlab.com/"),
            &["/api/v4"],
        )?;
        let project = text(g, "project")?;
        if project.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "its GitLab generator names the project by numeric ID {project}, which has no web path: add the annotation {} with the project's URL",
                super::keys::REPO
            ));
        }
        let segments: Vec<&str> = project.split('/').filter(|s| !s.is_empty()).collect();
        return join(ScmKind::GitLab, web, &segments);
    }
    if let Some(g) = generator.get("gitea").filter(|g| g.is_object()) {
        let web = web_base(&text(g, "api")?, &["/api/v1"])?;
        return join(
            ScmKind::Gitea,
            web,
            &[&text(g, "owner")?, &text(g, "repo")?],
        );
    }
    if let Some(g) = generator.get("bitbucketServer").filter(|g| g.is_object()) {
        let web = web_base(&text(g, "api")?, &["/rest"])?;
        return join(
            ScmKind::BitbucketServer,
            web,
            &["projects", &text(g, "project")?, "repos", &text(g, "repo")?],
        );
    }
    if let Some(g) = generator.get("bitbucket").filter(|g| g.is_object()) {
        // The API is api.bitbucket.org/2.0 whatever `api` says; the web UI is bitbucket.org.
        let web = Url::parse("https://bitbucket.org/").expect("static URL");
        return join(
            ScmKind::BitbucketCloud,
            web,
            &[&text(g, "owner")?, &text(g, "repo")?],
        );
    }
    if let Some(g) = generator.get("azuredevops").filter(|g| g.is_object()) {
        let web = web_base(api(g).as_deref().unwrap_or("https://dev.azure.com/"), &[])?;
        return join(
            ScmKind::AzureDevOps,
            web,
            &[
                &text(g, "organization")?,
                &text(g, "project")?,
                "_git",
                &text(g, "repo")?,
            ],
        );
    }
    let kinds: Vec<&str> = generator
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    Err(format!(
        "its Pull Request generator uses {}, which Preview Switch cannot link to: add the annotation {} to the template",
        if kinds.is_empty() {
            "no provider".to_string()
        } else {
            kinds.join(", ")
        },
        super::keys::REPO
    ))
}

/// GitHub Enterprise's API lives at `https://HOST/api/v3` (or `api.HOST` on GHE.com); its
/// web UI at `https://HOST`. `api.github.com` is github.com.
fn github_web_base(api: &str) -> Result<Url, String> {
    let mut url = web_base(api, &["/api/v3", "/api"])?;
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    if let Some(web) = host.strip_prefix("api.") {
        let web = web.to_string();
        url.set_host(Some(&web))
            .map_err(|e| format!("API URL {} has a bad host ({e})", quoted(api)))?;
    }
    Ok(url)
}

/// The web root of an SCM from its API URL: http(s) only, the API path suffix removed.
fn web_base(api: &str, api_paths: &[&str]) -> Result<Url, String> {
    let mut url = Url::parse(api.trim()).map_err(|e| {
        format!(
            "its Pull Request generator's api {} is not a URL ({e})",
            quoted(api)
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "its Pull Request generator's api {} is not an http(s) URL",
            quoted(api)
        ));
    }
    let mut path = url.path().trim_end_matches('/').to_string();
    for suffix in api_paths {
        if let Some(p) = path.strip_suffix(suffix) {
            path = p.to_string();
            break;
        }
    }
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok(url)
}

/// `base` plus percent-encoded path segments.
fn join(kind: ScmKind, mut base: Url, segments: &[&str]) -> Result<Repo, String> {
    {
        let mut path = base
            .path_segments_mut()
            .map_err(|()| "the API URL cannot have a path".to_string())?;
        path.pop_if_empty();
        for s in segments {
            path.push(s);
        }
    }
    Ok(Repo {
        kind,
        url: base.as_str().trim_end_matches('/').to_string(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_scm_generator_links_to_its_pull_request() {
        let table: &[(Value, &str)] = &[
            (
                json!({"github": {"owner": "acme", "repo": "web"}}),
                "https://github.com/acme/web/pull/42",
            ),
            (
                json!({"github": {"owner": "acme", "repo": "web", "api": "https://api.github.com/"}}),
                "https://github.com/acme/web/pull/42",
            ),
            // GitHub Enterprise Server: the API is under /api/v3 on the web host.
            (
                json!({"github": {"owner": "acme", "repo": "web", "api": "https://git.example.com/api/v3/"}}),
                "https://git.example.com/acme/web/pull/42",
            ),
            // The upstream example writes the bare host.
            (
                json!({"github": {"owner": "myorg", "repo": "myrepo", "api": "https://git.example.com/"}}),
                "https://git.example.com/myorg/myrepo/pull/42",
            ),
            // GHE.com with data residency: api.SUBDOMAIN.ghe.com.
            (
                json!({"github": {"owner": "acme", "repo": "web", "api": "https://api.acme.ghe.com"}}),
                "https://acme.ghe.com/acme/web/pull/42",
            ),
            (
                json!({"gitlab": {"project": "group/sub/web"}}),
                "https://gitlab.com/group/sub/web/-/merge_requests/42",
            ),
            (
                json!({"gitlab": {"project": "team/web", "api": "https://gitlab.example.com/api/v4"}}),
                "https://gitlab.example.com/team/web/-/merge_requests/42",
            ),
            (
                json!({"gitea": {"owner": "acme", "repo": "web", "api": "https://gitea.example.com/"}}),
                "https://gitea.example.com/acme/web/pulls/42",
            ),
            (
                json!({"bitbucketServer": {"project": "ACME", "repo": "web", "api": "https://bitbucket.example.com/rest"}}),
                "https://bitbucket.example.com/projects/ACME/repos/web/pull-requests/42",
            ),
            (
                json!({"bitbucket": {"owner": "acme", "repo": "web"}}),
                "https://bitbucket.org/acme/web/pull-requests/42",
            ),
            (
                json!({"azuredevops": {"organization": "acme", "project": "Web Shop", "repo": "web"}}),
                "https://dev.azure.com/acme/Web%20Shop/_git/web/pullrequest/42",
            ),
            (
                json!({"azuredevops": {"organization": "acme", "project": "shop", "repo": "web", "api": "https://tfs.example.com/tfs/"}}),
                "https://tfs.example.com/tfs/acme/shop/_git/web/pullrequest/42",
            ),
        ];
        for (generator, want) in table {
            let repo =
                repo_from_generator(generator).unwrap_or_else(|e| panic!("{generator}: {e}"));
            assert_eq!(repo.pull_request_url(42), *want, "{generator}");
        }
    }

    #[test]
    fn applicationset_list_with_every_provider_links_each_preview() {
        let list: crate::argocd::model::ApplicationSetList = serde_json::from_str(include_str!(
            "../../../tests/fixtures/scm/applicationsets-list-pull-request-generators.json"
        ))
        .unwrap();
        let want = [
            ("web-github", "https://github.com/acme/web/pull/7"),
            ("web-ghe", "https://github.acme.io/acme/web/pull/7"),
            (
                "web-gitlab",
                "https://gitlab.acme.io/acme/frontend/web/-/merge_requests/7",
            ),
            ("web-gitea", "https://gitea.acme.io/acme/web/pulls/7"),
            (
                "web-bitbucket-server",
                "https://bitbucket.acme.io/projects/ACME/repos/web/pull-requests/7",
            ),
            (
                "web-bitbucket-cloud",
                "https://bitbucket.org/acme/web/pull-requests/7",
            ),
            (
                "web-azure-devops",
                "https://dev.azure.com/acme/Web%20Shop/_git/web/pullrequest/7",
            ),
            ("web-matrix", "https://github.com/acme/web/pull/7"),
        ];
        assert_eq!(list.items.len(), want.len());
        for (set, url) in want {
            // The preview as the list projection gives it: no ownerReferences.
            let app: Application =
                serde_json::from_value(json!({"metadata": {"name": format!("{set}-pr-7")}}))
                    .unwrap();
            let found = generating_appset(&app, &list.items).unwrap();
            assert_eq!(found.metadata.name, set);
            let repo = repo_from_appset_spec(&found.spec).unwrap().unwrap();
            assert_eq!(repo.pull_request_url(7), url, "{set}");
        }
    }

    #[test]
    fn generators_without_a_linkable_repository_say_what_to_add() {
        let table: &[(Value, &str)] = &[
            (json!({"gitlab": {"project": "12345"}}), "numeric ID 12345"),
            (json!({"github": {"repo": "web"}}), "has no owner"),
            (json!({"gitea": {"owner": "a", "repo": "b"}}), "has no api"),
            (
                json!({"github": {"owner": "a", "repo": "b", "api": "ftp://x"}}),
                "not an http(s) URL",
            ),
            (
                json!({"awsCodeCommit": {"repo": "web"}}),
                "uses awsCodeCommit, which Preview Switch cannot link to: add the annotation preview-switch.io/repo",
            ),
        ];
        for (generator, want) in table {
            let err = repo_from_generator(generator).unwrap_err();
            assert!(err.contains(want), "{generator}: {err}");
        }
    }

    #[test]
    fn the_generator_is_found_at_top_level_or_inside_matrix_and_merge() {
        let upstream: Value = serde_norway::from_str(include_str!(
            "../../../tests/fixtures/argocd/applicationset-pull-request-generator-example.yaml"
        ))
        .unwrap();
        let repo = repo_from_appset_spec(&upstream["spec"]).unwrap().unwrap();
        assert_eq!(repo.url, "https://git.example.com/myorg/myrepo");
        let nested = json!({"generators": [
            {"list": {"elements": []}},
            {"matrix": {"generators": [
                {"clusters": {}},
                {"pullRequest": {"gitlab": {"project": "a/b"}}}
            ]}}
        ]});
        assert_eq!(
            repo_from_appset_spec(&nested).unwrap().unwrap().url,
            "https://gitlab.com/a/b"
        );
        assert!(repo_from_appset_spec(&json!({"generators": [{"list": {}}]})).is_none());
        assert!(repo_from_appset_spec(&json!({})).is_none());
    }

    #[test]
    fn the_generating_appset_is_found_by_owner_or_by_status() {
        let set = |name: &str, resources: Value| -> ApplicationSet {
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "argocd"},
                "spec": {"generators": [{"pullRequest": {"github": {"owner": "o", "repo": name}}}]},
                "status": {"resources": resources}}))
            .unwrap()
        };
        let sets = [
            set(
                "web-previews",
                json!([{"kind": "Application", "name": "web-pr-1", "namespace": "argocd"}]),
            ),
            set("api-previews", Value::Null),
        ];
        let app = |v: Value| -> Application { serde_json::from_value(v).unwrap() };
        // The real generated Application carries its owner (PLATFORM D).
        let owned = app(
            json!({"metadata": {"name": "api-pr-9", "namespace": "argocd",
            "ownerReferences": [{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "name": "api-previews", "controller": true}]}}),
        );
        assert_eq!(
            generating_appset(&owned, &sets).unwrap().metadata.name,
            "api-previews"
        );
        // From the list projection: no owner, found through the set's status.
        let listed = app(json!({"metadata": {"name": "web-pr-1"}}));
        assert_eq!(
            generating_appset(&listed, &sets).unwrap().metadata.name,
            "web-previews"
        );
        let other_ns = app(json!({"metadata": {"name": "web-pr-1", "namespace": "team"}}));
        assert!(generating_appset(&other_ns, &sets).is_none());
        assert!(has_pull_request_generator(&sets[0]));
        let real: Application = serde_json::from_str(include_str!(
            "../../../tests/fixtures/argocd/application-appset-generated-with-status.derived.json"
        ))
        .unwrap();
        assert!(generating_appset(&real, &sets).is_none());
    }

    #[test]
    fn repository_urls_from_the_annotation() {
        let ok: &[(&str, Option<&str>, &str)] = &[
            (
                "https://github.com/acme/web",
                None,
                "https://github.com/acme/web/pull/7",
            ),
            (
                "https://github.com/acme/web.git/",
                None,
                "https://github.com/acme/web/pull/7",
            ),
            (
                "https://gitlab.com/acme/sub/web",
                None,
                "https://gitlab.com/acme/sub/web/-/merge_requests/7",
            ),
            (
                "https://bitbucket.org/acme/web",
                None,
                "https://bitbucket.org/acme/web/pull-requests/7",
            ),
            (
                "https://dev.azure.com/acme/shop/_git/web",
                None,
                "https://dev.azure.com/acme/shop/_git/web/pullrequest/7",
            ),
            (
                "https://bitbucket.example.com/projects/ACME/repos/web",
                None,
                "https://bitbucket.example.com/projects/ACME/repos/web/pull-requests/7",
            ),
            (
                "https://codeberg.org/acme/web",
                None,
                "https://codeberg.org/acme/web/pulls/7",
            ),
            // A self-hosted GitLab whose name says nothing: the scm annotation decides.
            (
                "https://code.example.com/acme/web",
                Some("gitlab"),
                "https://code.example.com/acme/web/-/merge_requests/7",
            ),
        ];
        for (url, scm, want) in ok {
            assert_eq!(
                repo_from_url(url, *scm).unwrap().pull_request_url(7),
                *want,
                "{url}"
            );
        }
        let refused: &[(&str, Option<&str>, &str)] = &[
            ("http://github.com/acme/web", None, "not an https URL"),
            ("https://github.com/acme", None, "no owner/name path"),
            ("https://user:pw@github.com/a/b", None, "no credentials"),
            ("github.com/acme/web", None, "is not a URL"),
            (
                "https://x.example.com/a/b",
                Some("svn"),
                "unknown source-code host kind \"svn\"",
            ),
        ];
        for (url, scm, want) in refused {
            let err = repo_from_url(url, *scm).unwrap_err();
            assert!(err.contains(want), "{url}: {err}");
        }
    }
}
