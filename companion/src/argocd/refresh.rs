//! Login that keeps working: after a 401, a token that came from the `argocd` CLI's config
//! is refreshed the way the CLI does it, by running the CLI. Any authenticated CLI call
//! makes it trade the stored refresh token for a new one and rewrite its config (PLATFORM D:
//! `argocd account get-user-info`), so we run that with a timeout, re-read the config and
//! hand back the new token; the caller retries once. We never write the CLI's file
//! ourselves, and the CLI's output is never logged (it names the user; the file holds tokens).
//!
//! The CLI's own rules decide when that can work (`pkg/apiclient/apiclient.go` ::
//! `refreshAuthToken`): only for a login with a refresh token, only when the stored token's
//! claims fail validation (`exp` passed, or `nbf` ahead), and only with a config file of
//! mode 0600 or 0400 (`util/localconfig` :: `ReadLocalConfig`). `--argocd-context` exists
//! from CLI v2.13; an older CLI is run without it when the context is its current one.
//!
//! When no refresh is possible (no refresh token, a token refused before it expired, a
//! config the CLI will not read, no CLI on PATH, the CLI failed), the result says why and
//! which command the user should run instead.

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
    let Some((context, login, cli_token, has_refresh, still_valid)) = cli_login(&path, target)
    else {
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
        sso_login(&login, env)
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
    if still_valid {
        return Refresh::Failed {
            why: format!(
                "the token of context {context} has not expired, yet the server refused it (revoked, or the server's signing key changed), and the argocd CLI renews only expired tokens"
            ),
            login,
        };
    }
    if let Some(why) = unreadable_for_the_cli(&path) {
        return Refresh::Failed { why, login };
    }
    let Some(cli) = find_on_path("argocd", env) else {
        return Refresh::Failed {
            why: "the argocd CLI, which would refresh the SSO token, is not on PATH".to_string(),
            login,
        };
    };
    tracing::info!(context = %context, "token rejected: refreshing it with the argocd CLI");
    let current = LocalConfig::load(&path)
        .ok()
        .flatten()
        .is_some_and(|c| c.current_context == context);
    if let Err(why) = run_cli(&cli, &path, &context, current, CLI_TIMEOUT).await {
        return Refresh::Failed { why, login };
    }
    match cli_login(&path, target) {
        Some((_, _, Some(fresh), _, _)) if Some(&fresh) != used => {
            remember(target, &fresh);
            Refresh::Refreshed(fresh)
        }
        _ => Refresh::Failed {
            why: "the argocd CLI ran but left the expired token in its config".to_string(),
            login,
        },
    }
}

