//! The one routing policy: every check on what may be put into a browser (cookie names and
//! values, request header names and values, the hosts a route applies to, and how much of
//! each one route or preview may hold), shared so the companion (which refuses a route when
//! it derives it) and the extension (which refuses it again before touching the browser)
//! give the same verdict on the same input. Each check returns the reason for a refusal;
//! callers add where the value came from and how to fix it.
//!
//! Public suffixes are the one place where the two sides may differ, and only by the list
//! they pass in ([`Suffixes`]): the companion checks against the whole Public Suffix List
//! (the `psl` crate), the extension against [`PUBLIC_SUFFIXES`], a subset, because the whole
//! list compiles to more wasm than the extension's size budget allows.

use std::collections::HashSet;

use crate::{Route, RouteKind};

/// Browsers keep at most 4096 bytes of name plus value per cookie (RFC 6265 §6.1 minimum,
/// and what Chrome and Firefox enforce).
pub const MAX_COOKIE_LEN: usize = 4096;

/// Longest routing cookie or header name: far beyond any real one, short enough to show.
pub const MAX_NAME_LEN: usize = 256;

/// Longest DNS name in presentation form, without the trailing dot (RFC 1035 §2.3.4).
const MAX_HOST_LEN: usize = 253;

/// Most hosts one route may apply to. Real routes name a handful; the cap keeps a hostile
/// annotation from making every check, permission prompt and rule huge.
pub const MAX_HOSTS_PER_ROUTE: usize = 64;

/// Most routes one preview may carry.
pub const MAX_ROUTES_PER_PREVIEW: usize = 16;

/// Largest preview as JSON: a preview over it is sent without its routes, marked unroutable,
/// so one hostile Application cannot crowd the others out of a 1 MiB frame.
pub const MAX_PREVIEW_BYTES: usize = 64 * 1024;

/// Cookie name prefixes that browsers reserve for cookies with special attributes
/// (RFC 6265bis §4.1.3); a routing cookie never needs them, and a route named like one would
/// touch a site's most protected cookies. Browsers compare them case-insensitively.
const RESERVED_COOKIE_PREFIXES: &[&str] = &["__host-", "__secure-", "__http-", "__host-http-"];

/// Where a routing cookie or tab rule would reach many unrelated sites.
pub trait Suffixes {
    /// Whether `host` (lower-case, validated) is itself a public suffix.
    fn is_public_suffix(&self, host: &str) -> bool;
}

/// Registrable suffixes shared by unrelated sites: the subset of the Public Suffix List the
/// extension checks (the ones a preview's hosts are plausibly mistyped as). The companion
/// checks the whole list; the shared corpus test (`protocol/tests/policy_corpus.json`) marks
/// the cases where the two differ.
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
    "s3.amazonaws.com",
];

/// [`PUBLIC_SUFFIXES`] as a [`Suffixes`].
#[derive(Debug, Clone, Copy, Default)]
pub struct KnownSuffixes;

impl Suffixes for KnownSuffixes {
    fn is_public_suffix(&self, host: &str) -> bool {
        PUBLIC_SUFFIXES.contains(&host)
    }
}

/// Shows input inside a message: quoted, control characters escaped, and cut short so a
/// hostile megabyte-long annotation cannot flood a terminal or the popup.
pub fn quoted(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head:?}... ({} bytes)", s.len())
    }
}

/// A cookie name: a non-empty RFC 6265 token (visible ASCII except separators), at most
/// [`MAX_NAME_LEN`] bytes, without a prefix browsers reserve (`__Host-`, `__Secure-`).
pub fn check_cookie_name(name: &str) -> Result<(), String> {
    check_token(name, "cookie name")?;
    let lower = name.to_ascii_lowercase();
    if let Some(prefix) = RESERVED_COOKIE_PREFIXES
        .iter()
        .find(|p| lower.starts_with(*p))
    {
        return Err(format!(
            "cookie name {} starts with {:?}, a prefix browsers reserve for a site's protected cookies: name the routing cookie without it",
            quoted(name),
            &name[..prefix.len()]
        ));
    }
    Ok(())
}

