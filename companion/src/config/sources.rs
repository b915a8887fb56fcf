//! Where the settings come from, and the reading of them: the `config.toml` path in effect,
//! what `doctor` reports about each source, loading the file, and a server's own token
//! (`token`, `token_file` or `token_command`). All of the config module's I/O is here;
//! [`super::resolve`] decides from what was read.

use std::path::{Path, PathBuf};

use super::file::{FileServer, LoadedFile};
use super::token_command::{TOKEN_COMMAND_TIMEOUT, run_token_command};
use super::{ConfigSources, ConnectionArgs, Env, expand_home, home, non_empty};
use crate::argocd::cli_config;
use crate::error::{Error, Problem, Result};
use crate::token::Token;

/// The default `config.toml` path: `PREVIEW_SWITCH_CONFIG`, else
/// `$XDG_CONFIG_HOME/preview-switch/config.toml`, else `~/.config/preview-switch/config.toml`.
pub fn config_path(env: Env<'_>) -> PathBuf {
    if let Some(p) = non_empty(env, "PREVIEW_SWITCH_CONFIG") {
        return expand_home(&p, env);
    }
    let base =
        non_empty(env, "XDG_CONFIG_HOME").map_or_else(|| home(env).join(".config"), PathBuf::from);
    base.join("preview-switch").join("config.toml")
}

/// The machine-wide `config.toml` an administrator ships, read below the user's:
/// `PREVIEW_SWITCH_SYSTEM_CONFIG` (tests and packagers point it elsewhere), else
/// `/etc/preview-switch/config.toml`, or `%PROGRAMDATA%\preview-switch\config.toml` on Windows.
pub fn system_config_path(env: Env<'_>) -> PathBuf {
    if let Some(p) = non_empty(env, "PREVIEW_SWITCH_SYSTEM_CONFIG") {
        return expand_home(&p, env);
    }
    if cfg!(windows) {
        let base = non_empty(env, "PROGRAMDATA").unwrap_or_else(|| r"C:\ProgramData".to_owned());
        return PathBuf::from(base)
            .join("preview-switch")
            .join("config.toml");
    }
    PathBuf::from("/etc/preview-switch/config.toml")
}

/// The directory of [`system_config_path`]: where machine-wide files of preview-switch live
/// (the installer's system record of extension ids, Windows' `--system` manifests).
pub fn system_dir(env: Env<'_>) -> PathBuf {
    let path = system_config_path(env);
    path.parent().map_or(path.clone(), Path::to_path_buf)
}

/// The `config.toml` in effect for these args, and whether it was named explicitly.
pub(super) fn config_file(args: &ConnectionArgs, env: Env<'_>) -> (PathBuf, bool) {
    match &args.config {
        Some(p) => (p.clone(), true),
        None => (
            config_path(env),
            non_empty(env, "PREVIEW_SWITCH_CONFIG").is_some(),
        ),
    }
}

/// Which files and variables [`super::resolve()`] would read, for `doctor`.
pub fn sources(args: &ConnectionArgs, env: Env<'_>) -> ConfigSources {
    let (config_file, config_file_explicit) = config_file(args, env);
    let argocd_config = cli_config::path(env);
    let system_config_file = system_config_path(env);
    ConfigSources {
        system_config_file_exists: system_config_file.is_file(),
        system_config_file,
        config_file_exists: config_file.is_file(),
        config_file,
        config_file_explicit,
        argocd_config_exists: argocd_config.is_file(),
        argocd_config,
        env_server: non_empty(env, "ARGOCD_SERVER").is_some(),
        env_token: non_empty(env, "ARGOCD_AUTH_TOKEN").is_some(),
    }
}

pub(super) fn load_file(args: &ConnectionArgs, env: Env<'_>) -> Result<Option<LoadedFile>> {
    let (path, explicit) = config_file(args, env);
    match std::fs::read_to_string(&path) {
        Ok(text) => LoadedFile::parse(&path, text).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(None),
        Err(e) => Err(Error::Config {
            path,
            line: None,
            problem: Problem::new(
                format!("cannot read the config file ({e})"),
                "create it or fix the path",
            ),
        }),
    }
}

/// The machine-wide `config.toml` ([`system_config_path`]), read below the user's: absent
/// is fine; unreadable or invalid is an error that names it, and so is a `token` in it,
/// which every user of the machine could read (`token_command` and `token_file` are fine).
pub(super) fn load_system_file(env: Env<'_>) -> Result<Option<LoadedFile>> {
    let path = system_config_path(env);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let file = LoadedFile::parse(&path, text)?;
            if let Some(t) = file.cfg.servers.iter().find_map(|s| s.token.as_ref()) {
                return Err(file.error(
                    Some(t.span()),
                    Problem::new(
                        "the system-wide config file holds a token, which every user of this machine can read",
                        "remove it, and give each user their own: token_file or token_command in their config.toml, or argocd login",
                    ),
                ));
            }
            Ok(Some(file))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::Config {
            path,
            line: None,
            problem: Problem::new(
                format!("cannot read the system-wide config file ({e})"),
                "have an administrator make it readable (chmod 644), or set PREVIEW_SWITCH_SYSTEM_CONFIG to another file",
            ),
        }),
    }
}

/// A server's own token: `token`, `token_file` or `token_command` (at most one).
pub(super) fn server_token(
    file: &LoadedFile,
    s: &FileServer,
    env: Env<'_>,
) -> Result<Option<Token>> {
    let set = [
        s.token.is_some(),
        s.token_file.is_some(),
        s.token_command.is_some(),
    ];
    if set.iter().filter(|b| **b).count() > 1 {
        return Err(file.error(
            Some(s.url.span()),
            Problem::new(
                "this server sets more than one of token, token_file and token_command",
                "keep only one of them",
            ),
        ));
    }
    if let Some(t) = &s.token {
        tracing::warn!(
            config = %file.path.display(),
            "a token is written in config.toml; prefer token_file (mode 0600) or token_command"
        );
        return Token::new(t.get_ref().as_str()).map(Some).ok_or_else(|| {
            file.error(
                Some(t.span()),
                Problem::new("the token is empty", "give the token, or remove the key"),
            )
        });
    }
    if let Some(f) = &s.token_file {
        let mut path = expand_home(f.get_ref(), env);
        if path.is_relative()
            && let Some(dir) = file.path.parent()
        {
            path = dir.join(path);
        }
        let raw = std::fs::read_to_string(&path).map_err(|e| {
            file.error(
                Some(f.span()),
                Problem::new(
                    format!("cannot read token_file {} ({e})", path.display()),
                    "create it or fix the path",
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
            file.error(
                Some(f.span()),
                Problem::new(
                    format!("token_file {} is empty", path.display()),
                    "write the token into it",
                ),
            )
        });
    }
    if let Some(c) = &s.token_command {
        return run_token_command(c.get_ref(), TOKEN_COMMAND_TIMEOUT)
            .map(Some)
            .map_err(|why| file.error(Some(c.span()), why));
    }
    Ok(None)
}
