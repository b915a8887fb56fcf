//! Pure resolution: from the flags, the environment and the files already read, which
//! servers to query with which settings (the precedence in the module docs of `config`).
//! Reading a server's token is the caller's (passed in as `token_of`), so this file does no
//! I/O (tidy test `pure_cores_do_no_io`).

use std::path::Path;
use std::time::Duration;

use url::Url;

use toml::Spanned;

use super::file::{DurationValue, FileConfig, FileServer, LoadedFile};
use super::{
    ConnectionArgs, DEFAULT_CONNECT_TIMEOUT, DEFAULT_SELECTOR, DEFAULT_TIMEOUT, Env, expand_home,
    non_empty,
};
use crate::argocd::cli_config::{LocalConfig, PORT_FORWARD_SERVER, ResolvedContext};
use crate::core::routes::RouteTemplate;
use crate::error::{Error, Problem, Result};
use crate::server::{CaCert, ServerTarget, context_url, host_name, parse_server_url, url_key};
use crate::token::Token;

/// The settings every target gets from flags and config-file defaults.
struct Common<'a> {
    args: &'a ConnectionArgs,
    /// The config files read, the user's before the system's.
    files: &'a [&'a LoadedFile],
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    env: Env<'a>,
}

impl Common<'_> {
    fn target(
        &self,
        name: String,
        url: Url,
        token: Option<Token>,
        origin: String,
        server: Option<(&LoadedFile, &FileServer)>,
        cli: CliTls,
    ) -> Result<ServerTarget> {
        let env = self.env;
        let (server_connect, server_timeout) = match server {
            Some((f, s)) => (f.duration(&s.connect_timeout)?, f.duration(&s.timeout)?),
            None => (None, None),
        };
        let selector = self
            .args
            .selector
            .clone()
            .or_else(|| server.and_then(|(_, s)| s.selector.clone()))
            .or_else(|| first(self.files, |c| c.selector.clone()))
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SELECTOR.to_owned());
        // A relative ca_cert is beside the file that names it.
        let ca_cert = self
            .args
            .ca_cert
            .clone()
            .or_else(|| {
                let (f, s) = server?;
                let p = expand_home(s.ca_cert.as_deref()?, env);
                Some(match (p.is_relative(), f.path.parent()) {
                    (true, Some(dir)) => dir.join(p),
                    _ => p,
                })
            })
            .map(CaCert::File)
            .or(cli.ca);
        let route_template = server
            .and_then(|(_, s)| s.route.clone())
            .or_else(|| first(self.files, |c| c.route.clone()))
            .map(RouteTemplate::from);
        Ok(ServerTarget {
            name,
            url,
            token,
            selector,
            ca_cert,
            insecure: self.args.insecure
                || server.and_then(|(_, s)| s.insecure).unwrap_or(false)
                || cli.insecure,
            connect_timeout: self
                .args
                .connect_timeout
                .or(server_connect)
                .or(self.connect_timeout)
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            timeout: self
                .args
                .timeout
                .or(server_timeout)
                .or(self.timeout)
                .unwrap_or(DEFAULT_TIMEOUT),
            route_template,
            origin,
        })
    }
}

/// The first of `files` (the user's before the system's) that sets a key decides it.
fn first<T>(files: &[&LoadedFile], get: impl Fn(&FileConfig) -> Option<T>) -> Option<T> {
    files.iter().find_map(|f| get(&f.cfg))
}

/// [`first`] for a duration, which is checked in the file that sets it.
fn first_duration(
    files: &[&LoadedFile],
    get: impl Fn(&FileConfig) -> &Option<Spanned<DurationValue>>,
) -> Result<Option<Duration>> {
    for f in files {
        if let Some(d) = f.duration(get(&f.cfg))? {
            return Ok(Some(d));
        }
    }
    Ok(None)
}

