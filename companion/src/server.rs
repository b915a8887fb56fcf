//! One Argo CD server to query ([`ServerTarget`]) and the rules for its URL: parsing a
//! `--server` / config / `argocd` context value ([`parse_server_url`], `context_url`) and
//! comparing two URLs (`url_key`). Below `config` (which resolves the targets) and above
//! `argocd` and the listing (which use them), so neither `argocd/` nor `core/` imports
//! `config` (tidy test `imports_flow_one_way`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use url::Url;

use crate::argocd::cli_config::ResolvedContext;
use crate::core::routes::RouteTemplate;
use crate::error::Problem;
use crate::token::Token;

/// One Argo CD server to query, fully resolved.
#[derive(Debug, Clone)]
pub struct ServerTarget {
    /// Its name: the config server name or argocd context name; shown as the preview's `context`.
    pub name: String,
    /// Base URL, e.g. `https://argocd.dev` (bare hosts become https).
    pub url: Url,
    pub token: Option<Token>,
    /// Label selector (`type=pr` unless configured).
    pub selector: String,
    pub ca_cert: Option<CaCert>,
    pub insecure: bool,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    /// Route rules from the config file (source 3), if any.
    pub route_template: Option<RouteTemplate>,
    /// Where these settings came from, for `doctor` and error messages ("flag", "env", a file path).
    pub origin: String,
}

/// A private CA to trust besides the platform's roots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaCert {
    /// A PEM file: `--ca-cert`, or `ca_cert` in config.toml.
    File(PathBuf),
    /// An `argocd` CLI context's `certificate-authority-data` (base64 of PEM, decoded),
    /// and the CLI config it came from.
    Inline { pem: Vec<u8>, from: PathBuf },
}

impl CaCert {
    /// The file to name in messages: the PEM file, or the CLI config holding the data.
    pub fn path(&self) -> &Path {
        match self {
            CaCert::File(p) => p,
            CaCert::Inline { from, .. } => from,
        }
    }
}

impl From<PathBuf> for CaCert {
    fn from(p: PathBuf) -> CaCert {
        CaCert::File(p)
    }
}

impl From<&str> for CaCert {
    fn from(p: &str) -> CaCert {
        CaCert::File(PathBuf::from(p))
    }
}

/// Parses a `--server` / config / argocd value: a full `http(s)://` URL, or a bare
/// `host[:port][/path]` that becomes https (http when `plain_text`). Credentials in the URL
/// (`user:pass@`), a query and a fragment are refused: the URL is printed in errors, the
/// host's hello and the cache key, so whatever it carries would leak.
pub fn parse_server_url(raw: &str, plain_text: bool) -> Result<Url, Problem> {
    const GIVE_A_URL: &str = "give e.g. https://argocd.example.com or argocd.example.com:443";
    const GIVE_A_TOKEN: &str = "remove them and give a token instead (token_command or token_file in the config file, ARGOCD_AUTH_TOKEN, or `argocd login`)";
    let raw = raw.trim();
    let full = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("{}://{raw}", if plain_text { "http" } else { "https" })
    };
    // Every message shows the value with any userinfo masked, never the password.
    let shown = without_userinfo(raw);
    if shown != raw {
        return Err(Problem::new(
            format!(
                "`{shown}` carries credentials (user:password@) in the server URL, which would be printed and cached"
            ),
            GIVE_A_TOKEN,
        ));
    }
    let url = Url::parse(&full)
        .map_err(|e| Problem::new(format!("`{shown}` is not a server URL ({e})"), GIVE_A_URL))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Problem::new(
            format!("`{shown}` is not an http or https URL"),
            GIVE_A_URL,
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Problem::new(format!("`{shown}` has no host"), GIVE_A_URL));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Problem::new(
            format!("`{shown}` carries credentials in the server URL"),
            GIVE_A_TOKEN,
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Problem::new(
            format!(
                "`{shown}` has a query or fragment (`?` or `#`), which Argo CD's API does not take and which would be printed and cached"
            ),
            "give only scheme, host, port and path; pass a token as a token, not in the URL",
        ));
    }
    Ok(url)
}

/// `raw` with the userinfo of its authority (everything up to the last `@` before the
/// path) replaced by `***`.
fn without_userinfo(raw: &str) -> String {
    let start = raw.find("://").map_or(0, |i| i + 3);
    let rest = &raw[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{}***{}", &raw[..start], &rest[at..]),
        None => raw.to_owned(),
    }
}

/// A comparison key: scheme, host, effective port and path without the trailing slash.
pub(crate) fn url_key(u: &Url) -> String {
    format!(
        "{}://{}:{}{}",
        u.scheme(),
        u.host_str().unwrap_or_default().to_ascii_lowercase(),
        u.port_or_known_default().unwrap_or_default(),
        u.path().trim_end_matches('/')
    )
}

/// `host[:port]` of a URL, the default name of a server without one.
pub(crate) fn host_name(u: &Url) -> String {
    let host = u.host_str().unwrap_or_default();
    match u.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// An argocd context's base URL (`plain-text` → http, `grpc-web-root-path` → path).
pub(crate) fn context_url(ctx: &ResolvedContext<'_>) -> Result<Url, Problem> {
    let plain = ctx.server.is_some_and(|s| s.plain_text);
    let mut url = parse_server_url(ctx.server_name, plain)?;
    if let Some(root) = ctx
        .server
        .map(|s| s.grpc_web_root_path.trim_matches('/'))
        .filter(|r| !r.is_empty())
    {
        url.set_path(&format!("/{root}"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_query_and_fragment_in_a_server_url_are_refused_without_echoing_them() {
        for raw in [
            "https://admin:hunter2@argocd.dev",
            "admin:hunter2@argocd.dev:8443",
            "https://hunter2@argocd.dev/argocd",
        ] {
            let err = parse_server_url(raw, false).unwrap_err().to_string();
            assert!(!err.contains("hunter2"), "{err}");
            assert!(
                err.contains("carries credentials") && err.contains("give a token instead"),
                "{err}"
            );
        }
        for raw in [
            "https://argocd.dev/?token=x",
            "https://argocd.dev#frag",
            "argocd.dev?x",
        ] {
            let err = parse_server_url(raw, false).unwrap_err().to_string();
            assert!(err.contains("has a query or fragment"), "{raw}: {err}");
        }
        // A path (Argo CD behind a root path) and an `@` inside it are still fine.
        let u = parse_server_url("https://argocd.dev/argocd/@team", false).unwrap();
        assert_eq!(u.as_str(), "https://argocd.dev/argocd/@team");
    }

    #[test]
    fn bare_hosts_take_the_scheme_and_keys_ignore_case_default_ports_and_slashes() {
        let u = |raw, plain| parse_server_url(raw, plain).unwrap();
        assert_eq!(
            u("argocd.dev:8443", false).as_str(),
            "https://argocd.dev:8443/"
        );
        assert_eq!(u("localhost:8080", true).as_str(), "http://localhost:8080/");
        assert_eq!(
            url_key(&u("https://ArgoCD.dev:443/argocd/", false)),
            url_key(&u("argocd.dev/argocd", false))
        );
        assert_ne!(
            url_key(&u("http://argocd.dev", false)),
            url_key(&u("https://argocd.dev", false))
        );
        assert_eq!(host_name(&u("argocd.dev:8443", false)), "argocd.dev:8443");
        assert_eq!(host_name(&u("https://argocd.dev", false)), "argocd.dev");
    }
}
