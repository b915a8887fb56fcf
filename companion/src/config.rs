//! Connection settings: which Argo CD servers to ask, with which token, selector and route
//! rules. [`resolve`] turns the command line's [`ConnectionArgs`] plus the environment into
//! a list of [`ServerTarget`]s. Sources, highest first (DESIGN §4):
//!
//! 1. flags (`--server`, `--auth-token`, `--context`, `--all-contexts`, ...);
//! 2. `ARGOCD_SERVER` / `ARGOCD_AUTH_TOKEN`;
//! 3. `config.toml` (`--config`, else `PREVIEW_SWITCH_CONFIG`, else
//!    `$XDG_CONFIG_HOME/preview-switch/config.toml`, else
//!    `~/.config/preview-switch/config.toml`), which may list several servers;
//! 4. the `argocd` CLI's own config ([`cli_config`]; its current context, `--context NAME`,
//!    or every context with `--all-contexts`).
//!
//! The first source that names a server decides the server list; lower sources still fill
//! in what it lacks (a `--server` matching a config-file server or an argocd context takes
//! that entry's name, token, selector, CA and route rule). A flag/env token without a
//! flag/env server applies only when exactly one server results (and then wins over the
//! file's and the CLI's tokens), so one server's token is never sent to another.
//!
//! # `config.toml`
//!
//! Unknown keys are errors (with their line), so a typo never silently falls back to a
//! default.
//!
//! ```toml
//! selector = "type=pr"          # label selector for every server (default "type=pr")
//! connect_timeout = "5s"        # "500ms", "5s", "2m", or a number of seconds (default 5 s)
//! timeout = "30s"               # whole-request timeout (default 30 s)
//!
//! [route]                       # default route rule (source 3) for servers without one
//! cookie = "team-{service}-pr"
//! hosts = ["{service}.dev.example.com"]
//!
//! [[servers]]
//! name = "dev"                  # shown as the preview's context; default: the URL's host
//! url = "https://argocd.dev.example.com"   # or a bare host[:port] (https)
//! token_file = "~/.config/preview-switch/dev.token"   # relative paths: beside config.toml
//! # token = "..."               # works, but prefer token_file (a warning is logged)
//! # token_command = "pass show argocd/dev"   # `sh -c`, 20 s timeout; stdout is the token,
//! #                                          # its output and stderr are never logged
//! selector = "type=pr"
//! ca_cert = "/etc/ssl/corp-ca.pem"
//! insecure = false
//! connect_timeout = "5s"
//! timeout = "30s"
//! [servers.route]               # this server's route rule
//! cookie = "team-{service}-pr"
//! value = "{pr}"                # optional; default: the PR number
//! hosts = ["{service}.dev.example.com"]
//! ```
//!
//! A server without any token source falls back to the `argocd` CLI's token for the same
//! server, if the user ran `argocd login` for it; when that token has expired, the listing
//! refreshes it through the CLI ([`crate::argocd::refresh`]).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;
use url::Url;

use crate::argocd::cli_config::{self, LocalConfig, ResolvedContext};
use crate::core::routes::RouteTemplate;
use crate::error::{Error, Result};
use crate::server::{ServerTarget, context_url, host_name, parse_server_url, url_key};
use crate::token::Token;

/// Default label selector for preview Applications.
pub const DEFAULT_SELECTOR: &str = "type=pr";
/// Default connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Default whole-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

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

/// The files `resolve` looks at, for `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSources {
    /// The `config.toml` path in effect.
    pub config_file: PathBuf,
    /// Whether it was named explicitly (`--config` or `PREVIEW_SWITCH_CONFIG`): then it must exist.
    pub config_file_explicit: bool,
    pub config_file_exists: bool,
    /// The `argocd` CLI config path in effect.
    pub argocd_config: PathBuf,
    pub argocd_config_exists: bool,
    /// `ARGOCD_SERVER` / `ARGOCD_AUTH_TOKEN` are set (non-empty).
    pub env_server: bool,
    pub env_token: bool,
}

fn non_empty(env: &dyn Fn(&str) -> Option<String>, key: &str) -> Option<String> {
    env(key).filter(|v| !v.trim().is_empty())
}

fn home(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    non_empty(env, "HOME").map_or_else(|| PathBuf::from("~"), PathBuf::from)
}

/// The default `config.toml` path: `PREVIEW_SWITCH_CONFIG`, else
/// `$XDG_CONFIG_HOME/preview-switch/config.toml`, else `~/.config/preview-switch/config.toml`.
pub fn config_path(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    if let Some(p) = non_empty(env, "PREVIEW_SWITCH_CONFIG") {
        return expand_home(&p, env);
    }
    let base =
        non_empty(env, "XDG_CONFIG_HOME").map_or_else(|| home(env).join(".config"), PathBuf::from);
    base.join("preview-switch").join("config.toml")
}