/// A cookie value: non-empty RFC 6265 cookie-octets. The optional surrounding double quotes
/// that RFC 6265 allows are refused too: the mesh regex compares the raw text, and a quoted
/// value is easy to get wrong on either side.
pub fn check_cookie_value(value: &str) -> Result<(), String> {
    if value.is_empty() {
        // The mesh matches `NAME=VALUE`; an empty value would route nothing.
        return Err("cookie value is empty".into());
    }
    if let Some(c) = value.chars().find(|&c| !is_cookie_octet(c)) {
        return Err(format!(
            "cookie value {} contains {}",
            quoted(value),
            describe(c, "value")
        ));
    }
    Ok(())
}

/// A cookie's name, value and their combined length.
pub fn check_cookie(name: &str, value: &str) -> Result<(), String> {
    check_cookie_name(name)?;
    check_cookie_value(value)?;
    let len = name.len() + value.len();
    if len > MAX_COOKIE_LEN {
        return Err(format!(
            "cookie {} is {len} bytes of name and value, more than the {MAX_COOKIE_LEN} browsers keep",
            quoted(name)
        ));
    }
    Ok(())
}

/// Header names that change how a site or a proxy in front of it reads the request (its
/// host, client address, scheme, URL or method) or that carry a credential. Each would let
/// a route impersonate or attack the site; none is a routing header.
const DANGEROUS_HEADERS: &[&str] = &[
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-server",
    "x-forwarded-ssl",
    "x-forwarded-scheme",
    "x-forwarded-uri",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-access-token",
    "x-original-url",
    "x-original-uri",
    "x-original-host",
    "x-original-method",
    "x-original-forwarded-for",
    "x-rewrite-url",
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-csrf-token",
    "x-csrftoken",
    "x-xsrf-token",
    "x-requested-with",
    "x-real-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "x-host",
    "x-remote-user",
    "x-remote-addr",
    "x-user",
    "x-email",
    "x-webauth-user",
    "x-api-key",
    "x-auth-token",
    "x-access-token",
    "x-amz-security-token",
];

/// Words that make an `x-` header a credential or identity header whatever its exact name
/// (`x-auth-request-user`, `x-goog-iap-jwt-assertion`, `x-session-id`).
const DANGEROUS_WORDS: &[&str] = &[
    "auth",
    "token",
    "csrf",
    "xsrf",
    "secret",
    "session",
    "cookie",
    "password",
    "signature",
    "jwt",
    "forwarded",
    "override",
];

/// Headers outside `x-*` that routing resources use: W3C Baggage carries per-request routing
/// keys through Istio and Linkerd meshes; the others are the header matches of the Gateway
/// API's and Istio's own routing guides (`version: v2`, `env: canary`, `end-user: jason`),
/// which routes copy. None is a credential or a header a browser or proxy acts on.
const ALLOWED_HEADERS: &[&str] = &["baggage", "version", "env", "canary", "color", "end-user"];

/// A header route's name. An allow-list: `x-*` names (minus [`DANGEROUS_HEADERS`] and names
/// holding a [`DANGEROUS_WORDS`] word) and [`ALLOWED_HEADERS`]. A tab rule `set`s the header on every
/// request, so anything else could overwrite the site's credentials (Cookie, Authorization),
/// a header the browser owns (the Fetch spec's forbidden request headers) or one that changes
/// how the site reads the request (X-Forwarded-Host, X-HTTP-Method-Override, ...).
pub fn check_header_name(name: &str) -> Result<(), String> {
    check_token(name, "header name")?;
    let lower = name.to_ascii_lowercase();
    let q = quoted(name);
    if DANGEROUS_HEADERS.contains(&lower.as_str()) {
        return Err(format!(
            "header {q} changes how the site reads the request or carries a credential: route by a cookie or an x- header of your own"
        ));
    }
    if lower.starts_with("x-") && lower.len() > 2 {
        return match DANGEROUS_WORDS.iter().find(|w| lower.contains(*w)) {
            Some(word) => Err(format!(
                "header {q} holds {word:?}, which marks a credential or a proxy header: route by a cookie or an x- header of your own"
            )),
            None => Ok(()),
        };
    }
    if ALLOWED_HEADERS.contains(&lower.as_str()) {
        return Ok(());
    }
    Err(format!(
        "header {q} is not a routing header (only x-* headers, {} may carry a route; others hold the site's credentials or belong to the browser): route by a cookie or an x- header of your own",
        ALLOWED_HEADERS.join(", ")
    ))
}

