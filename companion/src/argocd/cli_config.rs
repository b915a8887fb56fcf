//! Reads the `argocd` CLI's own config file (`LocalConfig`, YAML) so that a user who ran
//! `argocd login` needs no other setup. Read-only: we never write the file (PLATFORM D); an
//! expired SSO token is refreshed by running the CLI. Path rules are the CLI's own.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::argocd::model::nullable;
use crate::error::{Error, Problem, Result};

/// The parts of `LocalConfig` we read; other keys (`prompts-enabled`, ...) are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct LocalConfig {
    #[serde(deserialize_with = "nullable")]
    pub current_context: String,
    #[serde(deserialize_with = "nullable")]
    pub contexts: Vec<ContextRef>,
    #[serde(deserialize_with = "nullable")]
    pub servers: Vec<CliServer>,
    #[serde(deserialize_with = "nullable")]
    pub users: Vec<CliUser>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ContextRef {
    pub name: String,
    pub server: String,
    pub user: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CliServer {
    /// `host[:port]`, no scheme.
    pub server: String,
    pub insecure: bool,
    pub plain_text: bool,
    pub grpc_web: bool,
    pub grpc_web_root_path: String,
    /// `--core` mode talks to Kubernetes directly: there is no API server to ask.
    pub core: bool,
    /// Base64 of a PEM bundle: the CA that signed the server's certificate.
    pub certificate_authority_data: String,
    /// Base64 of a PEM client certificate and its key (mutual TLS), always set together.
    pub client_certificate_data: String,
    pub client_certificate_key_data: String,
}

/// The server name `argocd login --port-forward` writes: no address, the CLI opens a
/// port-forward to the API server through kubectl each time
/// (`cmd/argocd/commands/login.go`).
pub const PORT_FORWARD_SERVER: &str = "port-forward";

/// A user entry. Not `Debug`-derived: its tokens must never be formatted.
#[derive(Clone, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CliUser {
    pub name: String,
    pub auth_token: String,
    pub refresh_token: String,
}

impl std::fmt::Debug for CliUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CliUser")
            .field("name", &self.name)
            .field("auth_token", &"****")
            .finish_non_exhaustive()
    }
}

/// One context with its server and user looked up.
#[derive(Debug, Clone)]
pub struct ResolvedContext<'a> {
    pub name: &'a str,
    pub server: Option<&'a CliServer>,
    /// The context's `server` value when there is no `servers[]` entry for it.
    pub server_name: &'a str,
    pub user: Option<&'a CliUser>,
}

impl LocalConfig {
    pub fn parse(text: &str, path: &Path) -> Result<LocalConfig> {
        if text.trim().is_empty() {
            return Ok(LocalConfig::default());
        }
        serde_norway::from_str(text).map_err(|e| Error::Config {
            path: path.to_owned(),
            line: e.location().map(|l| l.line()),
            problem: Problem::new(
                e.to_string(),
                "fix or remove the file, or run `argocd login` again",
            ),
        })
    }

    /// Reads the file; `Ok(None)` if it does not exist.
    pub fn load(path: &Path) -> Result<Option<LocalConfig>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Config {
                path: path.to_owned(),
                line: None,
                problem: Problem::new(
                    format!("cannot read the argocd CLI config ({e})"),
                    "check its permissions",
                ),
            }),
        }
    }

    pub fn context(&self, name: &str) -> Option<ResolvedContext<'_>> {
        let ctx = self.contexts.iter().find(|c| c.name == name)?;
        Some(ResolvedContext {
            name: &ctx.name,
            server: self.servers.iter().find(|s| s.server == ctx.server),
            server_name: &ctx.server,
            user: self.users.iter().find(|u| u.name == ctx.user),
        })
    }

    pub fn all_contexts(&self) -> Vec<ResolvedContext<'_>> {
        self.contexts
            .iter()
            .filter_map(|c| self.context(&c.name))
            .collect()
    }
}

/// The CLI config path (PLATFORM D): `$ARGOCD_CONFIG_DIR/config`, else `~/.argocd/config`
/// if that directory exists, else `$XDG_CONFIG_HOME/argocd/config`, else
/// `~/.config/argocd/config`.
pub fn path(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty("ARGOCD_CONFIG_DIR") {
        return PathBuf::from(dir).join("config");
    }
    let home = non_empty("HOME").map(PathBuf::from);
    if let Some(home) = &home {
        let legacy = home.join(".argocd");
        if legacy.is_dir() {
            return legacy.join("config");
        }
    }
    if let Some(xdg) = non_empty("XDG_CONFIG_HOME") {
        return PathBuf::from(xdg).join("argocd").join("config");
    }
    home.unwrap_or_else(|| PathBuf::from("~"))
        .join(".config")
        .join("argocd")
        .join("config")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_config_from_argo_cd_parses() {
        let text =
            include_str!("../../../tests/fixtures/argocd/argocd-cli-local-config.sample.yaml");
        let cfg = LocalConfig::parse(text, Path::new("sample")).unwrap();
        assert_eq!(cfg.current_context, "localhost:8080");
        assert_eq!(cfg.contexts.len(), 3);
        let ctx = cfg.context("localhost:8080").unwrap();
        assert!(ctx.server.unwrap().plain_text);
        assert_eq!(ctx.user.unwrap().auth_token, "vErrYS3c3tReFRe$hToken");
        assert!(!format!("{cfg:?}").contains("vErrYS3c3t"));
        assert_eq!(cfg.all_contexts().len(), 3);
    }

    #[test]
    fn broken_yaml_reports_its_line() {
        let err = LocalConfig::parse(
            "contexts:\n- name: a\n  server: [unclosed\n",
            Path::new("/c"),
        )
        .unwrap_err();
        match err {
            Error::Config { line, .. } => assert!(matches!(line, Some(3) | Some(4)), "{line:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn path_rules_follow_the_cli() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let h = home.to_str().unwrap().to_owned();
        let env = |vars: Vec<(&'static str, String)>| {
            move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        };
        // 1. ARGOCD_CONFIG_DIR wins.
        let e = env(vec![
            ("ARGOCD_CONFIG_DIR", "/cfg".into()),
            ("HOME", h.clone()),
        ]);
        assert_eq!(path(&e), PathBuf::from("/cfg/config"));
        // 4. Nothing else: ~/.config/argocd/config.
        let e = env(vec![("HOME", h.clone())]);
        assert_eq!(path(&e), home.join(".config/argocd/config"));
        // 3. XDG_CONFIG_HOME.
        let e = env(vec![
            ("HOME", h.clone()),
            ("XDG_CONFIG_HOME", "/xdg".into()),
        ]);
        assert_eq!(path(&e), PathBuf::from("/xdg/argocd/config"));
        // 2. ~/.argocd exists: it beats XDG.
        std::fs::create_dir(home.join(".argocd")).unwrap();
        assert_eq!(path(&e), home.join(".argocd/config"));
    }
}
