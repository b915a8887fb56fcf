//! The wire contract between the `preview-switch` companion and the browser extension:
//! what a preview is, how to route to it, (in [`messages`]) the native-messaging
//! requests, responses and error codes, and (in [`relay`]) the team relay's HTTP bodies.
//! Serde only, so it builds for native and wasm32.
//!
//! These types are also the `preview-switch list -o json` output: renaming a field is a
//! breaking change for scripts and for installed extensions.

pub mod envs;
pub mod ids;
pub mod install;
pub mod messages;
pub mod policy;
pub mod relay;

use serde::{Deserialize, Serialize};

/// One PR preview: an Argo CD Application stamped out for a pull request. `Default` exists
/// for tests and builders (an empty preview routes nowhere).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// Base URL of the Argo CD server that holds the Application, e.g. `https://argocd.dev`.
    pub server: String,
    /// The environment: the configured server/context name, else `spec.destination.name`.
    pub context: String,
    /// The Application name, e.g. `courses-fe-pr-123`.
    pub app: String,
    /// The Application's namespace in Argo CD (usually `argocd`).
    pub namespace: String,
    /// The service the preview belongs to, e.g. `courses-fe`.
    pub service: String,
    /// The pull-request number.
    pub pr: u64,
    /// `status.sync.status`: Synced, OutOfSync, Unknown.
    pub sync: Option<String>,
    /// `status.health.status`: Healthy, Progressing, Degraded, Suspended, Missing, Unknown.
    pub health: Option<String>,
    /// `status.operationState.phase`: Running, Succeeded, Failed, Error, Terminating.
    pub phase: Option<String>,
    /// `status.sync.revision`: the deployed commit.
    pub revision: Option<String>,
    /// The deployed image tag, e.g. `dev-1a2b3c4`.
    pub image_tag: Option<String>,
    /// `metadata.creationTimestamp`, RFC 3339 in UTC (`2026-11-20T09:12:44Z`); `null` when
    /// Argo CD sent none or something that is not a timestamp.
    pub created_at: Option<String>,
    pub links: Links,
    /// Every way found to reach the preview, best first. Empty when `unroutable` is set.
    pub routes: Vec<Route>,
    /// Why no route could be found (or why the one found was refused); `null` when routable.
    pub unroutable: Option<String>,
    /// The repository's web URL, e.g. `https://github.com/acme/courses-fe` (annotation
    /// `preview-switch.io/repo`, else the generating ApplicationSet's pull-request generator).
    /// Absent when unknown; added in protocol 1 without a version bump (optional field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    /// The pull request's title (annotation `preview-switch.io/title`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The pull request's source branch (annotation `preview-switch.io/branch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The pull request's author (annotation `preview-switch.io/author`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// The pull request's head commit (annotation `preview-switch.io/head-sha`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_sha: Option<String>,
    /// Things a person should know about how this preview was read, e.g. that the routing
    /// annotation and the mesh's routing resource disagree. Empty (and absent) normally.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The cluster rule that routes a share link (`?<param>=<service>:<pr>`) to this preview,
    /// when discovery found one; absent otherwise (a link then needs the extension). Added in
    /// protocol 1 without a version bump (optional field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<Share>,
    /// The response header the routing resource adds to this preview's responses, so a
    /// browser can tell that the preview (not dev) answered; absent when there is none.
    /// Added in protocol 1 without a version bump (optional field).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marker: Option<Marker>,
}

/// A share link rule found in the cluster: a request whose query carries
/// `<param>=<service>:<pr>` reaches the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// The query parameter's name, e.g. `preview-switch`.
    pub param: String,
    /// The rule also sets the routing cookie in its response, so the pages the link leads to
    /// stay on the preview for someone without the extension; `false` when only the first
    /// request is routed.
    pub works_without_extension: bool,
}

/// A response header that proves the preview answered, e.g. `x-preview-pr: 123`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    /// The header name, lower-cased.
    pub header: String,
    /// The value the preview's responses carry.
    pub value: String,
}

impl Preview {
    /// The first route, the best one found (shown first by `list`).
    pub fn route(&self) -> Option<&Route> {
        self.routes.first()
    }

    /// The first route that applies to `host` (exact, case-insensitive): the one to act on
    /// for a page on `host`, never another route that could reach other sites.
    pub fn route_for(&self, host: &str) -> Option<&Route> {
        self.routes
            .iter()
            .find(|r| r.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)))
    }

    /// Whether some route of this preview applies to `host` (exact, case-insensitive).
    pub fn routes_host(&self, host: &str) -> bool {
        self.route_for(host).is_some()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Links {
    /// The Application's page in the Argo CD UI.
    pub argocd: Option<String>,
    /// The pull request's page, when the repository is known.
    pub pull_request: Option<String>,
}

/// What a request must carry to reach a preview, and the hosts where that applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    pub kind: RouteKind,
    /// Cookie or header name; an RFC 6265 token (validated by the companion and again by the extension).
    pub name: String,
    /// Cookie or header value; RFC 6265 cookie-octets.
    pub value: String,
    /// Exact host names (no scheme, no port, no wildcard) this route is meant for.
    pub hosts: Vec<String>,
    pub source: RouteSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteKind {
    Cookie,
    Header,
}

/// Where a route came from, first that applies (DESIGN §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteSource {
    /// `preview-switch.io/cookie` and friends on the Application.
    Annotation,
    /// Read from the preview's live routing resources (HTTPRoute, Ingress...).
    Discovery,
    /// The config file's name template and hosts.
    Config,
}

impl std::fmt::Display for RouteKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RouteKind::Cookie => "cookie",
            RouteKind::Header => "header",
        })
    }
}

impl std::fmt::Display for RouteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RouteSource::Annotation => "annotation",
            RouteSource::Discovery => "discovery",
            RouteSource::Config => "config",
        })
    }
}