/// A header route's value: the same characters as a cookie value (no controls, spaces,
/// quotes, commas or semicolons), so it can never end the header or start another.
pub fn check_header_value(value: &str) -> Result<(), String> {
    check_cookie_value(value).map_err(|why| why.replacen("cookie value", "header value", 1))?;
    if value.len() > MAX_COOKIE_LEN {
        return Err(format!(
            "header value is {} bytes, more than {MAX_COOKIE_LEN}",
            value.len()
        ));
    }
    Ok(())
}

/// One host a route applies to, returned normalised (trimmed, lower-case): an exact DNS
/// name, `localhost`, or a single dotted-quad IPv4 address. Refuses wildcards, public
/// suffixes (by `suffixes`), bare top-level names, address ranges, anything a browser would
/// read as an IPv4 address in another notation (`0x7f.1`, `127.1`), IPv6 literals (a tab
/// rule's request domains and regex cannot hold one), schemes, ports and paths.
pub fn check_host(raw: &str, suffixes: &dyn Suffixes) -> Result<String, String> {
    let host = raw.trim();
    let q = quoted(raw);
    if host.is_empty() {
        return Err("host is empty".into());
    }
    if let Some(c) = host.chars().find(|c| !c.is_ascii()) {
        return Err(format!(
            "host {q} contains the non-ASCII character {c:?}: give its punycode form (xn--...)"
        ));
    }
    if let Some(c) = host.chars().find(|c| c.is_ascii_control() || *c == ' ') {
        return Err(format!("host {q} contains {}", describe(c, "host")));
    }
    if let Some((scheme, rest)) = host.split_once("://") {
        let bare = rest.split(['/', ':', '?', '#']).next().unwrap_or_default();
        return Err(format!(
            "host {q} is a URL with scheme {scheme:?}: give only the host name, e.g. {bare:?}"
        ));
    }
    if host.contains('*') {
        return Err(format!(
            "host {q} contains a wildcard: list each exact host name instead"
        ));
    }
    if let Some((before, _)) = host.split_once('/') {
        if before
            .chars()
            .all(|c| c.is_ascii_hexdigit() || ".:[]".contains(c))
        {
            return Err(format!(
                "host {q} is an address range: give single host names or addresses"
            ));
        }
        return Err(format!(
            "host {q} contains a path: give only the host name, e.g. {before:?}"
        ));
    }
    if host.starts_with('[') || host.matches(':').count() >= 2 {
        return Err(format!(
            "host {q} is an IPv6 address, which a tab rule cannot match: give a host name (e.g. localhost) instead"
        ));
    }
    if let Some((name, port)) = host.rsplit_once(':') {
        return Err(format!(
            "host {q} contains a port {port:?}: drop it, cookies apply to every port, e.g. {name:?}"
        ));
    }
    let host = host.to_ascii_lowercase();
    if host.ends_with('.') {
        return Err(format!("host {q} ends with a dot: drop the trailing dot"));
    }
    if host.len() > MAX_HOST_LEN {
        return Err(format!(
            "host {q} is longer than the {MAX_HOST_LEN} characters a DNS name may have"
        ));
    }
    let labels: Vec<&str> = host.split('.').collect();
    for label in &labels {
        check_label(label).map_err(|why| format!("host {q} {why}"))?;
    }
    // The URL standard reads a host whose last label is a number (decimal, or hex with 0x)
    // as an IPv4 address in any of its notations: only the plain dotted quad is accepted.
    if labels.last().is_some_and(|l| is_ipv4_number(l)) {
        return if is_dotted_quad(&labels) {
            Ok(host)
        } else {
            Err(format!(
                "host {q} is read by browsers as an IP address but is not a single dotted-quad IPv4 address (ranges and other notations are not allowed)"
            ))
        };
    }
    if labels.len() == 1 && host != "localhost" {
        return Err(format!(
            "host {q} is a bare top-level name: give the full host name, e.g. courses.example.com"
        ));
    }
    if suffixes.is_public_suffix(&host) {
        return Err(format!(
            "host {q} is a public suffix shared by many sites: give the full host name under it"
        ));
    }
    Ok(host)
}

