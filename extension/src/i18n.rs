//! Every word the extension shows, in the browser's language: message keys of
//! `static/_locales/<lang>/messages.json` (English and Korean), looked up through a
//! [`Catalogue`] that the caller injects, so the pure modules stay natively testable. In
//! the browser the catalogue is `chrome.i18n.getMessage` (`web`); in tests it is a locale
//! file read by [`testing`].
//!
//! - [`t!`](crate::t) looks a message up now: `t!(cat, "status_tab", pr)`, for `view`.
//! - [`text!`](crate::text) keeps a [`Text`] (key and arguments) to look up later, for what
//!   `state` says before anyone renders it (messages, notifications, the badge title).
//!
//! Keys are string literals so that a test can find every one in the source and check both
//! locales have it (`tests/catalogue.rs`). Arguments are data (service
//! names, numbers, hosts, what the companion or the browser said) and are never translated.
//! How to add a string: ARCHITECTURE.md, "Adding a string".

/// A message to look up later: a key and its arguments (`$1`... in the message's
/// placeholders).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    pub key: &'static str,
    pub args: Vec<Arg>,
}

/// One substitution: data shown as is, or another message looked up first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Plain(String),
    Text(Text),
    /// Messages joined by `"; "` (the badge title's services).
    List(Vec<Text>),
}

/// Where messages come from: `chrome.i18n.getMessage(key, substitutions)`, or a locale file.
pub trait Catalogue {
    /// The message for `key` with `args` substituted; empty when the key is unknown (as
    /// `getMessage` answers).
    fn message(&self, key: &str, args: &[String]) -> String;
}

impl Text {
    pub fn new(key: &'static str, args: Vec<Arg>) -> Text {
        Text { key, args }
    }

    /// Data that is shown as it came (what the companion or the browser said): no key.
    pub fn plain(text: impl Into<String>) -> Text {
        Text {
            key: "",
            args: vec![Arg::Plain(text.into())],
        }
    }

