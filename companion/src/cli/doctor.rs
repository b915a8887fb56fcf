//! `preview-switch doctor`: checks each configured server (reachable, TLS, version, token
//! valid, previews visible) and the config, and prints one line per check with its fix.
//! Browser registrations are added by the native-host installer's `check`.

use std::fmt::Write as _;

use crate::argocd::client::{Client, ListQuery};
use crate::config::ServerTarget;
use crate::error::Error;

/// One checked item: what was checked, whether it passed, and the detail or fix.
#[derive(Debug)]
pub struct Check {
    pub ok: bool,
    pub what: String,
    pub detail: String,
}

impl Check {
    fn pass(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            ok: true,
            what: what.into(),
            detail: detail.into(),
        }
    }
    fn fail(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            ok: false,
            what: what.into(),
            detail: detail.into(),
        }
    }
}

/// Checks one server, stopping at the first failed step (later steps depend on it).
pub async fn check_server(target: &ServerTarget) -> Vec<Check> {
    let name = format!("{} ({})", target.name, target.url);
    let mut checks = Vec::new();
    let client = match Client::new(target) {
        Ok(c) => c,
        Err(e) => return vec![Check::fail(format!("{name}: client"), e.to_string())],
    };
    let version = match client.version().await {
        Ok(v) => v,
        Err(e) => {
            let step = if matches!(e, Error::Tls { .. }) {
                "TLS"
            } else {
                "reachable"
            };
            checks.push(Check::fail(format!("{name}: {step}"), e.to_string()));
            return checks;
        }
    };
    let tls = if target.url.scheme() == "https" {
        if target.insecure {
            "TLS not verified (--insecure)"
        } else {
            "TLS verified"
        }
    } else {
        "plain HTTP"
    };
    checks.push(Check::pass(
        format!("{name}: reachable"),
        format!("Argo CD {version}, {tls}"),
    ));
    if target.token.is_none() {
        checks.push(Check::fail(
            format!("{name}: token"),
            format!(
                "no token: run `argocd login {}` or set ARGOCD_AUTH_TOKEN",
                host_port(target)
            ),
        ));
        return checks;
    }
    match client.userinfo().await {
        Ok(u) if u.logged_in => checks.push(Check::pass(
            format!("{name}: token"),
            format!(
                "valid, logged in as {}",
                u.username.as_deref().unwrap_or("(unnamed)")
            ),
        )),
        Ok(_) => {
            checks.push(Check::fail(
                format!("{name}: token"),
                format!(
                    "not logged in (expired or revoked): run `argocd login {}`",
                    host_port(target)
                ),
            ));
            return checks;
        }
        Err(e) => {
            checks.push(Check::fail(format!("{name}: token"), e.to_string()));
            return checks;
        }
    }
    let query = ListQuery {
        selector: Some(target.selector.clone()),
        name: None,
        fields: Client::fields_for_version(&version),
    };
    match client.list_applications(&query).await {
        Ok(list) if list.items.is_empty() => checks.push(Check::fail(
            format!("{name}: previews"),
            format!(
                "none match selector {:?}: check the selector, or your RBAC role (Argo CD hides apps you cannot read)",
                target.selector
            ),
        )),
        Ok(list) => checks.push(Check::pass(
            format!("{name}: previews"),
            format!("{} visible with selector {:?}", list.items.len(), target.selector),
        )),
        Err(e) => checks.push(Check::fail(format!("{name}: previews"), e.to_string())),
    }
    checks
}

fn host_port(target: &ServerTarget) -> String {
    let host = target.url.host_str().unwrap_or_default();
    match target.url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// `✓ what: detail` / `✗ what: detail` lines.
pub fn render(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let mark = if c.ok { "ok  " } else { "FAIL" };
        let _ = writeln!(out, "{mark} {}: {}", c.what, c.detail);
    }
    out
}