/// The `config.toml` in effect for these args, and whether it was named explicitly.
fn config_file(args: &ConnectionArgs, env: &dyn Fn(&str) -> Option<String>) -> (PathBuf, bool) {
    match &args.config {
        Some(p) => (p.clone(), true),
        None => (
            config_path(env),
            non_empty(env, "PREVIEW_SWITCH_CONFIG").is_some(),
        ),
    }
}

/// Which files and variables [`resolve`] would read, for `doctor`.
pub fn sources(args: &ConnectionArgs, env: &dyn Fn(&str) -> Option<String>) -> ConfigSources {
    let (config_file, config_file_explicit) = config_file(args, env);
    let argocd_config = cli_config::path(env);
    ConfigSources {
        config_file_exists: config_file.is_file(),
        config_file,
        config_file_explicit,
        argocd_config_exists: argocd_config.is_file(),
        argocd_config,
        env_server: non_empty(env, "ARGOCD_SERVER").is_some(),
        env_token: non_empty(env, "ARGOCD_AUTH_TOKEN").is_some(),
    }
}

fn expand_home(p: &str, env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home(env).join(rest),
        None if p == "~" => home(env),
        None => PathBuf::from(p),
    }
}

/// A duration in config.toml: `"500ms"`, `"5s"`, `"2m"`, or a number of seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum DurationValue {
    Secs(u64),
    Text(String),
}

