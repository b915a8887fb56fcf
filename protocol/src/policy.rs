//! What neither side may ever put into a browser, shared so the companion (which refuses it
//! when it derives a route) and the extension (which refuses it again before touching the
//! browser) cannot drift apart: hosts that are shared by many sites, and request headers
//! that carry a site's own credentials or belong to the browser.

/// Registrable suffixes shared by unrelated sites (a small, deliberate subset of the Public
/// Suffix List: the ones a preview's hosts are plausibly mistyped as). A cookie or a tab rule
/// for one of these would reach every site under it.
pub const PUBLIC_SUFFIXES: &[&str] = &[
    "co.uk",
    "org.uk",
    "ac.uk",
    "gov.uk",
    "com.au",
    "net.au",
    "org.au",
    "co.nz",
    "co.jp",
    "co.in",
    "co.za",
    "com.br",
    "com.cn",
    "com.mx",
    "com.tr",
    "github.io",
    "gitlab.io",
    "pages.dev",
    "workers.dev",
    "netlify.app",
    "vercel.app",
    "herokuapp.com",
    "appspot.com",
    "azurewebsites.net",
    "cloudfront.net",
    "amazonaws.com",
    "nip.io",
    "sslip.io",
];

/// Whether `host` (lower-case) is a bare top-level name or a listed public suffix: a place
/// where a routing cookie or rule would reach many unrelated sites. `localhost` is allowed.
pub fn is_shared_suffix(host: &str) -> bool {
    (!host.contains('.') && host != "localhost") || PUBLIC_SUFFIXES.contains(&host)
}

/// Whether a header route by `name` must be refused: a tab rule `set`s the header, which
/// would overwrite the site's credentials (Cookie, Authorization) or a header the browser owns
/// (the Fetch spec's forbidden request headers).
pub fn is_reserved_header(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "cookie",
        "authorization",
        "proxy-authorization",
        "host",
        "origin",
        "referer",
        "connection",
        "content-length",
        "transfer-encoding",
        "upgrade",
        "te",
        "keep-alive",
        "expect",
        "via",
        "dnt",
    ];
    let lower = name.to_ascii_lowercase();
    RESERVED.contains(&lower.as_str()) || lower.starts_with("sec-") || lower.starts_with("proxy-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_suffixes_and_bare_names_are_refused_but_real_hosts_pass() {
        for shared in ["com", "test", "co.uk", "github.io"] {
            assert!(is_shared_suffix(shared), "{shared}");
        }
        for own in [
            "localhost",
            "app.example.com",
            "acme.github.io",
            "courses.test",
        ] {
            assert!(!is_shared_suffix(own), "{own}");
        }
    }

    #[test]
    fn credential_and_browser_headers_are_reserved() {
        for name in [
            "Cookie",
            "authorization",
            "Sec-Fetch-Site",
            "Proxy-Foo",
            "Host",
        ] {
            assert!(is_reserved_header(name), "{name}");
        }
        for name in ["x-preview", "x-canary", "baggage"] {
            assert!(!is_reserved_header(name), "{name}");
        }
    }
}
