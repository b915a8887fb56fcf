//! `preview-switch serve`: the team relay's flags, read into [`RelayOptions`], and its run:
//! resolve the Argo CD servers like every other command, bind, print where it listens, and
//! serve until SIGINT or SIGTERM. A configuration problem stops it at once (exit 2): a
//! service that cannot list must not look healthy.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::Conn;
use crate::error::{Error, Result};
use crate::host::ListingSource;
use crate::host::previews::PreviewsOptions;
use crate::relay::auth::{self, AuthConfig, OidcConfig};
use crate::relay::limits::Limits;
use crate::relay::{self, Origins, RelayOptions, TlsFiles};

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8080 (port 0 picks a free one)
    #[arg(long, value_name = "ADDR", env = "PREVIEW_SWITCH_LISTEN")]
    listen: SocketAddr,
    /// Serve under this path prefix, e.g. /previews (behind a shared host name)
    #[arg(
        long,
        value_name = "PATH",
        default_value = "",
        env = "PREVIEW_SWITCH_BASE_PATH"
    )]
    base_path: String,
    /// PEM certificate chain to serve HTTPS directly (default: plain HTTP behind the ingress)
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        env = "PREVIEW_SWITCH_TLS_CERT"
    )]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        env = "PREVIEW_SWITCH_TLS_KEY"
    )]
    tls_key: Option<PathBuf>,
    /// Trust the identity header from these proxy addresses or CIDR ranges (comma-separated)
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        env = "PREVIEW_SWITCH_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<String>,
    /// The header the trusted proxy names the signed-in user in
    #[arg(long, value_name = "HEADER", default_value = auth::DEFAULT_IDENTITY_HEADER, env = "PREVIEW_SWITCH_IDENTITY_HEADER")]
    identity_header: String,
    /// Accept OIDC bearer tokens from this issuer (checked against its published keys)
    #[arg(long, value_name = "URL", env = "PREVIEW_SWITCH_OIDC_ISSUER")]
    oidc_issuer: Option<String>,
    /// The audience (client id) the bearer tokens must be issued for
    #[arg(
        long,
        value_name = "AUD",
        requires = "oidc_issuer",
        env = "PREVIEW_SWITCH_OIDC_AUDIENCE"
    )]
    oidc_audience: Option<String>,
    /// The issuer's JWKS URL (default: jwks_uri from its discovery document)
    #[arg(
        long,
        value_name = "URL",
        requires = "oidc_issuer",
        env = "PREVIEW_SWITCH_OIDC_JWKS_URL"
    )]
    oidc_jwks_url: Option<String>,
    /// Serve anyone who can reach the relay, without signing in (private networks only)
    #[arg(long, env = "PREVIEW_SWITCH_ALLOW_ANONYMOUS")]
    allow_anonymous: bool,
    /// Another browser origin to answer besides the extension's (a moz-extension://<uuid>
    /// given here pins Firefox to the installations named)
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    cors_origins: Vec<String>,
    /// Requests per second per client, sustained
    #[arg(long, value_name = "N", default_value_t = Limits::default().per_second)]
    rate_limit: NonZeroU32,
    /// Requests a client may make at once before --rate-limit applies
    #[arg(long, value_name = "N", default_value_t = Limits::default().burst)]
    burst: NonZeroU32,
    /// Open /v1/events streams per client
    #[arg(long, value_name = "N", default_value_t = Limits::default().streams)]
    max_streams_per_client: usize,
    #[command(flatten)]
    conn: Conn,
}

fn options(args: &ServeArgs, targets: &[crate::server::ServerTarget]) -> Result<RelayOptions> {
    let base_path = relay::parse_base_path(&args.base_path).map_err(Error::Usage)?;
    let oidc = match &args.oidc_issuer {
        Some(issuer) => Some(OidcConfig {
            issuer: issuer.clone(),
            audience: args.oidc_audience.clone().unwrap_or_default(),
            jwks_url: match &args.oidc_jwks_url {
                Some(raw) => Some(url::Url::parse(raw).map_err(|e| {
                    Error::Usage(crate::error::Problem::new(
                        format!("--oidc-jwks-url {raw:?} is not a URL: {e}"),
                        "give the issuer's JWKS address, or leave it out to use discovery",
                    ))
                })?),
                None => None,
            },
        }),
        None => None,
    };
    let mut origins = Origins::default();
    for origin in &args.cors_origins {
        let origin = origin.trim_end_matches('/').to_owned();
        if origin.starts_with("moz-extension://") {
            origins.any_firefox = false;
        }
        origins.exact.push(origin);
    }
    let slowest = targets.iter().map(|t| t.timeout).max();
    Ok(RelayOptions {
        listen: args.listen,
        base_path,
        tls: match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            }),
            _ => None,
        },
        auth: AuthConfig {
            trusted_proxies: auth::parse_proxies(&args.trusted_proxies).map_err(Error::Usage)?,
            identity_header: args.identity_header.to_ascii_lowercase(),
            oidc,
            allow_anonymous: args.allow_anonymous,
        },
        origins,
        limits: Limits {
            per_second: args.rate_limit,
            burst: args.burst,
            streams: args.max_streams_per_client,
        },
        previews: PreviewsOptions {
            // A relay in a container keeps its list in memory; its watch keeps it current.
            cache_dir: None,
            fetch_timeout: slowest.map_or(Duration::from_secs(30), |t| t + Duration::from_secs(2)),
            fresh_for: Duration::from_secs(10),
            backoff_min: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
        },
    })
}

/// Resolves the servers, binds, says where, and serves until SIGINT or SIGTERM.
pub(super) async fn run(args: ServeArgs) -> Result<ExitCode> {
    let targets = super::resolve(&args.conn.clone().into())?;
    let opts = options(&args, &targets)?;
    let servers = targets.len();
    let base = opts.base_path.clone();
    let bound = relay::bind(ListingSource::new(targets), opts).await?;
    let addr = bound.local_addr().map_err(|source| Error::Io {
        what: "cannot read the relay's address".into(),
        source,
    })?;
    let scheme = if bound.is_tls() { "https" } else { "http" };
    let line = format!(
        "preview-switch relay listening on {scheme}://{addr}{base}/ for {servers} Argo CD server{}\n",
        if servers == 1 { "" } else { "s" }
    );
    super::write_stdout(&line)?;
    tracing::info!("{}", line.trim_end());
    bound.serve(stop_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// SIGINT (Ctrl-C) or SIGTERM (Kubernetes stopping the pod).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
