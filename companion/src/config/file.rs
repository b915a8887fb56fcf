//! The shapes of `config.toml` (serde, `deny_unknown_fields`, spans kept for line numbers)
//! and the parsed file with what is needed to point at its lines. No I/O: the file's text
//! comes from [`super::sources`].

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::parse_duration;
use crate::core::routes::RouteTemplate;
use crate::error::{Error, Problem, Result};

/// A duration in config.toml: `"500ms"`, `"5s"`, `"2m"`, or a number of seconds.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum DurationValue {
    Secs(u64),
    Text(String),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRoute {
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
pub(super) struct FileConfig {
    pub(super) selector: Option<String>,
    pub(super) connect_timeout: Option<Spanned<DurationValue>>,
    pub(super) timeout: Option<Spanned<DurationValue>>,
    pub(super) route: Option<FileRoute>,
    /// `envs`: the regex an environment segment of an app's name must match.
    pub(super) env_pattern: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) servers: Vec<FileServer>,
}

/// One `[[servers]]` entry. Not `Debug`: it may hold a token.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileServer {
    pub(super) name: Option<String>,
    pub(super) url: Spanned<String>,
    pub(super) token: Option<Spanned<String>>,
    pub(super) token_file: Option<Spanned<String>>,
    pub(super) token_command: Option<Spanned<String>>,
    pub(super) selector: Option<String>,
    pub(super) ca_cert: Option<String>,
    pub(super) insecure: Option<bool>,
    pub(super) connect_timeout: Option<Spanned<DurationValue>>,
    pub(super) timeout: Option<Spanned<DurationValue>>,
    pub(super) route: Option<FileRoute>,
}

/// A parsed config.toml with what is needed to point at its lines.
pub(super) struct LoadedFile {
    pub(super) path: PathBuf,
    pub(super) text: String,
    pub(super) cfg: FileConfig,
}

impl LoadedFile {
    pub(super) fn parse(path: &Path, text: String) -> Result<LoadedFile> {
        let cfg: FileConfig = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.to_owned(),
            line: e.span().map(|s| line_of(&text, s.start)),
            problem: Problem::new(e.message().trim(), "fix that line"),
        })?;
        Ok(LoadedFile {
            path: path.to_owned(),
            text,
            cfg,
        })
    }

    pub(super) fn error(&self, span: Option<Range<usize>>, problem: Problem) -> Error {
        Error::Config {
            path: self.path.clone(),
            line: span.map(|s| line_of(&self.text, s.start)),
            problem,
        }
    }

    pub(super) fn duration(&self, v: &Option<Spanned<DurationValue>>) -> Result<Option<Duration>> {
        let Some(v) = v else { return Ok(None) };
        // A bare number is seconds, under the same rule as a flag's "5s" or "0s".
        let text = match v.get_ref() {
            DurationValue::Secs(n) => n.to_string(),
            DurationValue::Text(s) => s.clone(),
        };
        parse_duration(&text)
            .map(Some)
            .map_err(|m| self.error(Some(v.span()), m))
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
