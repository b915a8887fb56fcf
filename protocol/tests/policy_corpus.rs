//! The shared policy corpus (`policy_corpus.json`) against the policy itself, with the
//! extension's subset of the Public Suffix List: each case gets the extension's verdict. The
//! companion (`companion/src/core/routes.rs`, `the_shared_policy_corpus_gets_the_same_verdicts`)
//! and the extension (`extension/tests/policy_corpus.rs`) run the same file through their own
//! entry points.

#[path = "../../tests/doc_counts.rs"]
mod doc_counts;

use preview_switch_protocol::policy::{KnownSuffixes, check_route};
use preview_switch_protocol::{Route, RouteKind, RouteSource};
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    what: String,
    kind: RouteKind,
    name: String,
    value: String,
    hosts: Vec<String>,
    verdict: String,
    extension: Option<String>,
}

#[test]
fn the_policy_gives_each_corpus_case_its_verdict() {
    let corpus: Corpus =
        serde_json::from_str(include_str!("policy_corpus.json")).expect("the corpus parses");
    doc_counts::assert_doc_count("policy corpus cases", corpus.cases.len());
    for case in corpus.cases {
        let route = Route {
            kind: case.kind,
            name: case.name.clone(),
            value: case.value.clone(),
            hosts: case.hosts.clone(),
            source: RouteSource::Annotation,
        };
        let want = case.extension.as_deref().unwrap_or(&case.verdict);
        let got = match check_route(&route, &KnownSuffixes) {
            Ok(_) => "accept",
            Err(_) => "refuse",
        };
        assert_eq!(got, want, "{}", case.what);
    }
}
