//! The catalogue's checks: every key the code uses is in both locales with the same
//! placeholders, every key in the locales is used, and no UI module writes words of its
//! own (a string literal with two words outside the tests fails, unless allowed below).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use preview_switch_extension::i18n::testing::{EN, KO, Messages, english, korean};
use preview_switch_extension::i18n::{Catalogue, Text};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn static_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("static")
}

/// Every `.rs` file under `src/`, with its text.
fn sources() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).expect("src readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("utf-8 source");
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&src(), &mut out);
    out
}

/// The code of `text` before its `#[cfg(test)]` module (tests may say anything).
fn non_test(text: &str) -> &str {
    // `mod tests {` inline; a `mod tests;` declared before the code is no cut.
    text.find("#[cfg(test)]\nmod tests {")
        .or_else(|| text.find("#[cfg(test)]\npub(crate) mod tests {"))
        .map_or(text, |i| &text[..i])
}

/// The keys named in `text!("key"` and `t!(cat, "key"` calls, and in `data-i18n`
/// attributes and `__MSG_key__` of the static files.
fn keys_used() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let take = |keys: &mut BTreeSet<String>, text: &str, marker: &str, end: char| {
        for (i, _) in text.match_indices(marker) {
            let rest = &text[i + marker.len()..];
            if let Some(close) = rest.find(end) {
                let key = &rest[..close];
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    keys.insert(key.to_string());
                }
            }
        }
    };
    for (path, text) in sources() {
        if path.ends_with("i18n.rs") {
            continue;
        }
        for (i, _) in text.match_indices("text!(") {
            let rest = text[i + 6..].trim_start();
            if let Some(lit) = rest.strip_prefix('"')
                && let Some(close) = lit.find('"')
            {
                keys.insert(lit[..close].to_string());
            }
        }
        // `t!(cat, "key"` and `t!(self.cat, "key"`: the first literal after `t!(`.
        for (i, _) in text.match_indices("t!(") {
            // `t!(` itself, not `assert!(` or `text!(`.
            if text[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                continue;
            }
            let rest = &text[i + 3..];
            let Some(open) = rest.find('"') else { continue };
            if rest[..open].contains([')', ';', '\n']) && !rest[..open].trim_end().ends_with(',') {
                continue;
            }
            let after = &rest[open + 1..];
            if let Some(close) = after.find('"') {
                let key = &after[..close];
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    keys.insert(key.to_string());
                }
            }
        }
    }
    for name in ["popup.html", "options.html"] {
        let text = std::fs::read_to_string(static_dir().join(name)).expect("static page");
        take(&mut keys, &text, "data-i18n=\"", '"');
        take(&mut keys, &text, "data-i18n-placeholder=\"", '"');
        take(&mut keys, &text, "data-i18n-title=\"", '"');
    }
    for name in ["popup.js", "options.js", "background.js"] {
        let text = std::fs::read_to_string(static_dir().join(name)).expect("static script");
        take(&mut keys, &text, "getMessage(\"", '"');
    }
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest/common.json"))
            .expect("manifest");
    for (i, _) in manifest.match_indices("__MSG_") {
        let rest = &manifest[i + 6..];
        if let Some(close) = rest.find("__") {
            keys.insert(rest[..close].to_string());
        }
    }
    keys
}

#[test]
fn every_key_used_is_in_both_locales_and_every_key_is_used() {
    let used = keys_used();
    assert!(used.len() > 100, "the scan found the keys: {used:?}");
    for (name, messages) in [("en", english()), ("ko", korean())] {
        let missing: Vec<&String> = used
            .iter()
            .filter(|k| !messages.entries.contains_key(&k.to_ascii_lowercase()))
            .collect();
        assert!(missing.is_empty(), "{name} lacks {missing:?}");
    }
    let unused: Vec<&String> = english()
        .entries
        .values()
        .map(|e| &e.key)
        .filter(|k| !used.contains(*k))
        .collect();
    assert!(unused.is_empty(), "keys no code uses: {unused:?}");
}

#[test]
fn both_locales_have_the_same_keys_and_placeholders() {
    let (en, ko) = (Messages::parse(EN), Messages::parse(KO));
    let en_keys: BTreeSet<&String> = en.entries.keys().collect();
    let ko_keys: BTreeSet<&String> = ko.entries.keys().collect();
    assert_eq!(en_keys, ko_keys, "the locales differ in keys");
    for (key, e) in &en.entries {
        let k = &ko.entries[key];
        assert_eq!(
            e.placeholders, k.placeholders,
            "{key}: the placeholders differ between en and ko"
        );
        assert_eq!(en.arity(key), ko.arity(key), "{key}");
        // A placeholder the message does not use would drop data from the Korean text.
        for name in k.placeholders.keys() {
            assert!(
                k.message
                    .to_ascii_lowercase()
                    .contains(&format!("${name}$")),
                "ko {key} does not use ${name}$"
            );
        }
        assert!(!k.message.trim().is_empty(), "ko {key} is empty");
    }
}

#[test]
fn korean_keeps_the_product_terms() {
    // PR, preview and the product's name stay as they are (DESIGN: no machine-literal
    // translation of product terms).
    for key in ["link_asks", "row_title", "status_tab", "badge_tab"] {
        let ko = &korean().entries[key].message;
        assert!(ko.contains("PR"), "{key}: {ko}");
    }
    assert!(korean().entries["loading"].message.contains("preview"));
    let ko = Text::new("link_asks", vec!["courses-fe".into(), 123u64.into()]).render(korean());
    assert_eq!(ko, "이 링크는 courses-fe PR 123을(를) 요청합니다");
}

