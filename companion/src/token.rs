//! The Argo CD bearer token as a redacting newtype: its `Debug` and `Display` print `****`,
//! so no log line, error message, panic or JSON output can carry it by accident. The only
//! way to the secret is [`Token::expose`], called where the `Authorization` header is built.
//! [`redact`] is the one function that takes credentials out of a server's words before they
//! become part of an error (a server or proxy may echo the request's `Authorization` header).

use std::fmt;
use std::sync::OnceLock;

use regex::Regex;

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

/// What replaces a credential in a server's words.
const REDACTED: &str = "****";

/// `text` written by a server (an error body, an in-stream error, a JSON error's quote of a
/// value) without anything that may be a credential: `token` itself (also when the text
/// was cut off inside it), any `Bearer <credential>`, and anything shaped like a JWT. Call
/// it on the whole text before it is shortened, wherever a server's text enters an error.
pub fn redact(text: &str, token: Option<&Token>) -> String {
    static BEARER: OnceLock<Regex> = OnceLock::new();
    static JWT: OnceLock<Regex> = OnceLock::new();
    let mut out = text.to_owned();
    if let Some(Token(secret)) = token {
        out = out.replace(secret.as_str(), REDACTED);
        // A body read up to a cap may end inside the token.
        if let Some(k) = (4..secret.len())
            .rev()
            .find(|&k| secret.is_char_boundary(k) && out.ends_with(&secret[..k]))
        {
            out.truncate(out.len() - k);
            out.push_str(REDACTED);
        }
    }
    // RFC 6750 b64token characters: a credential ends at the first other one (a quote, a
    // comma), so the JSON around it stays JSON.
    let bearer = BEARER.get_or_init(|| {
        Regex::new(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+").expect("a valid regex")
    });
    out = bearer.replace_all(&out, "${1} ****").into_owned();
    // A JWT's header is base64url JSON, so it starts with `eyJ` (`{"`); cut-off ones too.
    let jwt = JWT.get_or_init(|| {
        Regex::new(r"eyJ[A-Za-z0-9_-]{6,}(\.[A-Za-z0-9_-]*){0,2}").expect("a valid regex")
    });
    jwt.replace_all(&out, REDACTED).into_owned()
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

    /// Finding 2: a server that echoes the request's `Authorization` header (or any other
    /// credential) into its error body must not put it into the error.
    #[test]
    fn credentials_in_a_servers_words_are_redacted() {
        let t = Token::new("s3cr3t-value-1234").unwrap();
        // Built from its parts, so no token-shaped literal is committed.
        let jwt = {
            use base64::Engine as _;
            let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
            format!(
                "{}.{}.{}",
                b64(r#"{"alg":"HS256"}"#),
                b64(r#"{"sub":"admin"}"#),
                b64("signature-bytes")
            )
        };
        for (said, want) in [
            (
                "token s3cr3t-value-1234 is expired",
                "token **** is expired",
            ),
            (
                "Authorization: Bearer s3cr3t-value-1234",
                "Authorization: Bearer ****",
            ),
            (
                "authorization: bearer other-token.x/y=",
                "authorization: bearer ****",
            ),
            (
                r#"{"message":"bad header Basic dXNlcjpwYXNz"}"#,
                r#"{"message":"bad header Basic ****"}"#,
            ),
            (
                &format!("invalid session {jwt}, log in"),
                "invalid session ****, log in",
            ),
            ("cut off at the cap: s3cr3t-val", "cut off at the cap: ****"),
            (
                "nothing secret here: 401 Unauthorized",
                "nothing secret here: 401 Unauthorized",
            ),
        ] {
            assert_eq!(redact(said, Some(&t)), want, "{said}");
        }
        // A JWT of another user is redacted without knowing any token.
        assert_eq!(redact(&jwt, None), "****");
    }
}
