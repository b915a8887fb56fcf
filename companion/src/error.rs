//! The companion's error type and the one place each error's code and fix are written.
//! `Display` says what failed and why; [`Error::fix`] says what to do, once per [`Surface`]
//! (the CLI names flags and commands, the popup names config.toml keys and commands a user
//! runs in a terminal); [`Error::code`] is its one `protocol` error code and
//! [`Error::exit_code`] its exit code. The CLI prints `error: {what and why}: {fix}`
//! ([`Error::with_fix`]); the host sends message and fix as two fields. Messages follow
//! STYLE.md: no trailing period, the fix after a colon. No variant can hold a token.

use std::fmt;
use std::path::PathBuf;

use protocol::messages::ErrorCode;
use thiserror::Error;

/// Where an error is shown, which decides what its fix may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// A terminal: flags, environment variables and commands.
    Cli,
    /// The extension's popup (the native host): config.toml keys, and commands to run in a
    /// terminal. The browser started the host, so there are no flags to pass.
    Popup,
}

/// A problem with something a user gave (a flag, a file, a command): what is wrong and why,
/// and what to do about it, kept apart so that each surface places the fix itself. Its own
/// `Display` (`what: fix`) is for the few places that show it whole, such as clap's
/// messages for a bad flag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub what: String,
    pub fix: String,
}

impl Problem {
    pub fn new(what: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem {
            what: what.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.fix)
    }
}

impl std::error::Error for Problem {}

#[derive(Debug, Error)]
pub enum Error {
    /// 401 from Argo CD: missing, bad or expired token. `host` is what to pass to
    /// `argocd login`.
    #[error("token rejected by {server} (401 {detail})")]
    Unauthorized {
        server: String,
        host: String,
        detail: String,
    },
    /// Argo CD answered as its anonymous user: anonymous access is on there
    /// (`users.anonymous.enabled`), so a missing, expired or revoked token gets no 401 but
    /// only what anonymous users may see (`server/server.go` :: `Authenticate`). `host` is
    /// what to pass to `argocd login`; `detail` adds why no refresh helped, if one was tried.
    #[error(
        "{server} answered as an anonymous user: the token is missing, expired or revoked, and the server's anonymous access hides that{detail}"
    )]
    NotLoggedIn {
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
    #[error("cannot reach {server}: {cause}")]
    Unreachable { server: String, cause: String },
    /// Certificate or handshake failure.
    #[error("TLS failure talking to {server}: {cause}")]
    Tls { server: String, cause: String },
    /// Connect or total timeout.
    #[error("{server} did not answer within {after_secs:.1} s")]
    Timeout { server: String, after_secs: f64 },
    /// A body that is not the JSON we expect.
    #[error("{server} sent malformed JSON for {what} at byte {offset}: {cause}")]
    BadJson {
        server: String,
        what: String,
        offset: u64,
        cause: String,
    },
    /// Any other unexpected HTTP status.
    #[error("{server} answered {status} for {what}: {detail}")]
    Http {
        server: String,
        status: u16,
        what: String,
        detail: String,
    },
    /// A `--ca-cert` / `ca_cert` file that cannot be read or holds no PEM certificate.
    #[error("cannot use the CA certificate {}: {cause}", path.display())]
    CaCert { path: PathBuf, cause: String },
    /// A config file (ours or the argocd CLI's) that cannot be read, parsed or used.
    #[error("config error in {}{}: {}", path.display(), line.map(|l| format!(" line {l}")).unwrap_or_default(), problem.what)]
    Config {
        path: PathBuf,
        line: Option<usize>,
        problem: Problem,
    },
    /// No flag, variable or file names a server.
    #[error(
        "no Argo CD server configured: none given by a flag or ARGOCD_SERVER, none listed in {}, no argocd CLI context in {}",
        config_file.display(),
        argocd_config.display()
    )]
    NoServer {
        config_file: PathBuf,
        argocd_config: PathBuf,
    },
    /// Bad flags or arguments.
    #[error("{}", .0.what)]
    Usage(Problem),
    /// A question the listing has no answer to (`header` for a preview that does not exist
    /// or has no route). CLI only.
    #[error("{}", .0.what)]
    NotFound(Problem),
    /// 403 on an action (refresh, sync): the user's role lacks a permission.
    #[error(
        "{} refused to {} {}: your Argo CD role lacks `{}` on {} (403 {})",
        .0.server, .0.action, .0.app, .0.permission, .0.object, .0.detail
    )]
    PermissionMissing(Box<Denied>),
    /// A sync Argo CD would not start: a sync window, the app being deleted, an operation
    /// already running.
    #[error("{server} would not sync {app}: {detail}")]
    SyncRefused {
        server: String,
        app: String,
        detail: String,
    },
    /// A local I/O failure (cache, manifests, stdout).
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// What a 403 on an action says was missing (boxed: errors stay small).
#[derive(Debug)]
pub struct Denied {
    pub server: String,
    /// `sync` or `refresh`.
    pub action: String,
    pub app: String,
    /// e.g. `applications, sync`.
    pub permission: String,
    /// e.g. `default/courses-fe-pr-123`.
    pub object: String,
    /// Argo CD's own message.
    pub detail: String,
}