/// Where each `config.toml` setting in effect comes from, for `doctor`: its flag, the first
/// file that sets it (the user's before the system's), or the default.
pub(super) fn origins(
    args: &ConnectionArgs,
    env_server: bool,
    files: &[&LoadedFile],
) -> Vec<(&'static str, String)> {
    let from = |set: fn(&FileConfig) -> bool| {
        files
            .iter()
            .find(|f| set(&f.cfg))
            .map(|f| f.path.display().to_string())
    };
    let flag = |on: bool, name: &str| on.then(|| format!("flag --{name}"));
    [
        (
            "servers",
            flag(args.server.is_some(), "server")
                .or_else(|| env_server.then(|| "env ARGOCD_SERVER".to_owned()))
                .or_else(|| from(|c| !c.servers.is_empty())),
            "the argocd CLI config",
        ),
        (
            "selector",
            flag(args.selector.is_some(), "selector").or_else(|| from(|c| c.selector.is_some())),
            "the default",
        ),
        (
            "connect_timeout",
            flag(args.connect_timeout.is_some(), "connect-timeout")
                .or_else(|| from(|c| c.connect_timeout.is_some())),
            "the default",
        ),
        (
            "timeout",
            flag(args.timeout.is_some(), "timeout").or_else(|| from(|c| c.timeout.is_some())),
            "the default",
        ),
        (
            "route",
            from(|c| c.route.is_some()),
            "the apps' own annotations",
        ),
        (
            "env_pattern",
            from(|c| c.env_pattern.is_some()),
            "the default",
        ),
    ]
    .into_iter()
    .map(|(key, origin, otherwise)| (key, origin.unwrap_or_else(|| otherwise.to_owned())))
    .collect()
}

/// What [`super::sources`] read: the parsed `config.toml` files, the user's before the
/// system's, and `argocd` CLI config (each if present) and the paths in effect, for messages.
pub(super) struct Read<'a> {
    pub files: &'a [&'a LoadedFile],
    pub argocd: Option<&'a LocalConfig>,
    pub argocd_path: &'a Path,
    pub config_file: &'a Path,
}

/// Reads one config-file server's own token (`token`, `token_file` or `token_command`):
/// called only for the servers picked, so no other server's command runs.
pub(super) type TokenOf<'a> = &'a dyn Fn(&LoadedFile, &FileServer) -> Result<Option<Token>>;

/// The error when no source names a server.
fn no_server(read: &Read<'_>) -> Error {
    Error::NoServer {
        config_file: read.config_file.to_owned(),
        argocd_config: read.argocd_path.to_owned(),
    }
}

/// Flags that exclude each other, refused before anything is read.
pub(super) fn check_flags(args: &ConnectionArgs) -> Result<()> {
    if args.all_contexts && args.context.is_some() {
        return Err(Error::Usage(Problem::new(
            "--context and --all-contexts exclude each other",
            "pass one of them",
        )));
    }
    let flag_server = args.server.as_deref().filter(|s| !s.trim().is_empty());
    if flag_server.is_some() && (args.all_contexts || args.context.is_some()) {
        return Err(Error::Usage(Problem::new(
            "--server names one server; --context/--all-contexts pick from configured ones",
            "pass only one of them",
        )));
    }
    Ok(())
}