/// A whole route, as the extension is about to apply it and the companion about to list it:
/// its name and value by kind, at least one and at most [`MAX_HOSTS_PER_ROUTE`] hosts, each
/// checked. Returns the route with its hosts normalised and de-duplicated.
pub fn check_route(route: &Route, suffixes: &dyn Suffixes) -> Result<Route, String> {
    match route.kind {
        RouteKind::Cookie => check_cookie(&route.name, &route.value)?,
        RouteKind::Header => {
            check_header_name(&route.name)?;
            check_header_value(&route.value)?;
        }
    }
    let name = quoted(&route.name);
    if route.hosts.is_empty() {
        return Err(format!("route {name} lists no hosts"));
    }
    let hosts = unique_hosts(route.hosts.iter().map(String::as_str), suffixes)?;
    Ok(Route {
        hosts,
        ..route.clone()
    })
}

/// Checks and de-duplicates hosts in order (a set, so a long list costs linear time), and
/// refuses more than [`MAX_HOSTS_PER_ROUTE`] distinct ones, stopping as soon as it knows.
pub fn unique_hosts<'a>(
    raw: impl IntoIterator<Item = &'a str>,
    suffixes: &dyn Suffixes,
) -> Result<Vec<String>, String> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for h in raw {
        let h = check_host(h, suffixes)?;
        if seen.insert(h.clone()) {
            out.push(h);
            if out.len() > MAX_HOSTS_PER_ROUTE {
                return Err(too_many_hosts());
            }
        }
    }
    Ok(out)
}

/// Why a route with too many hosts is refused.
pub fn too_many_hosts() -> String {
    format!(
        "the route lists more than {MAX_HOSTS_PER_ROUTE} hosts: list only the hosts people open in a browser"
    )
}

fn check_token(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if let Some(c) = name.chars().find(|&c| !is_token_char(c)) {
        return Err(format!(
            "{what} {} contains {}",
            quoted(name),
            describe(c, "name")
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "{what} {} is {} bytes long, more than {MAX_NAME_LEN}",
            quoted(name),
            name.len()
        ));
    }
    Ok(())
}

fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() {
        return Err("has an empty label (two dots in a row, or a leading dot)".into());
    }
    if label.len() > 63 {
        return Err(format!(
            "has a label longer than 63 characters: {}",
            quoted(label)
        ));
    }
    if let Some(c) = label
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
    {
        return Err(format!(
            "contains {c:?}: host names use only letters, digits, '-' and '.'"
        ));
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(format!(
            "has a label starting or ending with '-': {}",
            quoted(label)
        ));
    }
    Ok(())
}

