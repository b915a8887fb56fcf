//! Counts that README.md and SECURITY.md quote, checked against the test data they count,
//! so the documents cannot drift from the tests again. Included by path (`#[path]`) into
//! the tests of the companion, the extension and the protocol, each checking its own.

use std::path::Path;

/// Every "N <phrase>" in README.md and SECURITY.md says `n`, and at least one does. Line
/// breaks count as spaces (the documents wrap); a leading `(` is allowed (`(27)` reads as
/// a count only after the phrase, which is not checked).
pub fn assert_doc_count(phrase: &str, n: usize) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("a crate of the workspace");
    let mut found = 0;
    for doc in ["README.md", "SECURITY.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect("the document reads");
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for (at, _) in text.match_indices(&format!(" {phrase}")) {
            let word = text[..at].rsplit(' ').next().unwrap_or_default();
            if let Ok(k) = word.trim_start_matches('(').parse::<usize>() {
                found += 1;
                assert_eq!(k, n, "{doc} quotes {k} {phrase}; the test has {n}");
            }
        }
    }
    assert!(
        found > 0,
        "neither README.md nor SECURITY.md quotes the number of {phrase}"
    );
}
