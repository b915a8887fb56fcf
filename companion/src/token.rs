//! The Argo CD bearer token as a redacting newtype: its `Debug` and `Display` print `****`,
//! so no log line, error message, panic or JSON output can carry it by accident. The only
//! way to the secret is [`Token::expose`], called where the `Authorization` header is built.

use std::fmt;

/// `Hash` lets a caller tell two tokens apart (the refresh cache) without reading one.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Token(String);

impl Token {
    /// Wraps a token, trimming the whitespace a file or command output usually ends with.
    /// Returns `None` for an empty token.
    pub fn new(raw: impl Into<String>) -> Option<Self> {
        let raw = raw.into();
        let trimmed = raw.trim();
        (!trimmed.is_empty()).then(|| Token(trimmed.to_owned()))
    }

    /// The secret itself. Call sites: building the `Authorization` header, nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(****)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("****")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_never_formats_its_secret() {
        let t = Token::new("  s3cr3t-value\n").unwrap();
        assert_eq!(t, Token("s3cr3t-value".to_owned()));
        assert!(!format!("{t} {t:?} {t:#?}").contains("s3cr3t"));
        assert!(Token::new(" \n").is_none());
    }
}