/// The `argocd login` arguments for an SSO login; on a machine without a display, with
/// `--sso-launch-browser=false` (CLI v2.13+), which prints the URL to open elsewhere.
fn sso_login(login: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let headless = cfg!(all(unix, not(target_os = "macos")))
        && ["DISPLAY", "WAYLAND_DISPLAY"]
            .iter()
            .all(|v| env(v).is_none_or(|d| d.is_empty()));
    if headless {
        format!("{login} --sso --sso-launch-browser=false")
    } else {
        format!("{login} --sso")
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether a JWT's own claims still hold at `now` (seconds): `exp` not passed and `nbf`
/// not ahead, read unverified as the CLI reads them (golang-jwt `Validator.Validate`, no
/// leeway). A token that is not a JWT, or has no such claims, counts as not valid here,
/// so the CLI is asked (and says itself what is wrong).
fn claims_still_valid(token: &str, now: i64) -> bool {
    use base64::Engine as _;
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(json) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('='))
    else {
        return false;
    };
    let Ok(claims) = serde_json::from_slice::<serde_json::Value>(&json) else {
        return false;
    };
    let at = |k: &str| claims.get(k).and_then(serde_json::Value::as_f64);
    let Some(exp) = at("exp") else {
        return false;
    };
    (exp as i64) >= now && at("nbf").is_none_or(|nbf| (nbf as i64) <= now)
}

/// Why the CLI would refuse to read its config at `path`: it wants mode 0600 or 0400
/// (`util/localconfig/file_perm_unix.go` :: `getFilePermission`).
fn unreadable_for_the_cli(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        if mode != 0o600 && mode != 0o400 {
            return Some(format!(
                "the argocd CLI will not read {} with mode {mode:o} (it wants 600 or 400): run chmod 600 {}",
                path.display(),
                path.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    None
}

/// The CLI context for the target's server in the config at `path`: its name, the
/// `argocd login` arguments, its token, whether it holds a refresh token, and whether the
/// token's own claims still hold (so the CLI would not refresh it).
type CliLogin = (String, String, Option<Token>, bool, bool);

fn cli_login(path: &Path, target: &ServerTarget) -> Option<CliLogin> {
    let cfg = LocalConfig::load(path).ok().flatten()?;
    let key = url_key(&target.url);
    let ctx = cfg
        .all_contexts()
        .into_iter()
        .find(|c| context_url(c).is_ok_and(|u| url_key(&u) == key))?;
    let plain = ctx.server.is_some_and(|s| s.plain_text);
    let mut login = if plain {
        format!("{} --plaintext", ctx.server_name)
    } else {
        ctx.server_name.to_string()
    };
    if let Some(root) = ctx
        .server
        .map(|s| s.grpc_web_root_path.trim_matches('/'))
        .filter(|r| !r.is_empty())
    {
        login.push_str(&format!(" --grpc-web-root-path {root}"));
    }
    let user = ctx.user;
    Some((
        ctx.name.to_string(),
        login,
        user.and_then(|u| Token::new(u.auth_token.as_str())),
        user.is_some_and(|u| !u.refresh_token.trim().is_empty()),
        user.is_some_and(|u| claims_still_valid(u.auth_token.trim(), unix_now())),
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

/// What an older CLI (before v2.13) says to `--argocd-context` (cobra with
/// `SilenceUsage`, then exit 1).
const NO_CONTEXT_FLAG: &str = "unknown flag: --argocd-context";

/// `argocd account get-user-info --config PATH --argocd-context CTX -o json`: an
/// authenticated call, so the CLI refreshes an expired SSO token and rewrites PATH. Its
/// output is discarded, and its stderr only searched for [`NO_CONTEXT_FLAG`]: a CLI
/// older than v2.13 is run again without the flag when `context` is its current one.
async fn run_cli(
    cli: &Path,
    config: &Path,
    context: &str,
    current: bool,
    timeout: Duration,
) -> Result<(), String> {
    match run_cli_once(cli, config, Some(context), timeout).await? {
        None => Ok(()),
        Some(stderr) if stderr.contains(NO_CONTEXT_FLAG) && current => {
            match run_cli_once(cli, config, None, timeout).await? {
                None => Ok(()),
                Some(_) => {
                    Err("`argocd account get-user-info` could not refresh the login".to_owned())
                }
            }
        }
        Some(stderr) if stderr.contains(NO_CONTEXT_FLAG) => Err(format!(
            "the argocd CLI on PATH is older than v2.13 and has no --argocd-context to pick context {context}: upgrade it, or run `argocd context {context}` first"
        )),
        Some(_) => Err("`argocd account get-user-info` could not refresh the login".to_owned()),
    }
}

/// One run: `Ok(None)` on success, `Ok(Some(stderr))` on a failure exit (stderr at most
/// 64 KiB, never logged: it may name the user).
async fn run_cli_once(
    cli: &Path,
    config: &Path,
    context: Option<&str>,
    timeout: Duration,
) -> Result<Option<String>, String> {
    let mut cmd = tokio::process::Command::new(cli);
    cmd.args(["account", "get-user-info", "--config"])
        .arg(config);
    if let Some(context) = context {
        cmd.args(["--argocd-context", context]);
    }
    cmd.args(["-o", "json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {} ({e})", cli.display()))?;
    match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => Ok(None),
        Ok(Ok(out)) => {
            let end = out.stderr.len().min(64 * 1024);
            Ok(Some(
                String::from_utf8_lossy(&out.stderr[..end]).into_owned(),
            ))
        }
        Ok(Err(e)) => Err(format!("cannot wait for the argocd CLI ({e})")),
        // Dropping the future kills the child (kill_on_drop).
        Err(_) => Err(format!(
            "the argocd CLI did not finish within {} s",
            timeout.as_secs()
        )),
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
        let _ = std::fs::remove_file(&path);
        std::fs::write(
            &path,
            format!(
                "contexts:\n- name: dev\n  server: argocd.dev:8443\n  user: dev\ncurrent-context: dev\n\
                 servers:\n- server: argocd.dev:8443\nusers:\n- name: dev\n  auth-token: {token}\n  refresh-token: {refresh:?}\n"
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
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
                // No DISPLAY in this environment: the headless SSO login is advised.
                let headless = if cfg!(all(unix, not(target_os = "macos"))) {
                    " --sso-launch-browser=false"
                } else {
                    ""
                };
                assert_eq!(login, format!("argocd.dev:8443 --sso{headless}"));
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

    #[test]
    fn token_claims_are_read_as_the_cli_reads_them() {
        use base64::Engine as _;
        let jwt = |claims: &str| {
            let b = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            format!("{}.{}.sig", b(r#"{"alg":"none"}"#), b(claims))
        };
        let now = 1_700_000_000;
        assert!(claims_still_valid(&jwt(r#"{"exp":1700000100}"#), now));
        assert!(!claims_still_valid(&jwt(r#"{"exp":1699999999}"#), now));
        assert!(!claims_still_valid(
            &jwt(r#"{"exp":1700000100,"nbf":1700000050}"#),
            now
        ));
        assert!(!claims_still_valid(&jwt(r#"{"sub":"no exp"}"#), now));
        assert!(!claims_still_valid("not-a-jwt", now));
    }

    #[tokio::test]
    async fn a_config_the_cli_will_not_read_is_named_with_chmod() {
        let dir = tempfile::tempdir().unwrap();
        let path = cli_config(dir.path(), "cli-token", "refresh-me");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let d = dir.path().to_str().unwrap().to_owned();
            let env = move |k: &str| (k == "ARGOCD_CONFIG_DIR").then(|| d.clone());
            let t = target(
                "https://argocd.dev:8443",
                "cli-token",
                &path.display().to_string(),
            );
            match after_unauthorized(&t, t.token.as_ref(), &env).await {
                Refresh::Failed { why, .. } => {
                    assert!(
                        why.contains(&format!("run chmod 600 {}", path.display())),
                        "{why}"
                    )
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