    /// The words in `catalogue`'s language.
    pub fn render(&self, catalogue: &dyn Catalogue) -> String {
        let args: Vec<String> = self
            .args
            .iter()
            .map(|a| match a {
                Arg::Plain(s) => s.clone(),
                Arg::Text(t) => t.render(catalogue),
                Arg::List(ts) => ts
                    .iter()
                    .map(|t| t.render(catalogue))
                    .collect::<Vec<_>>()
                    .join("; "),
            })
            .collect();
        if self.key.is_empty() {
            return args.concat();
        }
        catalogue.message(self.key, &args)
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Arg {
        Arg::Plain(s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Arg {
        Arg::Plain(s.clone())
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Arg {
        Arg::Plain(s.to_string())
    }
}

impl From<Text> for Arg {
    fn from(t: Text) -> Arg {
        Arg::Text(t)
    }
}

impl From<Vec<Text>> for Arg {
    fn from(ts: Vec<Text>) -> Arg {
        Arg::List(ts)
    }
}

macro_rules! from_number {
    ($($t:ty),*) => {$(
        impl From<$t> for Arg {
            fn from(n: $t) -> Arg {
                Arg::Plain(n.to_string())
            }
        }
        impl From<&$t> for Arg {
            fn from(n: &$t) -> Arg {
                Arg::Plain(n.to_string())
            }
        }
    )*};
}
from_number!(u64, u32, u16, usize, i32);

/// A [`Text`] to look up later: `text!("key", arg, ...)`.
#[macro_export]
macro_rules! text {
    ($key:literal $(, $arg:expr)* $(,)?) => {
        $crate::i18n::Text::new($key, vec![$($crate::i18n::Arg::from($arg)),*])
    };
}

/// A message looked up now in `catalogue`: `t!(catalogue, "key", arg, ...)`.
#[macro_export]
macro_rules! t {
    ($catalogue:expr, $key:literal $(, $arg:expr)* $(,)?) => {
        $crate::text!($key $(, $arg)*).render($catalogue)
    };
}

/// Locale files read natively, for tests: the English and Korean catalogues, strict (an
/// unknown key or a wrong number of arguments panics, so a test that renders a message
/// proves its key and arguments), and a pseudo-locale that shows keys instead of words.
#[cfg(any(test, feature = "testing"))]
pub mod testing {
    use std::collections::HashMap;
    use std::sync::OnceLock;

    use super::Catalogue;

    pub const EN: &str = include_str!("../static/_locales/en/messages.json");
    pub const KO: &str = include_str!("../static/_locales/ko/messages.json");

    /// One locale file: key (lower-cased, as Chromium compares them) to message and its
    /// named placeholders (lower-cased name to content, e.g. `$1`).
    #[derive(Debug)]
    pub struct Messages {
        pub entries: HashMap<String, Entry>,
    }

    #[derive(Debug)]
    pub struct Entry {
        pub key: String,
        pub message: String,
        pub placeholders: HashMap<String, String>,
    }

    impl Messages {
        pub fn parse(json: &str) -> Messages {
            let value: serde_json::Value = serde_json::from_str(json).expect("valid JSON");
            let entries = value
                .as_object()
                .expect("an object of messages")
                .iter()
                .map(|(key, v)| {
                    let placeholders = v["placeholders"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(name, p)| {
                            let content = p["content"].as_str().expect("placeholder content");
                            (name.to_ascii_lowercase(), content.to_string())
                        })
                        .collect();
                    let entry = Entry {
                        key: key.clone(),
                        message: v["message"].as_str().expect("a message").to_string(),
                        placeholders,
                    };
                    (key.to_ascii_lowercase(), entry)
                })
                .collect();
            Messages { entries }
        }

        /// How many substitutions the message takes: the highest `$N` its placeholders name.
        pub fn arity(&self, key: &str) -> Option<usize> {
            let e = self.entries.get(&key.to_ascii_lowercase())?;
            Some(
                e.placeholders
                    .values()
                    .filter_map(|c| c.strip_prefix('$')?.parse::<usize>().ok())
                    .max()
                    .unwrap_or(0),
            )
        }
    }

    /// `getMessage`'s substitution: `$name$` becomes its placeholder's content, whose `$N`
    /// becomes the N-th argument; `$$` is a dollar sign.
    fn substitute(entry: &Entry, args: &[String]) -> String {
        let mut out = String::new();
        let mut rest = entry.message.as_str();
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let after = &rest[at + 1..];
            if let Some(tail) = after.strip_prefix('$') {
                out.push('$');
                rest = tail;
                continue;
            }
            let end = after.find('$').expect("a closed $placeholder$");
            let name = after[..end].to_ascii_lowercase();
            let content = entry
                .placeholders
                .get(&name)
                .unwrap_or_else(|| panic!("{}: no placeholder {name}", entry.key));
            let n: usize = content[1..].parse().expect("placeholder content $N");
            out.push_str(args.get(n - 1).map(String::as_str).unwrap_or_default());
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    impl Catalogue for Messages {
        fn message(&self, key: &str, args: &[String]) -> String {
            let entry = self
                .entries
                .get(&key.to_ascii_lowercase())
                .unwrap_or_else(|| panic!("no message {key:?} in the locale"));
            let arity = self.arity(key).unwrap_or(0);
            assert_eq!(
                args.len(),
                arity,
                "{key} takes {arity} arguments, got {args:?}"
            );
            substitute(entry, args)
        }
    }

    pub fn english() -> &'static Messages {
        static EN_MESSAGES: OnceLock<Messages> = OnceLock::new();
        EN_MESSAGES.get_or_init(|| Messages::parse(EN))
    }

    pub fn korean() -> &'static Messages {
        static KO_MESSAGES: OnceLock<Messages> = OnceLock::new();
        KO_MESSAGES.get_or_init(|| Messages::parse(KO))
    }

    /// Shows `⟦key|arg|...⟧` instead of words (arguments as given), checking arity against
    /// the English file: a test rendering through it can tell the catalogue's words from
    /// words written into the code.
    pub struct Keys;

    impl Catalogue for Keys {
        fn message(&self, key: &str, args: &[String]) -> String {
            let arity = english()
                .arity(key)
                .unwrap_or_else(|| panic!("no message {key:?} in the locale"));
            assert_eq!(args.len(), arity, "{key} takes {arity} arguments");
            let mut out = format!("⟦{key}");
            for a in args {
                out.push('|');
                out.push_str(a);
            }
            out.push('⟧');
            out
        }
    }

    /// What is left of `shown` once every `⟦...⟧` is taken out (nested ones included).
    pub fn outside_keys(shown: &str) -> String {
        let mut depth = 0usize;
        let mut out = String::new();
        for c in shown.chars() {
            match c {
                '⟦' => depth += 1,
                '⟧' => depth = depth.saturating_sub(1),
                c if depth == 0 => out.push(c),
                _ => {}
            }
        }
        out
    }
}
