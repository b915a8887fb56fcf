//! The shared policy corpus (`policy_corpus.json`) against the policy itself, with the
//! extension's subset of the Public Suffix List: each case gets the extension's verdict. The
//! companion (`companion/src/core/routes.rs`, `the_shared_policy_corpus_gets_the_same_verdicts`)
//! and the extension (`extension/tests/policy_corpus.rs`) run the same file through their own
//! entry points.

// The name the extension gives the crate, so `corpus` reads the same in both.
extern crate preview_switch_protocol as protocol;

mod corpus;
#[path = "../../tests/doc_counts.rs"]
mod doc_counts;

use protocol::policy::{KnownSuffixes, check_route};

#[test]
fn the_policy_gives_each_corpus_case_its_verdict() {
    let cases = corpus::cases();
    doc_counts::assert_doc_count("policy corpus cases", cases.len());
    for case in cases {
        let route = case.route();
        let got = match check_route(&route, &KnownSuffixes) {
            Ok(_) => "accept",
            Err(_) => "refuse",
        };
        assert_eq!(got, case.extension_verdict(), "{}", case.what);
    }
}
