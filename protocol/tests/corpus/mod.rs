//! The shared policy corpus (`policy_corpus.json`) as typed cases, for the policy's own
//! test and, included by path, the extension's (each names the protocol crate `protocol`).
//! The companion reads the same file as JSON.

use protocol::{Route, RouteKind, RouteSource};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct Case {
    pub what: String,
    /// `cookie` or `header`.
    pub kind: String,
    pub name: String,
    pub value: String,
    pub hosts: Vec<String>,
    /// `accept` or `refuse`, with the whole Public Suffix List.
    pub verdict: String,
    /// The extension's verdict where its subset of the list makes it differ.
    pub extension: Option<String>,
}

impl Case {
    /// The case as the route a companion would send.
    pub fn route(&self) -> Route {
        Route {
            kind: match self.kind.as_str() {
                "cookie" => RouteKind::Cookie,
                _ => RouteKind::Header,
            },
            name: self.name.clone(),
            value: self.value.clone(),
            hosts: self.hosts.clone(),
            source: RouteSource::Annotation,
        }
    }

    /// The verdict with the extension's subset of the Public Suffix List.
    pub fn extension_verdict(&self) -> &str {
        self.extension.as_deref().unwrap_or(&self.verdict)
    }
}

pub fn cases() -> Vec<Case> {
    #[derive(Deserialize)]
    struct Corpus {
        cases: Vec<Case>,
    }
    let corpus: Corpus =
        serde_json::from_str(include_str!("../policy_corpus.json")).expect("the corpus parses");
    corpus.cases
}
