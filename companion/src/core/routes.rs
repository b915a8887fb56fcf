//! Route derivation. OWNER: core helper (H1).

/// A config-file route rule (source 3): a cookie name template such as `team-{service}-pr`,
/// an optional value template (default: the PR number) and host templates.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct RouteTemplate {
    pub cookie: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
}
