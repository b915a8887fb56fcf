//! The companion's error type. Every variant names what failed, why, and the fix, and maps
//! to one exit code (and, for the native host, one `protocol` error code). Messages follow
//! STYLE.md: no trailing period, the fix after a colon. No variant can hold a token.

use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    /// 401 from Argo CD: missing, bad or expired token.
    #[error(
        "token rejected by {server} (401 {detail}): run `argocd login {host}` or set a fresh ARGOCD_AUTH_TOKEN"
    )]
    Unauthorized {
        server: String,
        host: String,
        detail: String,
    },
    /// 403 from Argo CD.
    #[error(
        "access denied by {server} (403 {detail}): your Argo CD RBAC role may not allow listing these applications"
    )]
    Forbidden { server: String, detail: String },
    /// DNS, connection refused, reset.
    #[error(
        "cannot reach {server}: {cause}: check the URL, your network/VPN and HTTPS_PROXY/NO_PROXY"
    )]
    Unreachable { server: String, cause: String },
    /// Certificate or handshake failure.
    #[error(
        "TLS failure talking to {server}: {cause}: pass --ca-cert FILE (or ca_cert in config.toml) for a private CA, or --insecure for a throwaway test server"
    )]
    Tls { server: String, cause: String },
    /// Connect or total timeout.
    #[error(
        "{server} did not answer within {after_secs:.1} s: raise --timeout, or check the server's load"
    )]
    Timeout { server: String, after_secs: f64 },
    /// A body that is not the JSON we expect.
    #[error(
        "{server} sent malformed JSON for {what} at byte {offset}: {cause}: check that the URL points at the Argo CD API server, not its UI or a proxy login page"
    )]
    BadJson {
        server: String,
        what: String,
        offset: u64,
        cause: String,
    },
    /// Any other unexpected HTTP status.
    #[error("{server} answered {status} for {what}: {detail}: {}", http_fix(*status))]
    Http {
        server: String,
        status: u16,
        what: String,
        detail: String,
    },
    /// A config file that cannot be read or parsed.
    #[error("config error in {}{}: {message}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Config {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// Bad flags or no server configured.
    #[error("{0}")]
    Usage(String),
    /// A local I/O failure (cache, manifests, stdout).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// What to do about an unexpected status: a 404 means the URL (or its path prefix) is not
/// the API server; a 5xx is the server or a proxy in front of it failing.
pub(crate) fn http_fix(status: u16) -> &'static str {
    match status {
        404 => {
            "check that the URL points at the Argo CD API server, with its path prefix if it has one"
        }
        500..=599 => {
            "Argo CD or a proxy in front of it failed: retry later, or check the argocd-server logs"
        }
        _ => "check that the URL points at the Argo CD API server",
    }
}

impl Error {
    /// 2 for usage and configuration errors, 1 for runtime failures (DESIGN §4).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config { .. } | Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
