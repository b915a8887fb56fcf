//! Login that keeps working: after a 401, a token that came from the `argocd` CLI's config
//! is refreshed the way the CLI does it, by running the CLI. Any authenticated CLI call
//! makes it trade the stored refresh token for a new one and rewrite its config (PLATFORM D:
//! `argocd account get-user-info`), so we run that with a timeout, re-read the config and
//! hand back the new token; the caller retries once. We never write the CLI's file
//! ourselves, and the CLI's output is never logged (it names the user; the file holds tokens).
//!
//! When no refresh is possible (no refresh token, no CLI on PATH, the CLI failed), the
//! result says why and which command the user should run instead.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use crate::argocd::cli_config::{self, LocalConfig};
use crate::server::{ServerTarget, context_url, url_key};
use crate::token::Token;

/// How long the CLI may take: it talks to the OIDC provider, which may be slow, but a hung
/// CLI must not hang the listing.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(30);

/// What happened when a 401 was answered.
#[derive(Debug)]
pub enum Refresh {
    /// A fresh token: retry with it.
    Refreshed(Token),
    /// The token did not come from the `argocd` CLI's config: nothing to refresh there.
    NotFromCli,
    /// It came from the CLI, but could not be refreshed: `why`, and the `argocd login`
    /// arguments (`host[:port]` plus `--sso` for SSO logins) to run instead.
    Failed { why: String, login: String },
}

/// Tokens this process already refreshed, per server: `(hash of the token the target was
/// built with, the fresh token)`. A long-running native host keeps its targets, so without
/// this every listing would start from the expired token again.
static REFRESHED: Mutex<Option<HashMap<String, (u64, Token)>>> = Mutex::new(None);

fn token_hash(t: &Token) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    t.hash(&mut h);
    h.finish()
}

/// The target with the token this process refreshed for it earlier, if any.
pub fn with_refreshed_token(target: &ServerTarget) -> Option<ServerTarget> {
    let original = target.token.as_ref()?;
    let map = REFRESHED.lock().unwrap_or_else(|e| e.into_inner());
    let (hash, fresh) = map.as_ref()?.get(&url_key(&target.url))?;
    (*hash == token_hash(original)).then(|| ServerTarget {
        token: Some(fresh.clone()),
        ..target.clone()
    })
}

fn remember(target: &ServerTarget, fresh: &Token) {
    let Some(original) = target.token.as_ref() else {
        return;
    };
    let mut map = REFRESHED.lock().unwrap_or_else(|e| e.into_inner());
    map.get_or_insert_with(HashMap::new)
        .insert(url_key(&target.url), (token_hash(original), fresh.clone()));
}

