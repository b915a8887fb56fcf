//! The pure core: Argo CD JSON in, `protocol::Preview` out. No I/O here (checked by the tidy
//! test): no tokio, reqwest, std::fs or std::net. Shells fetch, this decides: which
//! Applications are previews ([`selector`], [`preview`]), which cookie on which hosts reaches
//! each one ([`routes`]), and whether a cookie is safe to hand to a browser ([`cookie`]).

pub mod cookie;
pub mod envs;
pub mod preview;
pub mod routes;
pub mod scm;
pub mod selector;
pub mod transitions;

/// The label and annotation keys Preview Switch reads on Applications (DESIGN §3).
pub mod keys {
    /// Label: the PR number, overriding every other source.
    pub const PR: &str = "preview-switch.io/pr";
    /// Label: the service name, overriding the name without its `-pr-<n>` suffix.
    pub const SERVICE: &str = "preview-switch.io/service";
    /// Label: the environment of a non-preview Application (`envs`), overriding the
    /// environment segment of its name and the server's context name.
    pub const ENV: &str = "preview-switch.io/env";
    /// Annotation: the routing cookie's name.
    pub const COOKIE: &str = "preview-switch.io/cookie";
    /// Annotation: the routing cookie's value (default: the PR number).
    pub const COOKIE_VALUE: &str = "preview-switch.io/cookie-value";
    /// Annotation: comma-separated hosts the cookie applies to.
    pub const HOSTS: &str = "preview-switch.io/hosts";
    /// Annotation: the repository's https URL, for the pull-request link.
    pub const REPO: &str = "preview-switch.io/repo";
    /// Annotation: the kind of source-code host when the repository URL does not say
    /// (`github`, `gitlab`, `gitea`, `bitbucket-server`, `bitbucket`, `azure-devops`).
    pub const SCM: &str = "preview-switch.io/scm";
    /// Annotation: the pull request's title (a Pull Request generator writes `{{ .title }}`).
    pub const TITLE: &str = "preview-switch.io/title";
    /// Annotation: the pull request's branch (`{{ .branch }}`).
    pub const BRANCH: &str = "preview-switch.io/branch";
    /// Annotation: the pull request's author (`{{ .author }}`).
    pub const AUTHOR: &str = "preview-switch.io/author";
    /// Annotation: the pull request's head commit (`{{ .head_sha }}`).
    pub const HEAD_SHA: &str = "preview-switch.io/head-sha";
}

/// Shows user input inside a message, quoted and cut short (the policy's own helper, so the
/// companion's messages and the policy's read alike).
pub(crate) use protocol::policy::quoted;