/// Literals that are not words for the user: commands, wire values, CSS, DOM.
const ALLOWED: &[&str] = &[
    "preview-switch doctor",
    "preview-switch install --browser firefox",
    "preview-switch install --browser {browser} --extension-id {}",
    "noopener noreferrer",
    "outcome bad",
    "notice-text bad",
    "notice error failures",
    "notice {}",
    "row {}",
    "proof {class}",
    "{class} primary",
    // Matched against what the browser or the companion says, never shown.
    "google chrome",
    "went backwards",
    "Specified native messaging host not found",
    "No such native application",
    // Panic messages for developers.
    "a valid tag name",
    "an input element",
    // Console lines for people debugging, never in the UI.
    "no window",
    "could not reopen the popup: {e}",
    "could not show the page ribbon: {e}",
    "the relay ended the stream",
    "no preview-switch companion in this browser: reading the team relay",
    "preview-switch companion port",
    "team relay stream",
    "{what} closed ({why}); reconnecting in {ms} ms",
    "skipping a team relay event the extension does not know: {event}",
    // What arrived instead of the expected reply, inside an "unreadable" error: a detail
    // for a bug report, like the decoder's own words beside it.
    "expected an answer, got {}",
    "expected a list, got {}",
];

/// Whether `lit` reads like words for a user: two runs of letters with a space between.
fn wordy(lit: &str) -> bool {
    let words = lit
        .split(' ')
        .filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2)
        .count();
    words >= 2
}

/// String literals of `code`, roughly: enough for this check (no raw strings in the UI
/// modules).
fn literals(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = code.chars().peekable();
    let mut in_comment = false;
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        if in_comment {
            if c == '\n' {
                in_comment = false;
            }
            continue;
        }
        if c == '/' && chars.peek() == Some(&'/') {
            in_comment = true;
            continue;
        }
        if c == '\'' && prev != '\\' {
            // A char literal: skip it (a lifetime has no closing quote soon, fine).
            let ahead: String = chars.clone().take(3).collect();
            if ahead.starts_with('\\') || ahead.chars().nth(1) == Some('\'') {
                for _ in 0..ahead.find('\'').map_or(0, |i| i + 1) {
                    chars.next();
                }
            }
            prev = c;
            continue;
        }
        if c == '"' {
            let mut lit = String::new();
            let mut escaped = false;
            for d in chars.by_ref() {
                if escaped {
                    escaped = false;
                    lit.push(d);
                } else if d == '\\' {
                    escaped = true;
                } else if d == '"' {
                    break;
                } else {
                    lit.push(d);
                }
            }
            out.push(lit);
        }
        prev = c;
    }
    out
}

/// The modules that put words in front of the user.
const UI_MODULES: &[&str] = &[
    "view.rs",
    "state.rs",
    "failure.rs",
    "routing.rs",
    "settings.rs",
    "state/ribbon.rs",
    "envs.rs",
    "web/render.rs",
    "web/envs.rs",
    "web/options.rs",
    "web/mod.rs",
    "web/relay.rs",
    "worker/mod.rs",
    "worker/relay.rs",
    "worker/listing.rs",
];

#[test]
fn no_ui_module_writes_words_of_its_own() {
    let mut found = Vec::new();
    for module in UI_MODULES {
        let path = src().join(module);
        let text = std::fs::read_to_string(&path).expect("module exists");
        for lit in literals(non_test(&text)) {
            if wordy(&lit) && !ALLOWED.contains(&lit.as_str()) {
                found.push(format!("{module}: {lit:?}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "words outside the catalogue (add a key to _locales/en and _locales/ko, or allow a non-word literal in i18n/tests.rs):\n{}",
        found.join("\n")
    );
}

/// The check above finds a sentence when one is written into a module.
#[test]
fn the_scan_finds_a_hard_coded_sentence() {
    let code = "fn f() -> String { format!(\"Could not read {x}\") } // \"a comment\"\n";
    let lits = literals(code);
    assert_eq!(lits, ["Could not read {x}"]);
    assert!(wordy(&lits[0]));
    assert!(!wordy("opt-{clean}-{suffix}"));
    assert!(!wordy("team-pr"));
}

/// Each element of the static pages that holds words names its key, and its words are
/// the English message (the words shown before the wasm replaces them).
#[test]
fn static_pages_name_the_key_of_every_word() {
    for name in ["popup.html", "options.html"] {
        let text = std::fs::read_to_string(static_dir().join(name)).expect("static page");
        let body = &text[text.find("<body").expect("a body")..];
        let mut rest = body;
        while let Some(open) = rest.find('<') {
            let Some(close) = rest[open..].find('>') else {
                break;
            };
            let tag = &rest[open..open + close + 1];
            let after = &rest[open + close + 1..];
            let words = after[..after.find('<').unwrap_or(after.len())].trim();
            if !words.is_empty() && !tag.starts_with("</") {
                let key = tag
                    .split("data-i18n=\"")
                    .nth(1)
                    .and_then(|k| k.split('"').next())
                    .unwrap_or_else(|| panic!("{name}: {tag} holds {words:?} without data-i18n"));
                assert_eq!(
                    english().message(key, &[]),
                    words,
                    "{name}: {tag} shows other words than its key"
                );
            }
            for attr in ["placeholder", "title"] {
                if tag.contains(&format!(" {attr}=\"")) {
                    assert!(
                        tag.contains(&format!("data-i18n-{attr}=\"")),
                        "{name}: {tag}: its {attr} names no key"
                    );
                }
            }
            rest = after;
        }
    }
}