/// The URL standard's "ends in a number": all decimal digits, or `0x` and hex digits.
fn is_ipv4_number(label: &str) -> bool {
    let hex = label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"));
    match hex {
        Some(h) => h.bytes().all(|b| b.is_ascii_hexdigit()),
        None => !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn is_dotted_quad(labels: &[&str]) -> bool {
    labels.len() == 4
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 3
                && l.bytes().all(|b| b.is_ascii_digit())
                && !(l.len() > 1 && l.starts_with('0'))
                && l.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// RFC 2616 token characters, which RFC 6265 uses for cookie names and RFC 7230 for
/// header names.
fn is_token_char(c: char) -> bool {
    c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?={}".contains(c)
}

/// RFC 6265 cookie-octet: visible ASCII except DQUOTE, comma, semicolon and backslash.
fn is_cookie_octet(c: char) -> bool {
    c.is_ascii_graphic() && !"\",;\\".contains(c)
}

/// Why a character is not allowed, in terms of what it would do.
fn describe(c: char, part: &str) -> String {
    match c {
        ';' => "';' which would end the cookie".into(),
        '=' => "'=' which would split the name from the value".into(),
        ' ' => "a space".into(),
        '\t' => "a tab".into(),
        '"' => "a double quote (quoted cookie values are not supported: remove the quotes)".into(),
        ',' => "',' which servers may read as a cookie separator".into(),
        c if c.is_control() => format!("a control character (U+{:04X})", c as u32),
        c if !c.is_ascii() => format!("the non-ASCII character {c:?}"),
        c => format!("{c:?} which RFC 6265 does not allow in a cookie {part}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_cookie_names_and_values_pass() {
        for (name, value) in [
            ("team-courses-fe-pr", "123"),
            ("svc_pr", "dev-1a2b3c4"),
            ("x.y", "a!#$%&'()*+-./:<=>?@[]^_`{|}~"),
        ] {
            assert_eq!(check_cookie(name, value), Ok(()), "{name}={value}");
        }
    }

    #[test]
    fn hostile_names_are_refused_with_the_reason() {
        let table: &[(&str, &str)] = &[
            ("", "cookie name is empty"),
            ("a;b", "contains ';' which would end the cookie"),
            (
                "x=1; Domain=evil.test",
                "contains '=' which would split the name from the value",
            ),
            ("team pr", "contains a space"),
            ("a\tb", "contains a tab"),
            ("a\nSet-Cookie", "contains a control character (U+000A)"),
            ("a\r\nb", "contains a control character (U+000D)"),
            ("\"quoted\"", "contains a double quote"),
            ("a,b", "contains ','"),
            ("na\u{ef}ve", "contains the non-ASCII character 'ï'"),
            (
                "a(b)",
                "contains '(' which RFC 6265 does not allow in a cookie name",
            ),
            ("path/x", "contains '/'"),
            ("a:b", "contains ':'"),
            ("{pr}", "contains '{'"),
            ("a\0b", "contains a control character (U+0000)"),
            (
                "__Host-x",
                "starts with \"__Host-\", a prefix browsers reserve",
            ),
            ("__secure-pr", "starts with \"__secure-\""),
        ];
        for (name, want) in table {
            let err = check_cookie_name(name).unwrap_err();
            assert!(err.contains(want), "{name:?}: {err}");
        }
    }

    #[test]
    fn hostile_values_are_refused_with_the_reason() {
        let table: &[(&str, &str)] = &[
            ("", "cookie value is empty"),
            (
                "1; Domain=evil.test",
                "contains ';' which would end the cookie",
            ),
            ("1 2", "contains a space"),
            ("\"123\"", "contains a double quote"),
            ("1,2", "contains ','"),
            (
                "a\\b",
                "contains '\\\\' which RFC 6265 does not allow in a cookie value",
            ),
            ("12\r\nX-Evil: 1", "control character (U+000D)"),
            ("\u{2028}", "non-ASCII"),
        ];
        for (value, want) in table {
            let err = check_cookie_value(value).unwrap_err();
            assert!(err.contains(want), "{value:?}: {err}");
        }
    }

    #[test]
    fn a_name_and_value_over_4096_bytes_are_refused() {
        let value = "1".repeat(MAX_COOKIE_LEN);
        let err = check_cookie("a", &value).unwrap_err();
        assert!(err.contains("4097 bytes"), "{err}");
        assert_eq!(check_cookie("a", &value[1..]), Ok(()));
    }

    #[test]
    fn long_hostile_input_is_cut_short_in_the_message() {
        let err = check_cookie_name(&format!("{};", "a".repeat(10_000))).unwrap_err();
        assert!(err.len() < 300, "{err}");
        assert!(err.contains("(10001 bytes)"), "{err}");
    }

    #[test]
    fn real_hosts_pass_normalised() {
        for (host, want) in [
            ("courses.example.com", "courses.example.com"),
            (" Courses.Example.COM ", "courses.example.com"),
            ("localhost", "localhost"),
            ("127.0.0.1", "127.0.0.1"),
            ("courses.dev.test", "courses.dev.test"),
            ("xn--bcher-kva.example", "xn--bcher-kva.example"),
            ("a1-b2.example.co.uk", "a1-b2.example.co.uk"),
            ("acme.github.io", "acme.github.io"),
        ] {
            assert_eq!(
                check_host(host, &KnownSuffixes).as_deref(),
                Ok(want),
                "{host}"
            );
        }
    }

    #[test]
    fn hostile_hosts_are_refused_with_the_reason() {
        let table: &[(&str, &str)] = &[
            ("", "host is empty"),
            ("*", "wildcard"),
            ("*.com", "wildcard"),
            ("*.example.com", "wildcard"),
            ("com", "bare top-level name"),
            ("test", "bare top-level name"),
            ("co.uk", "public suffix"),
            ("github.io", "public suffix"),
            ("10.0.0.0/8", "address range"),
            ("10.0.0.1-10.0.0.9", "not a single dotted-quad IPv4 address"),
            ("256.1.1.1", "not a single dotted-quad"),
            ("1.2.3", "not a single dotted-quad"),
            ("127.1", "not a single dotted-quad"),
            ("0x7f.1", "read by browsers as an IP address"),
            ("0x7f.0x1", "read by browsers as an IP address"),
            ("a.0x10", "read by browsers as an IP address"),
            ("010.0.0.1", "not a single dotted-quad"),
            ("2130706433", "read by browsers as an IP address"),
            ("::1", "IPv6"),
            ("[::1]", "IPv6"),
            ("[2001:db8::1]", "IPv6"),
            (
                "https://courses.example.com/x",
                "is a URL with scheme \"https\": give only the host name, e.g. \"courses.example.com\"",
            ),
            ("courses.example.com:8443", "contains a port \"8443\""),
            ("courses.example.com/app", "contains a path"),
            ("a..example.com", "empty label"),
            (".example.com", "empty label"),
            ("example.com.", "ends with a dot"),
            (
                "b\u{fc}cher.example",
                "non-ASCII character 'ü': give its punycode form",
            ),
            ("evil.test; Domain=x", "contains a space"),
            ("a_b.example.com", "contains '_'"),
            ("-a.example.com", "starting or ending with '-'"),
        ];
        for (host, want) in table {
            let err = check_host(host, &KnownSuffixes).unwrap_err();
            assert!(err.contains(want), "{host:?}: {err}");
        }
        let long = format!("{}.example.com", ["a"; 130].join("."));
        assert!(
            check_host(&long, &KnownSuffixes)
                .unwrap_err()
                .contains("253")
        );
    }

    #[test]
    fn routing_headers_pass_and_dangerous_ones_are_refused() {
        for name in ["x-preview", "X-Canary", "x-pr", "x-version", "baggage"] {
            assert_eq!(check_header_name(name), Ok(()), "{name}");
        }
        for name in [
            "Cookie",
            "authorization",
            "Sec-Fetch-Site",
            "Proxy-Authorization",
            "Host",
            "X-Forwarded-Host",
            "Forwarded",
            "x-auth-request-user",
            "X-Session-Id",
            "set-cookie",
            "x-",
        ] {
            assert!(check_header_name(name).is_err(), "{name} accepted");
        }
    }

    #[test]
    fn routes_over_the_host_cap_are_refused_and_hosts_are_deduplicated() {
        let route = |hosts: Vec<String>| Route {
            kind: RouteKind::Cookie,
            name: "team-x-pr".into(),
            value: "1".into(),
            hosts,
            source: crate::RouteSource::Annotation,
        };
        let twice = route(vec!["A.test".into(), "a.test".into(), "b.test".into()]);
        assert_eq!(
            check_route(&twice, &KnownSuffixes).unwrap().hosts,
            ["a.test", "b.test"]
        );
        let at_cap: Vec<String> = (0..MAX_HOSTS_PER_ROUTE)
            .map(|i| format!("h{i}.test"))
            .collect();
        assert!(check_route(&route(at_cap.clone()), &KnownSuffixes).is_ok());
        let mut over = at_cap;
        over.push("one-more.test".into());
        let err = check_route(&route(over), &KnownSuffixes).unwrap_err();
        assert!(err.contains("more than 64 hosts"), "{err}");
        assert!(
            check_route(&route(vec![]), &KnownSuffixes)
                .unwrap_err()
                .contains("no hosts")
        );
    }
}