/// After a 401 with `used` (the token actually sent) for `target` (as configured): refresh
/// through the `argocd` CLI when the token came from its config. `env` looks up environment
/// variables (HOME, PATH, ARGOCD_CONFIG_DIR...), injected for tests.
pub async fn after_unauthorized(
    target: &ServerTarget,
    used: Option<&Token>,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Refresh {
    let path = cli_config::path(env);
    let Some((context, login, cli_token, has_refresh)) = cli_login(&path, target) else {
        return Refresh::NotFromCli;
    };
    let from_cli = target.token.is_none()
        || target.origin == path.display().to_string()
        || used.is_some_and(|u| Some(u) == cli_token.as_ref())
        || target.token == cli_token;
    if !from_cli {
        return Refresh::NotFromCli;
    }
    // Someone (the user, or another process) already logged in again: use that token.
    if let Some(t) = cli_token.as_ref().filter(|t| Some(*t) != used) {
        remember(target, t);
        return Refresh::Refreshed(t.clone());
    }
    let login = if has_refresh {
        format!("{login} --sso")
    } else {
        login
    };
    if !has_refresh {
        return Refresh::Failed {
            why: format!(
                "the argocd CLI login for context {context} has no refresh token, so it cannot be renewed without you"
            ),
            login,
        };
    }
    let Some(cli) = find_on_path("argocd", env) else {
        return Refresh::Failed {
            why: "the argocd CLI, which would refresh the SSO token, is not on PATH".to_string(),
            login,
        };
    };
    tracing::info!(context = %context, "token rejected: refreshing it with the argocd CLI");
    if let Err(why) = run_cli(&cli, &path, &context, CLI_TIMEOUT).await {
        return Refresh::Failed { why, login };
    }
    match cli_login(&path, target) {
        Some((_, _, Some(fresh), _)) if Some(&fresh) != used => {
            remember(target, &fresh);
            Refresh::Refreshed(fresh)
        }
        _ => Refresh::Failed {
            why: "the argocd CLI ran but left the expired token in its config".to_string(),
            login,
        },
    }
}

/// The CLI context for the target's server in the config at `path`: its name, the
/// `argocd login` arguments, its token and whether it holds a refresh token.
fn cli_login(path: &Path, target: &ServerTarget) -> Option<(String, String, Option<Token>, bool)> {
    let cfg = LocalConfig::load(path).ok().flatten()?;
    let key = url_key(&target.url);
    let ctx = cfg
        .all_contexts()
        .into_iter()
        .find(|c| context_url(c).is_ok_and(|u| url_key(&u) == key))?;
    let plain = ctx.server.is_some_and(|s| s.plain_text);
    let login = if plain {
        format!("{} --plaintext", ctx.server_name)
    } else {
        ctx.server_name.to_string()
    };
    let user = ctx.user;
    Some((
        ctx.name.to_string(),
        login,
        user.and_then(|u| Token::new(u.auth_token.as_str())),
        user.is_some_and(|u| !u.refresh_token.trim().is_empty()),
    ))
}

/// `name` in one of `$PATH`'s directories, as an executable file.
fn find_on_path(name: &str, env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let path = env("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// `argocd account get-user-info --config PATH --argocd-context CTX -o json`: an
/// authenticated call, so the CLI refreshes an expired SSO token and rewrites PATH. Its
/// output is discarded.
async fn run_cli(
    cli: &Path,
    config: &Path,
    context: &str,
    timeout: Duration,
) -> Result<(), String> {
    let mut cmd = tokio::process::Command::new(cli);
    cmd.args(["account", "get-user-info", "--config"])
        .arg(config)
        .args(["--argocd-context", context, "-o", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {} ({e})", cli.display()))?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(status)) => Err(format!(
            "`argocd account get-user-info` could not refresh the login ({status})"
        )),
        Ok(Err(e)) => Err(format!("cannot wait for the argocd CLI ({e})")),
        Err(_) => {
            let _ = child.kill().await;
            Err(format!(
                "the argocd CLI did not finish within {} s",
                timeout.as_secs()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: &str, token: &str, origin: &str) -> ServerTarget {
        ServerTarget {
            name: "dev".into(),
            url: url.parse().unwrap(),
            token: Token::new(token),
            selector: "type=pr".into(),
            ca_cert: None,
            insecure: false,
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            route_template: None,
            origin: origin.into(),
        }
    }

    fn cli_config(dir: &Path, token: &str, refresh: &str) -> PathBuf {
        let path = dir.join("config");
        std::fs::write(
            &path,
            format!(
                "contexts:\n- name: dev\n  server: argocd.dev:8443\n  user: dev\ncurrent-context: dev\n\
                 servers:\n- server: argocd.dev:8443\nusers:\n- name: dev\n  auth-token: {token}\n  refresh-token: {refresh:?}\n"
            ),
        )
        .unwrap();
        path
    }

    #[tokio::test]
    async fn tokens_not_from_the_cli_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        cli_config(dir.path(), "cli-token", "r");
        let d = dir.path().to_str().unwrap().to_owned();
        let env = move |k: &str| (k == "ARGOCD_CONFIG_DIR").then(|| d.clone());
        // ARGOCD_AUTH_TOKEN for the same server: not ours to replace.
        let t = target("https://argocd.dev:8443", "env-token", "env ARGOCD_SERVER");
        let used = t.token.clone();
        assert!(matches!(
            after_unauthorized(&t, used.as_ref(), &env).await,
            Refresh::NotFromCli
        ));
        // Another server: no context.
        let t = target("https://other.example.com", "cli-token", "flag");
        assert!(matches!(
            after_unauthorized(&t, t.token.as_ref(), &env).await,
            Refresh::NotFromCli
        ));
    }

    #[tokio::test]
    async fn without_a_refresh_token_or_cli_the_login_command_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = cli_config(dir.path(), "cli-token", "");
        let d = dir.path().to_str().unwrap().to_owned();
        let env = move |k: &str| match k {
            "ARGOCD_CONFIG_DIR" => Some(d.clone()),
            "PATH" => Some("/nonexistent".into()),
            _ => None,
        };
        let t = target(
            "https://argocd.dev:8443",
            "cli-token",
            &path.display().to_string(),
        );
        match after_unauthorized(&t, t.token.as_ref(), &env).await {
            Refresh::Failed { why, login } => {
                assert_eq!(login, "argocd.dev:8443");
                assert!(why.contains("no refresh token"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        cli_config(dir.path(), "cli-token", "refresh-me");
        match after_unauthorized(&t, t.token.as_ref(), &env).await {
            Refresh::Failed { why, login } => {
                assert_eq!(login, "argocd.dev:8443 --sso");
                assert!(why.contains("not on PATH"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        // The user logged in again meanwhile: that token is used, no CLI needed.
        cli_config(dir.path(), "fresh-token", "refresh-me");
        match after_unauthorized(&t, t.token.as_ref(), &env).await {
            Refresh::Refreshed(tok) => assert_eq!(Some(tok), Token::new("fresh-token")),
            other => panic!("{other:?}"),
        }
        let again = with_refreshed_token(&t).unwrap();
        assert_eq!(again.token, Token::new("fresh-token"));
    }
}