/// Parses `500ms`, `5s`, `1.5s`, `2m`, or plain seconds.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a duration: write e.g. \"5s\", \"500ms\" or \"2m\""))?;
    let secs = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{s}`: use ms, s or m"
            ));
        }
    };
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("`{s}` must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoute {
    cookie: String,
    value: Option<String>,
    #[serde(default)]
    hosts: Vec<String>,
}

impl From<FileRoute> for RouteTemplate {
    fn from(r: FileRoute) -> Self {
        RouteTemplate {
            cookie: r.cookie,
            value: r.value,
            hosts: r.hosts,
        }
    }
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    selector: Option<String>,
    connect_timeout: Option<Spanned<DurationValue>>,
    timeout: Option<Spanned<DurationValue>>,
    route: Option<FileRoute>,
    #[serde(default)]
    servers: Vec<FileServer>,
}

/// One `[[servers]]` entry. Not `Debug`: it may hold a token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    name: Option<String>,
    url: Spanned<String>,
    token: Option<Spanned<String>>,
    token_file: Option<Spanned<String>>,
    token_command: Option<Spanned<String>>,
    selector: Option<String>,
    ca_cert: Option<String>,
    insecure: Option<bool>,
    connect_timeout: Option<Spanned<DurationValue>>,
    timeout: Option<Spanned<DurationValue>>,
    route: Option<FileRoute>,
}

/// A parsed config.toml with what is needed to point at its lines.
struct LoadedFile {
    path: PathBuf,
    text: String,
    cfg: FileConfig,
}

impl LoadedFile {
    fn parse(path: &Path, text: String) -> Result<LoadedFile> {
        let cfg: FileConfig = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_owned(),
            line: e.span().map(|s| line_of(&text, s.start)),
            message: e.message().trim().to_owned(),
        })?;
        Ok(LoadedFile {
            path: path.to_owned(),
            text,
            cfg,
        })
    }

    fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Error {
        Error::Config {
            path: self.path.clone(),
            line: span.map(|s| line_of(&self.text, s.start)),
            message: message.into(),
        }
    }

    fn duration(&self, v: &Option<Spanned<DurationValue>>) -> Result<Option<Duration>> {
        let Some(v) = v else { return Ok(None) };
        match v.get_ref() {
            DurationValue::Secs(0) => Err(self.error(Some(v.span()), "a timeout must be positive")),
            DurationValue::Secs(n) => Ok(Some(Duration::from_secs(*n))),
            DurationValue::Text(s) => parse_duration(s)
                .map(Some)
                .map_err(|m| self.error(Some(v.span()), m)),
        }
    }

    /// A server's own token: `token`, `token_file` or `token_command` (at most one).
    fn token(&self, s: &FileServer, env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Token>> {
        let set = [
            s.token.is_some(),
            s.token_file.is_some(),
            s.token_command.is_some(),
        ];
        if set.iter().filter(|b| **b).count() > 1 {
            return Err(self.error(
                Some(s.url.span()),
                "set only one of token, token_file and token_command for this server",
            ));
        }
        if let Some(t) = &s.token {
            tracing::warn!(
                config = %self.path.display(),
                "a token is written in config.toml; prefer token_file (mode 0600) or token_command"
            );
            return Token::new(t.get_ref().as_str())
                .map(Some)
                .ok_or_else(|| self.error(Some(t.span()), "the token is empty"));
        }
        if let Some(f) = &s.token_file {
            let mut path = expand_home(f.get_ref(), env);
            if path.is_relative()
                && let Some(dir) = self.path.parent()
            {
                path = dir.join(path);
            }
            let raw = std::fs::read_to_string(&path).map_err(|e| {
                self.error(
                    Some(f.span()),
                    format!(
                        "cannot read token_file {} ({e}): create it or fix the path",
                        path.display()
                    ),
                )
            })?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                if std::fs::metadata(&path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
                    // Shown by every command (warn is the default level), so `doctor` too.
                    tracing::warn!(
                        "token_file {} can be read by other users: run chmod 600 {}",
                        path.display(),
                        path.display()
                    );
                }
            }
            return Token::new(raw).map(Some).ok_or_else(|| {
                self.error(
                    Some(f.span()),
                    format!("token_file {} is empty", path.display()),
                )
            });
        }
        if let Some(c) = &s.token_command {
            return run_token_command(c.get_ref(), TOKEN_COMMAND_TIMEOUT)
                .map(Some)
                .map_err(|why| self.error(Some(c.span()), why));
        }
        Ok(None)
    }
}

/// How long a `token_command` may take (a secret manager may ask for a passphrase through
/// its own agent; a hung one must not hang every listing).
pub const TOKEN_COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs a `token_command` with `sh -c` and returns its stdout as the token. Its output and
/// its stderr are never logged nor put in an error (either may hold the secret): stderr goes
/// to /dev/null and a failure only says how the command ended. The command runs in its own
/// process group so that a timeout stops everything it started, not only `sh`.
pub fn run_token_command(cmd: &str, timeout: Duration) -> std::result::Result<Token, String> {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(|e| {
        format!("cannot run token_command with sh ({e}): check that sh is installed")
    })?;
    // Read stdout on a thread so a command printing more than a pipe buffer cannot block.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        // At most 64 KiB: no token is larger, and a runaway command must not fill memory.
        let _ = (&mut stdout).take(64 * 1024).read_to_end(&mut out);
        let _ = tx.send(out);
    });
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                kill_group(&mut child);
                let _ = child.wait();
                return Err(format!(
                    "token_command did not finish within {} s: make it answer without a prompt (e.g. unlock the secret manager first)",
                    timeout.as_secs_f64()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => return Err(format!("cannot wait for token_command ({e})")),
        }
    };
    // A daemon the command started (an agent) may keep stdout open: wait a little, not forever.
    let out = rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
    if !status.success() {
        return Err(format!(
            "token_command failed ({status}); its output is not shown as it may hold secrets: run the command yourself to see why"
        ));
    }
    Token::new(String::from_utf8_lossy(&out)).ok_or_else(|| {
        "token_command printed nothing: it must print the token on stdout".to_string()
    })
}

/// Kills the process group `child` leads (see [`run_token_command`]): `sh`, and whatever it
/// started (`sleep` in `sh -c "sleep 30; ..."`). Through `sh`'s `kill` builtin, as the
/// workspace forbids `unsafe` and a signal crate is not worth one call; `sh` itself is
/// killed directly as well in case that fails.
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let _ = std::process::Command::new("sh")
            .args(["-c", "kill -s KILL -- \"-$0\"", &child.id().to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    let _ = child.kill();
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn load_file(
    args: &ConnectionArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<LoadedFile>> {
    let (path, explicit) = config_file(args, env);
    match std::fs::read_to_string(&path) {
        Ok(text) => LoadedFile::parse(&path, text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(None),
        Err(e) => Err(Error::Config {
            path,
            line: None,
            message: format!("cannot read the config file ({e}): create it or fix the path"),
        }),
    }
}

/// The settings every target gets from flags and config-file defaults.
struct Common<'a> {
    args: &'a ConnectionArgs,
    file: Option<&'a LoadedFile>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Common<'_> {
    fn target(
        &self,
        name: String,
        url: Url,
        token: Option<Token>,
        origin: String,
        server: Option<&FileServer>,
        cli_insecure: bool,
    ) -> Result<ServerTarget> {
        let env = self.env;
        let file_cfg = self.file.map(|f| &f.cfg);
        let (server_connect, server_timeout) = match (self.file, server) {
            (Some(f), Some(s)) => (f.duration(&s.connect_timeout)?, f.duration(&s.timeout)?),
            _ => (None, None),
        };
        let selector = self
            .args
            .selector
            .clone()
            .or_else(|| server.and_then(|s| s.selector.clone()))
            .or_else(|| file_cfg.and_then(|c| c.selector.clone()))
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SELECTOR.to_owned());
        let ca_cert = self.args.ca_cert.clone().or_else(|| {
            let s = server?.ca_cert.as_deref()?;
            let p = expand_home(s, env);
            Some(
                match (p.is_relative(), self.file.and_then(|f| f.path.parent())) {
                    (true, Some(dir)) => dir.join(p),
                    _ => p,
                },
            )
        });
        let route_template = server
            .and_then(|s| s.route.clone())
            .or_else(|| file_cfg.and_then(|c| c.route.clone()))
            .map(RouteTemplate::from);
        Ok(ServerTarget {
            name,
            url,
            token,
            selector,
            ca_cert,
            insecure: self.args.insecure
                || server.and_then(|s| s.insecure).unwrap_or(false)
                || cli_insecure,
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

/// The message when no source names a server.
fn no_server_message(sources: &ConfigSources) -> String {
    format!(
        "no Argo CD server configured: pass --server URL (and --auth-token), set ARGOCD_SERVER and \
         ARGOCD_AUTH_TOKEN, list servers in {}, or run `argocd login <host>` (read from {})",
        sources.config_file.display(),
        sources.argocd_config.display()
    )
}

/// Resolves the connection settings into the servers to query (see the module docs for the
/// precedence). `env` looks up environment variables (HOME included), injected for tests.
pub fn resolve(
    args: &ConnectionArgs,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<ServerTarget>> {
    if args.all_contexts && args.context.is_some() {
        return Err(Error::Usage(
            "--context and --all-contexts exclude each other: pass one of them".to_owned(),
        ));
    }
    let flag_server = args.server.as_deref().filter(|s| !s.trim().is_empty());
    if flag_server.is_some() && (args.all_contexts || args.context.is_some()) {
        return Err(Error::Usage(
            "--server names one server; --context/--all-contexts pick from configured ones: pass only one of them"
                .to_owned(),
        ));
    }
    let file = load_file(args, env)?;
    let argocd_path = cli_config::path(env);
    let argocd = LocalConfig::load(&argocd_path)?;
    let common = Common {
        args,
        file: file.as_ref(),
        connect_timeout: file
            .as_ref()
            .map(|f| f.duration(&f.cfg.connect_timeout))
            .transpose()?
            .flatten(),
        timeout: file
            .as_ref()
            .map(|f| f.duration(&f.cfg.timeout))
            .transpose()?
            .flatten(),
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
            None => parse_server_url(&raw, false).map_err(|m| {
                Error::Usage(format!(
                    "{m}: pass e.g. https://argocd.example.com or argocd.example.com:443"
                ))
            })?,
        };
        let key = url_key(&url);
        let file_match = file.as_ref().and_then(|f| {
            f.cfg.servers.iter().find(|s| {
                parse_server_url(s.url.get_ref(), false).is_ok_and(|u| url_key(&u) == key)
            })
        });
        let cli_ctx = cli_match.map(|(c, _)| c).or_else(|| {
            cli_contexts
                .iter()
                .find(|(_, u)| url_key(u) == key)
                .map(|(c, _)| c)
        });
        let name = file_match
            .and_then(|s| s.name.clone())
            .or_else(|| cli_ctx.map(|c| c.name.to_owned()))
            .unwrap_or_else(|| host_name(&url));
        let token = match token_override {
            Some(t) => Some(t),
            None => match (file.as_ref(), file_match) {
                (Some(f), Some(s)) => f.token(s, env)?,
                _ => None,
            }
            .or_else(|| cli_token_for(&url)),
        };
        let cli_insecure = cli_ctx.and_then(|c| c.server).is_some_and(|s| s.insecure);
        return Ok(vec![common.target(
            name,
            url,
            token,
            server_origin.to_owned(),
            file_match,
            cli_insecure,
        )?]);
    }

    // Source 3: config.toml servers (`--context NAME` picks one by name).
    if let Some(f) = file.as_ref().filter(|f| !f.cfg.servers.is_empty()) {
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
                    _ => f.token(s, env)?.or_else(|| cli_token_for(&url)),
                };
                let name = s.name.clone().unwrap_or_else(|| host_name(&url));
                if targets.iter().any(|t: &ServerTarget| t.name == name) {
                    return Err(f.error(
                        Some(s.url.span()),
                        format!("two servers are named `{name}`: give each a unique name"),
                    ));
                }
                targets.push(common.target(name, url, token, origin.clone(), Some(s), false)?);
            }
            return Ok(targets);
        }
    }

    // Source 4: the argocd CLI config.
    let sources = sources(args, env);
    let Some(cli) = argocd.as_ref() else {
        return Err(match &args.context {
            Some(want) => Error::Usage(format!(
                "no context named `{want}` in {} and no argocd CLI config at {}: check the name, or run `argocd login <host> --name {want}`",
                sources.config_file.display(),
                sources.argocd_config.display()
            )),
            None => Error::Usage(no_server_message(&sources)),
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
            return Err(Error::Usage(no_server_message(&sources)));
        }
        match cli_contexts.iter().find(|(c, _)| c.name == want) {
            Some(c) => vec![c],
            None => {
                let known: Vec<&str> = cli.contexts.iter().map(|c| c.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "no context named `{want}` in {} (known: {}): pass --context with one of them, or run `argocd login <host>`",
                    argocd_path.display(),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
    };
    let single = wanted.len() == 1;
    let mut targets = Vec::new();
    for (ctx, url) in wanted {
        if ctx.server.is_some_and(|s| s.core) {
            tracing::warn!(
                context = ctx.name,
                "skipping an argocd --core context: it has no API server to ask"
            );
            continue;
        }
        let token = match &token_override {
            Some(t) if single => Some(t.clone()),
            _ => ctx.user.and_then(|u| Token::new(u.auth_token.as_str())),
        };
        let insecure = ctx.server.is_some_and(|s| s.insecure);
        targets.push(common.target(
            ctx.name.to_owned(),
            url.clone(),
            token,
            argocd_path.display().to_string(),
            None,
            insecure,
        )?);
    }
    if targets.is_empty() {
        return Err(Error::Usage(no_server_message(&sources)));
    }
    Ok(targets)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str =
        include_str!("../../tests/fixtures/argocd/argocd-cli-local-config.sample.yaml");

    /// A temp HOME plus an env lookup over fixed variables.
    struct World {
        dir: tempfile::TempDir,
        vars: Vec<(String, String)>,
    }

    impl World {
        fn new() -> World {
            let dir = tempfile::tempdir().unwrap();
            let home = dir.path().join("home");
            std::fs::create_dir_all(&home).unwrap();
            World {
                vars: vec![("HOME".into(), home.to_str().unwrap().into())],
                dir,
            }
        }
        fn home(&self) -> PathBuf {
            self.dir.path().join("home")
        }
        fn set(&mut self, k: &str, v: impl Into<String>) -> &mut Self {
            self.vars.retain(|(n, _)| n != k);
            self.vars.push((k.into(), v.into()));
            self
        }
        fn write(&self, rel: &str, text: &str) -> PathBuf {
            let p = self.home().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, text).unwrap();
            p
        }
        fn env(&self) -> impl Fn(&str) -> Option<String> + '_ {
            |k| {
                self.vars
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
            }
        }
        fn resolve(&self, args: &ConnectionArgs) -> Result<Vec<ServerTarget>> {
            resolve(args, &self.env())
        }
    }

    fn args() -> ConnectionArgs {
        ConnectionArgs::default()
    }

    fn token(t: &ServerTarget) -> Option<&str> {
        t.token.as_ref().map(Token::expose)
    }

    #[test]
    fn config_path_rules() {
        let mut w = World::new();
        assert_eq!(
            config_path(&w.env()),
            w.home().join(".config/preview-switch/config.toml")
        );
        w.set("XDG_CONFIG_HOME", "/xdg");
        assert_eq!(
            config_path(&w.env()),
            PathBuf::from("/xdg/preview-switch/config.toml")
        );
        w.set("PREVIEW_SWITCH_CONFIG", "~/ps.toml");
        assert_eq!(config_path(&w.env()), w.home().join("ps.toml"));
        let s = sources(
            &ConnectionArgs {
                config: Some("/x.toml".into()),
                ..args()
            },
            &w.env(),
        );
        assert_eq!(s.config_file, PathBuf::from("/x.toml"));
        assert!(s.config_file_explicit && !s.config_file_exists && !s.argocd_config_exists);
    }

    #[test]
    fn nothing_configured_names_every_way_to_fix_it() {
        let w = World::new();
        let err = w.resolve(&args()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let msg = err.to_string();
        for way in ["--server", "ARGOCD_SERVER", "config.toml", "argocd login"] {
            assert!(msg.contains(way), "{msg}");
        }
    }

    #[test]
    fn flag_server_beats_env_and_bare_hosts_become_https() {
        let mut w = World::new();
        w.set("ARGOCD_SERVER", "http://env.example:8080")
            .set("ARGOCD_AUTH_TOKEN", "env-token");
        let t = w
            .resolve(&ConnectionArgs {
                server: Some("argocd.dev:8443".into()),
                ..args()
            })
            .unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].url.as_str(), "https://argocd.dev:8443/");
        assert_eq!(
            (t[0].name.as_str(), t[0].origin.as_str()),
            ("argocd.dev:8443", "flag --server")
        );
        assert_eq!(token(&t[0]), Some("env-token"));
        assert_eq!(t[0].selector, DEFAULT_SELECTOR);
        assert_eq!(
            (t[0].connect_timeout, t[0].timeout),
            (DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT)
        );

        let t = w.resolve(&args()).unwrap();
        assert_eq!(t[0].url.as_str(), "http://env.example:8080/");
        assert_eq!(t[0].origin, "env ARGOCD_SERVER");

        let t = w
            .resolve(&ConnectionArgs {
                token: Some("flag-token".into()),
                ..args()
            })
            .unwrap();
        assert_eq!(token(&t[0]), Some("flag-token"));

        let err = w
            .resolve(&ConnectionArgs {
                server: Some("ftp://x".into()),
                ..args()
            })
            .unwrap_err();
        assert!(matches!(err, Error::Usage(m) if m.contains("not an http or https URL")));
    }

    #[test]
    fn config_file_lists_servers_with_their_settings() {
        let w = World::new();
        w.write(".config/preview-switch/dev.token", "dev-secret\n");
        w.write(
            ".config/preview-switch/config.toml",
            r#"
selector = "type=preview"
connect_timeout = "2s"
timeout = 45
[route]
cookie = "team-{service}-pr"
hosts = ["{service}.dev.example.com"]

[[servers]]
name = "dev"
url = "https://argocd.dev.example.com"
token_file = "dev.token"
ca_cert = "corp-ca.pem"
timeout = "500ms"

[[servers]]
name = "prod"
url = "argocd.prod.example.com"
token_command = "echo prod-secret"
selector = "env=prod"
insecure = true
[servers.route]
cookie = "prod-{service}"
value = "{pr}"
"#,
        );
        let t = w.resolve(&args()).unwrap();
        assert_eq!(t.len(), 2);
        let (dev, prod) = (&t[0], &t[1]);
        assert_eq!((dev.name.as_str(), token(dev)), ("dev", Some("dev-secret")));
        assert_eq!(dev.selector, "type=preview");
        assert_eq!(dev.connect_timeout, Duration::from_secs(2));
        assert_eq!(dev.timeout, Duration::from_millis(500));
        assert_eq!(
            dev.ca_cert.as_deref(),
            Some(
                w.home()
                    .join(".config/preview-switch/corp-ca.pem")
                    .as_path()
            )
        );
        assert_eq!(
            dev.route_template.as_ref().unwrap().cookie,
            "team-{service}-pr"
        );
        assert!(dev.origin.ends_with("config.toml") && !dev.insecure);
        assert_eq!(
            (prod.url.as_str(), token(prod)),
            ("https://argocd.prod.example.com/", Some("prod-secret"))
        );
        assert_eq!((prod.selector.as_str(), prod.insecure), ("env=prod", true));
        assert_eq!(prod.timeout, Duration::from_secs(45));
        assert_eq!(
            prod.route_template.as_ref().unwrap().value.as_deref(),
            Some("{pr}")
        );

        // --context picks one config server; flags override its settings.
        let one = ConnectionArgs {
            context: Some("prod".into()),
            selector: Some("x=y".into()),
            ..args()
        };
        let t = w.resolve(&one).unwrap();
        assert_eq!((t.len(), t[0].selector.as_str()), (1, "x=y"));

        // A flag server with the same URL as a config server takes its name and token.
        let flag = ConnectionArgs {
            server: Some("https://argocd.dev.example.com/".into()),
            ..args()
        };
        let t = w.resolve(&flag).unwrap();
        assert_eq!(
            (t[0].name.as_str(), token(&t[0])),
            ("dev", Some("dev-secret"))
        );
        let flag = ConnectionArgs {
            token: Some("flag-token".into()),
            ..flag
        };
        assert_eq!(token(&w.resolve(&flag).unwrap()[0]), Some("flag-token"));
    }

    #[test]
    fn env_token_is_not_sent_to_several_servers() {
        let mut w = World::new();
        w.set("ARGOCD_AUTH_TOKEN", "one-server-token");
        w.write(
            ".config/preview-switch/config.toml",
            "[[servers]]\nurl = \"https://a.example\"\n[[servers]]\nurl = \"https://b.example\"\n",
        );
        let t = w.resolve(&args()).unwrap();
        assert_eq!(
            t.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["a.example", "b.example"]
        );
        assert!(t.iter().all(|t| t.token.is_none()));
    }

    #[test]
    fn credentials_in_a_server_flag_are_a_usage_error_that_does_not_echo_them() {
        // `server::parse_server_url` refuses it; from a flag that is a usage error without the password.
        let w = World::new();
        let err = w
            .resolve(&ConnectionArgs {
                server: Some("https://admin:hunter2@argocd.dev".into()),
                ..args()
            })
            .unwrap_err();
        assert!(
            matches!(&err, Error::Usage(m) if m.contains("`https://***@argocd.dev` carries credentials") && !m.contains("hunter2")),
            "{err}"
        );
    }

    #[test]
    fn config_errors_point_at_the_line() {
        let w = World::new();
        let p = w.write(
            "c.toml",
            "selector = \"type=pr\"\n\n[[servers]]\nurl = \"https://a\"\ntokn = \"x\"\n",
        );
        let err = w
            .resolve(&ConnectionArgs {
                config: Some(p.clone()),
                ..args()
            })
            .unwrap_err();
        match &err {
            Error::Config {
                path,
                line,
                message,
            } => {
                assert_eq!((path, *line), (&p, Some(5)));
                assert!(message.contains("tokn"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(err.exit_code(), 2);
        let p = w.write("d.toml", "timeout = \"5 parsecs\"\n");
        let err = w
            .resolve(&ConnectionArgs {
                config: Some(p),
                ..args()
            })
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config { line: Some(1), message, .. } if message.contains("parsecs")),
            "{err}"
        );
        let p = w.write(
            "e.toml",
            "[[servers]]\nurl = \"https://a\"\ntoken_file = \"missing.token\"\n",
        );
        let err = w
            .resolve(&ConnectionArgs {
                config: Some(p),
                ..args()
            })
            .unwrap_err();
        assert!(matches!(&err, Error::Config { line: Some(3), .. }), "{err}");
        // An explicitly named config file must exist.
        let err = w
            .resolve(&ConnectionArgs {
                config: Some(w.home().join("nope.toml")),
                ..args()
            })
            .unwrap_err();
        assert!(matches!(err, Error::Config { line: None, .. }));
    }

    #[test]
    fn plain_token_in_config_works_and_never_prints() {
        let w = World::new();
        let p = w.write(
            "c.toml",
            "[[servers]]\nurl = \"https://a\"\ntoken = \"s3cr3t\"\n",
        );
        let t = w
            .resolve(&ConnectionArgs {
                config: Some(p),
                ..args()
            })
            .unwrap();
        assert_eq!(token(&t[0]), Some("s3cr3t"));
        assert!(!format!("{t:?}").contains("s3cr3t"));
    }

    #[test]
    fn argocd_cli_config_current_context_and_all_contexts() {
        let mut w = World::new();
        w.set(
            "ARGOCD_CONFIG_DIR",
            w.home().join("acd").to_str().unwrap().to_owned(),
        );
        w.write("acd/config", SAMPLE);
        let t = w.resolve(&args()).unwrap();
        assert_eq!(t.len(), 1);
        // `plain-text: true` → http.
        assert_eq!(
            (t[0].name.as_str(), t[0].url.as_str()),
            ("localhost:8080", "http://localhost:8080/")
        );
        assert_eq!(token(&t[0]), Some("vErrYS3c3tReFRe$hToken"));
        assert!(t[0].origin.ends_with("acd/config"));

        let all = w
            .resolve(&ConnectionArgs {
                all_contexts: true,
                ..args()
            })
            .unwrap();
        let urls: Vec<&str> = all.iter().map(|t| t.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://argocd1.example.com/",
                "https://argocd2.example.com/",
                "http://localhost:8080/"
            ]
        );

        let one = w
            .resolve(&ConnectionArgs {
                context: Some("argocd2.example.com:443".into()),
                ..args()
            })
            .unwrap();
        assert_eq!(one[0].url.as_str(), "https://argocd2.example.com/");

        let err = w
            .resolve(&ConnectionArgs {
                context: Some("nope".into()),
                ..args()
            })
            .unwrap_err();
        assert!(
            matches!(&err, Error::Usage(m) if m.contains("known: argocd1.example.com:443")),
            "{err}"
        );

        // A bare --server naming a CLI server takes its plain-text rule and token.
        let t = w
            .resolve(&ConnectionArgs {
                server: Some("localhost:8080".into()),
                ..args()
            })
            .unwrap();
        assert_eq!(
            (t[0].url.as_str(), token(&t[0])),
            ("http://localhost:8080/", Some("vErrYS3c3tReFRe$hToken"))
        );

        // ARGOCD_SERVER beats the CLI config; --all-contexts (a flag) beats ARGOCD_SERVER.
        w.set("ARGOCD_SERVER", "https://env.example");
        assert_eq!(
            w.resolve(&args()).unwrap()[0].url.as_str(),
            "https://env.example/"
        );
        assert_eq!(
            w.resolve(&ConnectionArgs {
                all_contexts: true,
                ..args()
            })
            .unwrap()
            .len(),
            3
        );

        // A config.toml with servers beats the CLI config.
        w.set("ARGOCD_SERVER", "");
        w.write(
            ".config/preview-switch/config.toml",
            "[[servers]]\nname = \"cfg\"\nurl = \"https://cfg.example\"\n",
        );
        assert_eq!(w.resolve(&args()).unwrap()[0].name, "cfg");
    }

    #[test]
    fn argocd_cli_config_path_prefers_legacy_dir_then_xdg() {
        let mut w = World::new();
        w.set(
            "XDG_CONFIG_HOME",
            w.home().join("xdg").to_str().unwrap().to_owned(),
        );
        w.write(
            "xdg/argocd/config",
            "contexts:\n- {name: x, server: x.example, user: x}\ncurrent-context: x\n",
        );
        assert_eq!(w.resolve(&args()).unwrap()[0].name, "x");
        w.write(
            ".argocd/config",
            "contexts:\n- {name: legacy, server: l.example, user: l}\ncurrent-context: legacy\n",
        );
        assert_eq!(w.resolve(&args()).unwrap()[0].name, "legacy");
    }

    #[test]
    fn conflicting_flags_are_usage_errors() {
        let w = World::new();
        let both = ConnectionArgs {
            context: Some("a".into()),
            all_contexts: true,
            ..args()
        };
        assert!(matches!(w.resolve(&both), Err(Error::Usage(_))));
        let both = ConnectionArgs {
            server: Some("a".into()),
            all_contexts: true,
            ..args()
        };
        assert!(matches!(w.resolve(&both), Err(Error::Usage(_))));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("0s").is_err() && parse_duration("fast").is_err());
    }

    #[test]
    fn token_command_output_is_the_token_and_never_shows_in_errors() {
        let t =
            run_token_command("printf '  s3cr3t-from-vault\\n'", TOKEN_COMMAND_TIMEOUT).unwrap();
        assert_eq!(t.expose(), "s3cr3t-from-vault");
        // A failing command's stdout and stderr may hold the secret: neither is repeated.
        let err = run_token_command(
            "echo s3cr3t-partial; echo 's3cr3t-in-stderr' >&2; exit 3",
            TOKEN_COMMAND_TIMEOUT,
        )
        .unwrap_err();
        assert!(
            err.contains("exit status: 3") && err.contains("run the command yourself"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
        let err = run_token_command("true", TOKEN_COMMAND_TIMEOUT).unwrap_err();
        assert!(err.contains("printed nothing"), "{err}");
    }

    #[test]
    fn a_hanging_token_command_is_stopped_at_its_timeout() {
        let err = run_token_command("exec sleep 30", Duration::from_millis(300)).unwrap_err();
        assert!(
            err.contains("did not finish within 0.3 s") && err.contains("without a prompt"),
            "{err}"
        );
    }

    /// Members of process group `pgid` that have not exited (zombies waiting for their
    /// reaper are gone for this purpose).
    #[cfg(target_os = "linux")]
    fn live_group_members(pgid: u32) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid pgrp ...`: comm may hold spaces, so split after `)`.
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.get(2) == Some(&pgid.to_string().as_str()) && fields[0] != "Z" {
                out.push(head.to_string());
            }
        }
        out
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_timed_out_token_command_leaves_no_child_running() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // Not `exec`: sh forks `sleep`, which killing `sh` alone would leave behind.
        let cmd = format!("echo $$ > '{}'; sleep 30; echo late", pid_file.display());
        let err = run_token_command(&cmd, Duration::from_millis(500)).unwrap_err();
        assert!(err.contains("did not finish within"), "{err}");
        let pgid: u32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SIGKILL is delivered at once but a process exits when next scheduled: wait for
        // the group to empty, far less than the 30 s the sleep would otherwise live.
        let mut left = live_group_members(pgid);
        for _ in 0..500 {
            if left.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            left = live_group_members(pgid);
        }
        assert!(left.is_empty(), "still running in group {pgid}: {left:?}");
    }

    #[test]
    fn a_failing_token_command_in_config_toml_points_at_its_line() {
        let mut w = World::new();
        let cfg = w.write(
            ".config/preview-switch/config.toml",
            "[[servers]]\nname = \"dev\"\nurl = \"https://argocd.dev\"\ntoken_command = \"echo leaked-token >&2; false\"\n",
        );
        w.set("PREVIEW_SWITCH_CONFIG", cfg.to_str().unwrap());
        let msg = w.resolve(&args()).unwrap_err().to_string();
        assert!(
            msg.contains("config.toml line 4") && msg.contains("token_command failed"),
            "{msg}"
        );
        assert!(!msg.contains("leaked-token"), "{msg}");
    }
}
