//! Golden tests: every example in `tests/golden/` round-trips through the protocol types
//! without losing or inventing a field, appears verbatim in PROTOCOL.md, and together they
//! cover every request and reply type; PROTOCOL.md's error table matches `ErrorCode`.

use std::path::{Path, PathBuf};

use preview_switch_protocol::messages::{ErrorCode, Reply, Request, RequestBody};
use serde_json::Value;

fn golden_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn protocol_md() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../PROTOCOL.md")).unwrap()
}

#[test]
fn every_golden_example_round_trips_through_the_types() {
    let files = golden_files();
    assert!(files.len() >= 10, "{files:?}");
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let original: Value = serde_json::from_str(&text).unwrap();
        let again = if name.starts_with("request.") {
            let typed: Request =
                serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            serde_json::to_value(typed).unwrap()
        } else {
            let typed: Reply =
                serde_json::from_value(original.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
            serde_json::to_value(typed).unwrap()
        };
        assert_eq!(again, original, "{name} changed in a round trip");
    }
}

#[test]
fn protocol_md_shows_every_golden_example_verbatim() {
    let doc = protocol_md();
    for path in golden_files() {
        let body = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(
            doc.contains(&format!("`{name}`:\n\n```json\n{}\n```", body.trim_end())),
            "PROTOCOL.md lacks the current text of {name}"
        );
    }
}

#[test]
fn golden_examples_cover_every_message_type() {
    let mut requests = Vec::new();
    let mut replies = Vec::new();
    for path in golden_files() {
        let value: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let kind = value["type"].as_str().unwrap().to_owned();
        if path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("request.")
        {
            requests.push(kind);
        } else {
            replies.push(kind);
        }
    }
    for kind in RequestBody::TYPES {
        assert!(
            requests.iter().any(|r| r == kind),
            "no golden request {kind}"
        );
    }
    for kind in [
        "hello",
        "list",
        "subscribed",
        "unsubscribed",
        "previews_changed",
        "error",
        "envs",
        "app_action",
        "app_links",
        "watching_envs",
        "notification",
    ] {
        assert!(replies.iter().any(|r| r == kind), "no golden reply {kind}");
    }
}

#[test]
fn protocol_md_error_table_lists_every_code_in_order() {
    let doc = protocol_md();
    let rows: Vec<(usize, String)> = doc
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let number = cells.get(1)?.parse().ok()?;
            Some((number, cells.get(2)?.trim_matches('`').to_owned()))
        })
        .collect();
    let expected: Vec<(usize, String)> = ErrorCode::ALL
        .iter()
        .enumerate()
        .map(|(i, c)| (i + 1, c.as_str().to_owned()))
        .collect();
    assert_eq!(rows, expected);
}