/// What to do about an unexpected status: a 404 means the URL (or its path prefix) is not
/// the API server; a 5xx is the server or a proxy in front of it failing.
fn http_fix(status: u16) -> &'static str {
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
    /// The one `protocol` error code of this error (STYLE: exactly one per variant).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Unauthorized { .. } | Error::NotLoggedIn { .. } => ErrorCode::ArgocdUnauthorized,
            Error::Forbidden { .. } => ErrorCode::Forbidden,
            Error::Unreachable { .. } => ErrorCode::ArgocdUnreachable,
            Error::Tls { .. } => ErrorCode::Tls,
            Error::Timeout { .. } => ErrorCode::Timeout,
            Error::BadJson { .. } | Error::Http { .. } => ErrorCode::ArgocdBadResponse,
            Error::CaCert { .. } | Error::Config { .. } | Error::NoServer { .. } => {
                ErrorCode::Config
            }
            Error::Usage(_) => ErrorCode::Config,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::PermissionMissing(_) => ErrorCode::PermissionMissing,
            Error::SyncRefused { .. } => ErrorCode::SyncRefused,
            // A local I/O failure is the companion's own.
            Error::Io { .. } => ErrorCode::Internal,
        }
    }

    /// What the reader on `surface` can do about it: the only place a fix is written.
    pub fn fix(&self, surface: Surface) -> String {
        use Surface::{Cli, Popup};
        match (self, surface) {
            (Error::Unauthorized { host, .. } | Error::NotLoggedIn { host, .. }, Cli) => {
                format!("run `argocd login {host}` or set a fresh ARGOCD_AUTH_TOKEN")
            }
            (Error::Unauthorized { host, .. } | Error::NotLoggedIn { host, .. }, Popup) => format!(
                "run `argocd login {host}` in a terminal, or renew the server's token_file or token_command in config.toml"
            ),
            (Error::Forbidden { .. }, _) => {
                "ask an Argo CD admin for a role that can get these applications".to_owned()
            }
            (Error::Unreachable { .. }, Cli) => {
                "check the URL, your network/VPN and HTTPS_PROXY/NO_PROXY".to_owned()
            }
            (Error::Unreachable { .. }, Popup) => {
                "check the URL (url in config.toml, or the argocd CLI's context), your network/VPN and HTTPS_PROXY/NO_PROXY".to_owned()
            }
            (Error::Tls { .. }, Cli) => {
                "pass --ca-cert FILE (or ca_cert in config.toml) for a private CA, or --insecure for a throwaway test server".to_owned()
            }
            (Error::Tls { .. }, Popup) => {
                "set ca_cert in config.toml for a private CA (insecure = true only for a throwaway test server)".to_owned()
            }
            (Error::Timeout { .. }, Cli) => "raise --timeout, or check the server's load".to_owned(),
            (Error::Timeout { .. }, Popup) => {
                "raise timeout in config.toml, or check the server's load".to_owned()
            }
            (Error::BadJson { .. }, _) => {
                "check that the URL points at the Argo CD API server, not its UI or a proxy login page".to_owned()
            }
            (Error::Http { status, .. }, _) => http_fix(*status).to_owned(),
            (Error::PermissionMissing(d), _) => format!(
                "ask an Argo CD admin to grant `{}` on {} to your role",
                d.permission, d.object
            ),
            (Error::SyncRefused { .. }, _) => {
                "wait for the sync window or the running operation to end, then sync again; the Argo CD UI shows which".to_owned()
            }
            (Error::CaCert { .. }, Cli) => {
                "pass a readable PEM file with --ca-cert (or ca_cert in config.toml)".to_owned()
            }
            (Error::CaCert { .. }, Popup) => {
                "point ca_cert in config.toml at a readable PEM file".to_owned()
            }
            (Error::Config { problem, .. }, _)
            | (Error::Usage(problem), _)
            | (Error::NotFound(problem), _) => problem.fix.clone(),
            (Error::NoServer { .. }, Cli) => {
                "pass --server URL (and --auth-token), set ARGOCD_SERVER and ARGOCD_AUTH_TOKEN, list servers in config.toml, or run `argocd login <host>`".to_owned()
            }
            (Error::NoServer { .. }, Popup) => {
                "list servers in config.toml, or run `argocd login <host>` in a terminal; `preview-switch doctor` shows what is read".to_owned()
            }
            (Error::Io { source, .. }, Cli) => match source.kind() {
                std::io::ErrorKind::PermissionDenied => {
                    "check the permissions of that path, or run as a user who may write there"
                        .to_owned()
                }
                std::io::ErrorKind::NotFound => "check that the path exists".to_owned(),
                _ => "check the path and the free disk space, then retry".to_owned(),
            },
            (Error::Io { .. }, Popup) => {
                "run `preview-switch doctor` in a terminal and see the host log".to_owned()
            }
        }
    }

    /// What failed, why, and the fix after a colon: the line a person reads on `surface`.
    pub fn with_fix(&self, surface: Surface) -> String {
        format!("{self}: {}", self.fix(surface))
    }

    /// 2 for usage and configuration errors, 1 for runtime failures (DESIGN §4).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::CaCert { .. } | Error::Config { .. } | Error::NoServer { .. } => 2,
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<Error> {
        let s = || "https://argocd.dev".to_owned();
        vec![
            Error::Unauthorized {
                server: s(),
                host: "argocd.dev".into(),
                detail: "token is expired".into(),
            },
            Error::Forbidden {
                server: s(),
                detail: "permission denied".into(),
            },
            Error::NotLoggedIn {
                server: s(),
                host: "argocd.dev".into(),
                detail: String::new(),
            },
            Error::Unreachable {
                server: s(),
                cause: "connection refused".into(),
            },
            Error::Tls {
                server: s(),
                cause: "invalid peer certificate: UnknownIssuer".into(),
            },
            Error::Timeout {
                server: s(),
                after_secs: 30.0,
            },
            Error::BadJson {
                server: s(),
                what: "the application list".into(),
                offset: 12,
                cause: "expected value".into(),
            },
            Error::Http {
                server: s(),
                status: 502,
                what: "GET /api/v1/applications".into(),
                detail: "Bad Gateway".into(),
            },
            Error::CaCert {
                path: "/etc/ca.pem".into(),
                cause: "no such file".into(),
            },
            Error::Config {
                path: "/c.toml".into(),
                line: Some(3),
                problem: Problem::new("unknown field `tokn`", "fix that line"),
            },
            Error::NoServer {
                config_file: "/home/u/.config/preview-switch/config.toml".into(),
                argocd_config: "/home/u/.config/argocd/config".into(),
            },
            Error::Usage(Problem::new(
                "--context and --all-contexts exclude each other",
                "pass one of them",
            )),
            Error::NotFound(Problem::new(
                "no preview of web for PR 9",
                "run `preview-switch list`",
            )),
            Error::Io {
                what: "cannot write to stdout".into(),
                source: std::io::Error::other("disk full"),
            },
            Error::PermissionMissing(Box::new(Denied {
                server: s(),
                action: "sync".into(),
                app: "web-pr-1".into(),
                permission: "applications, sync".into(),
                object: "default/web-pr-1".into(),
                detail: "permission denied: applications, sync, default/web-pr-1".into(),
            })),
            Error::SyncRefused {
                server: s(),
                app: "web-pr-1".into(),
                detail: "cannot sync: blocked by sync window".into(),
            },
        ]
    }

    /// Regression (issue 16): each fix was written twice, differently (`Display` said
    /// `--ca-cert ... or --insecure`, the host's wire error `set ca_cert in config.toml`).
    /// Now `Display` holds no fix, so no surface shows one twice or the other's.
    #[test]
    fn display_says_what_and_why_and_each_surface_adds_its_own_fix() {
        for e in every_variant() {
            let what = e.to_string();
            let (cli, popup) = (e.fix(Surface::Cli), e.fix(Surface::Popup));
            assert!(!cli.is_empty() && !popup.is_empty(), "{what}");
            assert!(!what.contains(&cli) && !what.contains(&popup), "{what}");
            assert_eq!(e.with_fix(Surface::Cli), format!("{what}: {cli}"));
            for text in [&what, &cli, &popup] {
                assert!(!text.ends_with('.'), "{text}");
            }
            // The popup is the browser's: no flag to pass there.
            assert!(!popup.contains("--"), "{popup}");
        }
        let tls = &every_variant()[4];
        assert!(tls.fix(Surface::Cli).contains("--ca-cert"));
        assert!(tls.fix(Surface::Popup).contains("ca_cert in config.toml"));
    }

    #[test]
    fn each_variant_has_one_code_and_an_exit_code() {
        let codes: Vec<(ErrorCode, u8)> = every_variant()
            .iter()
            .map(|e| (e.code(), e.exit_code()))
            .collect();
        use ErrorCode::*;
        assert_eq!(
            codes,
            [
                (ArgocdUnauthorized, 1),
                (Forbidden, 1),
                (ArgocdUnauthorized, 1),
                (ArgocdUnreachable, 1),
                (Tls, 1),
                (Timeout, 1),
                (ArgocdBadResponse, 1),
                (ArgocdBadResponse, 1),
                (Config, 2),
                (Config, 2),
                (Config, 2),
                (Config, 2),
                (NotFound, 1),
                (Internal, 1),
                (PermissionMissing, 1),
                (SyncRefused, 1),
            ]
        );
    }
}
