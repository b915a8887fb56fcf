//! Connection settings: which Argo CD servers to ask, with which token, selector and route
//! rules. [`resolve()`] turns the command line's [`ConnectionArgs`] plus the environment into
//! a list of [`ServerTarget`]s. Sources, highest first (DESIGN §4):
//!
//! 1. flags (`--server`, `--auth-token`, `--context`, `--all-contexts`, ...);
//! 2. `ARGOCD_SERVER` / `ARGOCD_AUTH_TOKEN`;
//! 3. `config.toml` (`--config`, else `PREVIEW_SWITCH_CONFIG`, else
//!    `$XDG_CONFIG_HOME/preview-switch/config.toml`, else
//!    `~/.config/preview-switch/config.toml`), which may list several servers, above the
//!    system-wide one an administrator ships (`/etc/preview-switch/config.toml`, or
//!    `PREVIEW_SWITCH_SYSTEM_CONFIG`): each key the user's file sets wins, the other keys
//!    come from the system's, and the servers from the first file that lists any;
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
//! env_pattern = "dev|qa|stag|prod"   # `envs`: an environment segment leading or trailing an
//!                               # app's name (a regex for one `-`-separated segment)
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
//!
//! Layout: `file` holds the file's shapes, `sources` all the reading (paths, the file, a
//! server's token), `resolve` the pure precedence rules, [`token_command`] running a
//! user's token command; this module holds the flags, the defaults and [`parse_duration`].

mod file;
mod resolve;
mod sources;
#[cfg(test)]
mod tests;
pub mod token_command;

use std::path::PathBuf;
use std::time::Duration;

use crate::argocd::cli_config::{self, LocalConfig};
use crate::error::{Problem, Result};
use crate::server::ServerTarget;

pub use sources::{config_path, sources, system_config_path, system_dir};

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
    /// The system-wide `config.toml`, read below the user's, and whether it exists.
    pub system_config_file: PathBuf,
    pub system_config_file_exists: bool,
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

/// Looks up an environment variable (HOME included); injected so tests need no real env.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn non_empty(env: Env<'_>, key: &str) -> Option<String> {
    env(key).filter(|v| !v.trim().is_empty())
}

fn home(env: Env<'_>) -> PathBuf {
    non_empty(env, "HOME").map_or_else(|| PathBuf::from("~"), PathBuf::from)
}

fn expand_home(p: &str, env: Env<'_>) -> PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => home(env).join(rest),
        None if p == "~" => home(env),
        None => PathBuf::from(p),
    }
}

/// The one duration rule, for flags (clap's `value_parser`) and `config.toml` alike:
/// `500ms`, `5s`, `1.5s`, `2m`, or plain seconds. Every duration here is a timeout, so zero
/// (which would fail every request at once) is refused, as is anything too large to hold.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, Problem> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let value: f64 = num.parse().map_err(|_| {
        Problem::new(
            format!("`{s}` is not a duration"),
            "write e.g. 5s, 500ms or 2m",
        )
    })?;
    let secs = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        other => {
            return Err(Problem::new(
                format!("unknown unit `{other}` in `{s}`"),
                "use ms, s or m",
            ));
        }
    };
    if secs <= 0.0 {
        return Err(Problem::new(
            format!("`{s}` is zero, and a zero timeout fails every request"),
            "give a positive duration such as 5s",
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|_| {
        Problem::new(
            format!("`{s}` is too long a duration"),
            "give at most a few minutes, e.g. 2m",
        )
    })
}

/// How `envs` recognises an environment in an app's name: config.toml's `env_pattern`,
/// else [`crate::core::envs::DEFAULT_ENV_PATTERN`]. A pattern that is not a regex is a
/// config error with its line.
pub fn env_pattern(args: &ConnectionArgs, env: Env<'_>) -> Result<crate::core::envs::EnvPattern> {
    let (user, system) = load_files(args, env)?;
    let files = layers(&user, &system);
    let Some((file, raw)) = files
        .iter()
        .find_map(|f| f.cfg.env_pattern.as_ref().map(|p| (*f, p)))
    else {
        return Ok(crate::core::envs::EnvPattern::default());
    };
    crate::core::envs::EnvPattern::new(raw.get_ref()).map_err(|why| {
        file.error(
            Some(raw.span()),
            Problem::new(
                why,
                "give a regex for one name segment, e.g. env_pattern = \"dev|qa|stag|prod\"",
            ),
        )
    })
}

/// Resolves the connection settings into the servers to query (see the module docs for the
/// precedence): checks the flags, reads the files (`sources`), then decides
/// (`resolve::targets`). `env` looks up environment variables (HOME included).
pub fn resolve(args: &ConnectionArgs, env: Env<'_>) -> Result<Vec<ServerTarget>> {
    resolve::check_flags(args)?;
    let (user, system) = load_files(args, env)?;
    let files = layers(&user, &system);
    let argocd_path = cli_config::path(env);
    let argocd = LocalConfig::load(&argocd_path)?;
    let read = resolve::Read {
        files: &files,
        argocd: argocd.as_ref(),
        argocd_path: &argocd_path,
        config_file: &sources::config_file(args, env).0,
    };
    resolve::targets(args, env, &read, &|f, s| sources::server_token(f, s, env))
}

/// The user's `config.toml` and the system-wide one, each if present.
fn load_files(
    args: &ConnectionArgs,
    env: Env<'_>,
) -> Result<(Option<file::LoadedFile>, Option<file::LoadedFile>)> {
    Ok((
        sources::load_file(args, env)?,
        sources::load_system_file(env)?,
    ))
}

/// The files in the order their keys count: the user's, then the system's.
fn layers<'a>(
    user: &'a Option<file::LoadedFile>,
    system: &'a Option<file::LoadedFile>,
) -> Vec<&'a file::LoadedFile> {
    user.iter().chain(system.iter()).collect()
}

/// Where each `config.toml` setting in effect comes from (a flag, the user's file, the
/// system's, or the default), for `doctor`.
pub fn setting_origins(args: &ConnectionArgs, env: Env<'_>) -> Result<Vec<(&'static str, String)>> {
    let (user, system) = load_files(args, env)?;
    let env_server = non_empty(env, "ARGOCD_SERVER").is_some();
    Ok(resolve::origins(args, env_server, &layers(&user, &system)))
}
