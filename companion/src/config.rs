//! Connection settings: which Argo CD servers to ask, with which token, selector and route
//! rules. Sources, highest first (DESIGN §4): flags; `ARGOCD_SERVER` / `ARGOCD_AUTH_TOKEN`;
//! `config.toml` (`PREVIEW_SWITCH_CONFIG` or `$XDG_CONFIG_HOME/preview-switch/config.toml`);
//! the `argocd` CLI's own config (PLATFORM D path rules).
//!
//! OWNER: client helper (H3). Skeleton types below are the shared interface.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::core::routes::RouteTemplate;
use crate::token::Token;

/// Default label selector for preview Applications.
pub const DEFAULT_SELECTOR: &str = "type=pr";

/// One Argo CD server to query, fully resolved.
#[derive(Debug, Clone)]
pub struct ServerTarget {
    /// Its name: the config server name or argocd context name; shown as the preview's `context`.
    pub name: String,
    /// Base URL, e.g. `https://argocd.dev` (bare hosts become https).
    pub url: Url,
    pub token: Option<Token>,
    /// Label selector, default [`DEFAULT_SELECTOR`].
    pub selector: String,
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Route rules from the config file (source 3), if any.
    pub route_template: Option<RouteTemplate>,
    /// Where these settings came from, for `doctor` and error messages ("flag", "env", a file path).
    pub origin: String,
}

/// The connection flags shared by `list`, `header`, `doctor` and the host.
#[derive(Debug, Clone, Default)]
pub struct ConnectionArgs {
    pub server: Option<String>,
    pub token: Option<String>,
    pub context: Option<String>,
    pub all_contexts: bool,
    pub selector: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub insecure: bool,
    pub connect_timeout: Option<Duration>,
    pub timeout: Option<Duration>,
    /// `--config FILE`, else `PREVIEW_SWITCH_CONFIG`, else the XDG path.
    pub config: Option<PathBuf>,
}
