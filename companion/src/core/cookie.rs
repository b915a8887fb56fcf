//! RFC 6265 checks for everything that ends up in a browser cookie or request rule: the
//! cookie name (a token), the value (cookie-octets, unquoted), their length, and the hosts a
//! route applies to. Names, values and hosts come from annotations, cluster objects and config
//! files that someone else wrote, so each is refused with a reason rather than passed on:
//! a name like `x=1; Domain=evil.test` must never reach `chrome.cookies.set`.
//!
//! The messages say what is wrong; callers add where the value came from and how to fix it.

use super::quoted;

/// Browsers keep at most 4096 bytes of name plus value per cookie (RFC 6265 §6.1 minimum,
/// and what Chrome and Firefox enforce).
pub const MAX_COOKIE_LEN: usize = 4096;

/// Longest DNS name in presentation form, without the trailing dot (RFC 1035 §2.3.4).
const MAX_HOST_LEN: usize = 253;

/// Checks a cookie name: a non-empty RFC 6265 token (visible ASCII except separators).
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("cookie name is empty".into());
    }
    if let Some(c) = name.chars().find(|&c| !is_token_char(c)) {
        return Err(format!(
            "cookie name {} contains {}",
            quoted(name),
            describe(c, "name")
        ));
    }
    Ok(())
}

/// Checks a cookie value: non-empty RFC 6265 cookie-octets. The optional surrounding double
/// quotes that RFC 6265 allows are refused too: the mesh regex compares the raw text, and a
/// quoted value is easy to get wrong on either side.
pub fn validate_value(value: &str) -> Result<(), String> {
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

/// Checks name, value and their combined length.
pub fn validate_pair(name: &str, value: &str) -> Result<(), String> {
    validate_name(name)?;
    validate_value(value)?;
    let len = name.len() + value.len();
    if len > MAX_COOKIE_LEN {
        return Err(format!(
            "cookie {} is {len} bytes of name and value, more than the {MAX_COOKIE_LEN} browsers keep",
            quoted(name)
        ));
    }
    Ok(())
}

/// Checks one host a route applies to and returns it normalised (trimmed, lowercase; IPv6 in
/// brackets as in a URL). Accepts an exact DNS name or a single IP address; refuses
/// wildcards, public suffixes, address ranges, schemes, ports and paths, because the
/// extension sets cookies and per-tab rules for exactly these hosts.
pub fn validate_host(raw: &str) -> Result<String, String> {
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
    if let Some(v6) = ipv6(host) {
        return v6.map_err(|()| format!("host {q} is not a valid IPv6 address"));
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
    // A DNS top-level label is never all digits, so this is meant as an IPv4 address.
    if labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return if is_ipv4(&labels) {
            Ok(host)
        } else {
            Err(format!(
                "host {q} looks like an IP address but is not a single IPv4 address (ranges are not allowed)"
            ))
        };
    }
    // The same rule the extension applies again before it touches the browser.
    if protocol::policy::is_shared_suffix(&host) {
        return Err(if labels.len() == 1 {
            format!(
                "host {q} is a bare top-level name: give the full host name, e.g. courses.example.com"
            )
        } else {
            format!(
                "host {q} is a public suffix shared by many sites: give the full host name under it"
            )
        });
    }
    Ok(host)
}

/// `Some(Ok)` for a valid IPv6 literal (bracketed or not), `Some(Err)` for something that
/// only an IPv6 literal would look like, `None` otherwise.
fn ipv6(host: &str) -> Option<Result<String, ()>> {
    let inner = match host.strip_prefix('[') {
        Some(rest) => match rest.strip_suffix(']') {
            Some(inner) => inner,
            None => return Some(Err(())),
        },
        // Two colons cannot be a name with a port.
        None if host.matches(':').count() >= 2 => host,
        None => return None,
    };
    Some(match url::Host::parse(&format!("[{inner}]")) {
        Ok(url::Host::Ipv6(addr)) => Ok(format!("[{addr}]")),
        _ => Err(()),
    })
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

fn is_ipv4(labels: &[&str]) -> bool {
    labels.len() == 4
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 3
                && l.bytes().all(|b| b.is_ascii_digit())
                && !(l.len() > 1 && l.starts_with('0'))
                && l.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// RFC 2616 token characters, which RFC 6265 uses for cookie names.
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
            assert_eq!(validate_pair(name, value), Ok(()), "{name}={value}");
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
        ];
        for (name, want) in table {
            let err = validate_name(name).unwrap_err();
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
            let err = validate_value(value).unwrap_err();
            assert!(err.contains(want), "{value:?}: {err}");
        }
    }

    #[test]
    fn a_name_and_value_over_4096_bytes_are_refused() {
        let value = "1".repeat(MAX_COOKIE_LEN);
        let err = validate_pair("a", &value).unwrap_err();
        assert!(err.contains("4097 bytes"), "{err}");
        assert_eq!(validate_pair("a", &value[1..]), Ok(()));
    }

    #[test]
    fn long_hostile_input_is_cut_short_in_the_message() {
        let err = validate_name(&format!("{};", "a".repeat(10_000))).unwrap_err();
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
            ("::1", "[::1]"),
            ("[2001:DB8::1]", "[2001:db8::1]"),
            ("a1-b2.example.co.uk", "a1-b2.example.co.uk"),
        ] {
            assert_eq!(validate_host(host).as_deref(), Ok(want), "{host}");
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
            ("10.0.0.1-10.0.0.9", "not a single IPv4 address"),
            ("256.1.1.1", "not a single IPv4 address"),
            ("1.2.3", "not a single IPv4 address"),
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
            ("[::1", "not a valid IPv6 address"),
            ("fe80::1::2", "not a valid IPv6 address"),
        ];
        for (host, want) in table {
            let err = validate_host(host).unwrap_err();
            assert!(err.contains(want), "{host:?}: {err}");
        }
        let long = format!("{}.example.com", ["a"; 130].join("."));
        assert!(validate_host(&long).unwrap_err().contains("253"));
    }
}