/// The servers to query, from what was read (see the module docs of `config` for the
/// precedence).
pub(super) fn targets(
    args: &ConnectionArgs,
    env: Env<'_>,
    read: &Read<'_>,
    token_of: TokenOf<'_>,
) -> Result<Vec<ServerTarget>> {
    let flag_server = args.server.as_deref().filter(|s| !s.trim().is_empty());
    let files = read.files;
    let argocd = read.argocd;
    let argocd_path = read.argocd_path;
    let common = Common {
        args,
        files,
        connect_timeout: first_duration(files, |c| &c.connect_timeout)?,
        timeout: first_duration(files, |c| &c.timeout)?,
        env,
    };
    // Flags beat the environment; a --context/--all-contexts flag beats ARGOCD_SERVER.
    let (server_override, server_origin) = match flag_server {
        Some(s) => (Some(s.to_owned()), "flag --server"),
        None if args.context.is_none() && !args.all_contexts => {
            (non_empty(env, "ARGOCD_SERVER"), "env ARGOCD_SERVER")
        }
        None => (None, ""),
    };
    let token_override = args
        .token
        .as_deref()
        .and_then(Token::new)
        .or_else(|| non_empty(env, "ARGOCD_AUTH_TOKEN").and_then(Token::new));

    let cli_contexts: Vec<(ResolvedContext<'_>, Url)> = argocd
        .as_ref()
        .map(|c| {
            c.all_contexts()
                .into_iter()
                .filter_map(|ctx| context_url(&ctx).ok().map(|u| (ctx, u)))
                .collect()
        })
        .unwrap_or_default();
    let cli_token_for = |url: &Url| -> Option<Token> {
        let key = url_key(url);
        cli_contexts
            .iter()
            .find(|(_, u)| url_key(u) == key)
            .and_then(|(ctx, _)| ctx.user)
            .and_then(|u| Token::new(u.auth_token.as_str()))
    };

    // Source 1/2: one server from a flag or ARGOCD_SERVER.
    if let Some(raw) = server_override {
        // A bare value naming an argocd `servers[]` entry takes its plain-text/root-path rules.
        let cli_match = cli_contexts
            .iter()
            .find(|(ctx, _)| !raw.contains("://") && ctx.server_name == raw.trim())
            .map(|(ctx, u)| (ctx, u.clone()));
        let url = match &cli_match {
            Some((_, u)) => u.clone(),
            None => parse_server_url(&raw, false).map_err(Error::Usage)?,
        };
        let key = url_key(&url);
        let file_match = files.iter().find_map(|f| {
            f.cfg
                .servers
                .iter()
                .find(|s| {
                    parse_server_url(s.url.get_ref(), false).is_ok_and(|u| url_key(&u) == key)
                })
                .map(|s| (*f, s))
        });
        let cli_ctx = cli_match.map(|(c, _)| c).or_else(|| {
            cli_contexts
                .iter()
                .find(|(_, u)| url_key(u) == key)
                .map(|(c, _)| c)
        });
        let name = file_match
            .and_then(|(_, s)| s.name.clone())
            .or_else(|| cli_ctx.map(|c| c.name.to_owned()))
            .unwrap_or_else(|| host_name(&url));
        let token = match token_override {
            Some(t) => Some(t),
            None => match file_match {
                Some((f, s)) => token_of(f, s)?,
                None => None,
            }
            .or_else(|| cli_token_for(&url)),
        };
        let cli = match cli_ctx {
            Some(ctx) => cli_tls(ctx, argocd_path)?,
            None => CliTls::default(),
        };
        return Ok(vec![common.target(
            name,
            url,
            token,
            server_origin.to_owned(),
            file_match,
            cli,
        )?]);
    }

    // Source 3: config.toml servers (`--context NAME` picks one by name), from the first file
    // that lists any: a user's own list replaces the system's.
    if let Some(f) = files.iter().copied().find(|f| !f.cfg.servers.is_empty()) {
        let picked: Vec<&FileServer> = match &args.context {
            Some(want) => f
                .cfg
                .servers
                .iter()
                .filter(|s| s.name.as_deref() == Some(want.as_str()))
                .collect(),
            None => f.cfg.servers.iter().collect(),
        };
        if !picked.is_empty() {
            let single = picked.len() == 1;
            let mut targets = Vec::with_capacity(picked.len());
            let origin = f.path.display().to_string();
            for s in picked {
                let url = parse_server_url(s.url.get_ref(), false)
                    .map_err(|m| f.error(Some(s.url.span()), m))?;
                let token = match &token_override {
                    Some(t) if single => Some(t.clone()),
                    _ => token_of(f, s)?.or_else(|| cli_token_for(&url)),
                };
                let name = s.name.clone().unwrap_or_else(|| host_name(&url));
                if targets.iter().any(|t: &ServerTarget| t.name == name) {
                    return Err(f.error(
                        Some(s.url.span()),
                        Problem::new(
                            format!("two servers are named `{name}`"),
                            "give each a unique name",
                        ),
                    ));
                }
                targets.push(common.target(
                    name,
                    url,
                    token,
                    origin.clone(),
                    Some((f, s)),
                    CliTls::default(),
                )?);
            }
            return Ok(targets);
        }
    }

    // Source 4: the argocd CLI config.
    let Some(cli) = argocd else {
        return Err(match &args.context {
            Some(want) => Error::Usage(Problem::new(
                format!(
                    "no context named `{want}` in {} and no argocd CLI config at {}",
                    read.config_file.display(),
                    argocd_path.display()
                ),
                format!("check the name, or run `argocd login <host> --name {want}`"),
            )),
            None => no_server(read),
        });
    };
    let wanted: Vec<&(ResolvedContext<'_>, Url)> = if args.all_contexts {
        cli_contexts.iter().collect()
    } else {
        let want = args
            .context
            .as_deref()
            .unwrap_or(cli.current_context.as_str());
        if want.is_empty() {
            return Err(no_server(read));
        }
        match cli_contexts.iter().find(|(c, _)| c.name == want) {
            Some(c) => vec![c],
            None => {
                let known: Vec<&str> = cli.contexts.iter().map(|c| c.name.as_str()).collect();
                return Err(Error::Usage(Problem::new(
                    format!(
                        "no context named `{want}` in {} (known: {})",
                        argocd_path.display(),
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                    "pass --context with one of them, or run `argocd login <host>`",
                )));
            }
        }
    };
    let single = wanted.len() == 1;
    let mut targets = Vec::new();
    for (ctx, url) in wanted {
        if let Some(why) = unreachable_context(ctx) {
            if single {
                return Err(Error::Usage(Problem::new(
                    format!("the argocd context `{}` {why}", ctx.name),
                    "run `argocd login <host>` for the API server's address, or pass --server",
                )));
            }
            tracing::warn!("skipping the argocd context `{}`: it {why}", ctx.name);
            continue;
        }
        let token = match &token_override {
            Some(t) if single => Some(t.clone()),
            _ => ctx.user.and_then(|u| Token::new(u.auth_token.as_str())),
        };
        let cli = cli_tls(ctx, argocd_path)?;
        targets.push(common.target(
            ctx.name.to_owned(),
            url.clone(),
            token,
            argocd_path.display().to_string(),
            None,
            cli,
        )?);
    }
    if targets.is_empty() {
        return Err(no_server(read));
    }
    Ok(targets)
}

/// Why an `argocd` CLI context has no API server address to ask, if so: `--core` logins
/// talk to Kubernetes, `--port-forward` ones open a kubectl port-forward each time.
fn unreachable_context(ctx: &ResolvedContext<'_>) -> Option<&'static str> {
    if ctx.server.is_some_and(|s| s.core) {
        Some(
            "is an `argocd login --core` context: it talks to Kubernetes, there is no API server to ask",
        )
    } else if ctx.server_name == PORT_FORWARD_SERVER {
        Some(
            "is an `argocd login --port-forward` context: it has no server address, the CLI port-forwards through kubectl each time",
        )
    } else {
        None
    }
}

/// The TLS settings an `argocd` CLI context gives its server.
#[derive(Default)]
struct CliTls {
    /// `insecure` (`argocd login --insecure`).
    insecure: bool,
    /// `certificate-authority-data`.
    ca: Option<CaCert>,
}

/// The TLS settings of an `argocd` CLI context: `insecure` is honoured and its
/// `certificate-authority-data` trusted; a client certificate (`client-certificate-data`)
/// is refused by name, since no request of ours could present it.
fn cli_tls(ctx: &ResolvedContext<'_>, argocd_path: &Path) -> Result<CliTls> {
    use base64::Engine as _;
    let Some(server) = ctx.server else {
        return Ok(CliTls::default());
    };
    let insecure = server.insecure;
    let problem = |what: String, fix: &str| Error::Config {
        path: argocd_path.to_owned(),
        line: None,
        problem: Problem::new(what, fix),
    };
    if !server.client_certificate_data.trim().is_empty()
        || !server.client_certificate_key_data.trim().is_empty()
    {
        return Err(problem(
            format!(
                "the argocd context `{}` sets client-certificate-data (a TLS client certificate), which preview-switch does not send",
                ctx.name
            ),
            "give this server a token instead (ARGOCD_AUTH_TOKEN, or token_command in config.toml), or log in without a client certificate",
        ));
    }
    let data = server.certificate_authority_data.trim();
    if data.is_empty() {
        return Ok(CliTls { insecure, ca: None });
    }
    let pem = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|e| {
            problem(
                format!(
                    "the certificate-authority-data of argocd context `{}` is not base64 ({e})",
                    ctx.name
                ),
                "run `argocd login` again, or pass the CA with --ca-cert FILE",
            )
        })?;
    Ok(CliTls {
        insecure,
        ca: Some(CaCert::Inline {
            pem,
            from: argocd_path.to_owned(),
        }),
    })
}
