//! The policy's part for share links and response markers: the query parameter a share link
//! carries (`?preview-switch=courses-fe:123`), how its value names a service and a pull
//! request, and which response headers may serve as a preview's marker. A share link only
//! *names* a preview: the extension looks the route up in the companion's list, so a link
//! can never supply a cookie name, value or host (`protocol::policy` says what those may be).

use super::{MAX_NAME_LEN, check_header_value, check_token, quoted};

/// The share link's query parameter unless the cluster rule or the user's setting names
/// another.
pub const DEFAULT_SHARE_PARAM: &str = "preview-switch";

/// Longest share parameter name.
const MAX_PARAM_LEN: usize = 64;

/// Longest service name a share link may name: a Kubernetes label value's limit.
const MAX_SERVICE_LEN: usize = 63;

/// Response headers that carry credentials or set state: a marker is read and compared by
/// the extension, so it must never be one of these.
const NOT_MARKERS: &[&str] = &[
    "set-cookie",
    "set-cookie2",
    "cookie",
    "authorization",
    "proxy-authorization",
    "www-authenticate",
    "proxy-authenticate",
];

/// A share parameter name: 1 to 64 of `A-Z a-z 0-9 . _ -`, which need no escaping in a URL.
pub fn check_share_param(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("share parameter name is empty".into());
    }
    if name.len() > MAX_PARAM_LEN {
        return Err(format!(
            "share parameter name {} is {} bytes long, more than {MAX_PARAM_LEN}",
            quoted(name),
            name.len()
        ));
    }
    if let Some(c) = name.chars().find(|c| !is_url_safe(*c)) {
        return Err(format!(
            "share parameter name {} contains {c:?}: use only letters, digits, '.', '_' and '-'",
            quoted(name)
        ));
    }
    Ok(())
}

fn is_url_safe(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// A service name a share link may carry: what [`check_share_param`] allows, at most 63
/// bytes (a Kubernetes label value), not empty.
fn check_service(service: &str) -> Result<(), String> {
    if service.is_empty() {
        return Err("names no service".into());
    }
    if service.len() > MAX_SERVICE_LEN {
        return Err(format!(
            "names the service {} of {} bytes, more than {MAX_SERVICE_LEN}",
            quoted(service),
            service.len()
        ));
    }
    if let Some(c) = service.chars().find(|c| !is_url_safe(*c)) {
        return Err(format!(
            "names the service {} holding {c:?}, which no service name has",
            quoted(service)
        ));
    }
    Ok(())
}

/// The value a share link carries for `service`'s pull request `pr`: `service:pr`. `None`
/// when the service name is not one a link can carry.
pub fn share_value(service: &str, pr: u64) -> Option<String> {
    check_service(service).ok()?;
    Some(format!("{service}:{pr}"))
}

/// Reads a share link's value, `service:pr` (the `:` may arrive percent-encoded as `%3A`),
/// into the service and the pull-request number; anything else is refused with the reason.
pub fn parse_share_value(raw: &str) -> Result<(String, u64), String> {
    let value = raw.replace("%3A", ":").replace("%3a", ":");
    let q = quoted(raw);
    let (service, pr) = value
        .rsplit_once(':')
        .ok_or_else(|| format!("share link value {q} is not of the form SERVICE:PR"))?;
    check_service(service).map_err(|why| format!("share link value {q} {why}"))?;
    if pr.is_empty() || !pr.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "share link value {q} has no pull-request number after ':'"
        ));
    }
    let pr = pr
        .parse::<u64>()
        .map_err(|_| format!("share link value {q} has a pull-request number out of range"))?;
    Ok((service.to_string(), pr))
}

/// `url` with `param=value` as its share parameter: any earlier value of `param` is
/// replaced, the other query parameters and the fragment stay. The value is written as is
/// (what [`share_value`] makes needs no escaping), so the cluster rule's exact match sees it.
pub fn with_share_param(url: &str, param: &str, value: &str) -> String {
    let (rest, fragment) = match url.split_once('#') {
        Some((r, f)) => (r, Some(f)),
        None => (url, None),
    };
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, q),
        None => (rest, ""),
    };
    let mut kept: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some(param))
        .collect();
    let pair = format!("{param}={value}");
    kept.push(&pair);
    let mut out = format!("{base}?{}", kept.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// The share link value a page's `url` carries under any of `params`: the first one
/// present, raw (see [`parse_share_value`]).
pub fn share_param_in<'a>(url: &'a str, params: &[&str]) -> Option<(String, &'a str)> {
    let query = url.split('#').next()?.split_once('?')?.1;
    params.iter().find_map(|p| {
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == *p).then(|| (k.to_string(), v))
        })
    })
}

/// A preview's marker: an HTTP token name (returned lower-cased) that is no credential or
/// state header, and a value a header can carry.
pub fn check_marker(header: &str, value: &str) -> Result<String, String> {
    check_token(header, "marker header name")?;
    let lower = header.to_ascii_lowercase();
    if NOT_MARKERS.contains(&lower.as_str()) {
        return Err(format!(
            "marker header {} carries credentials or sets state: mark the preview's responses with a header of your own, e.g. x-preview-pr",
            quoted(header)
        ));
    }
    check_header_value(value).map_err(|why| format!("marker {why}"))?;
    if lower.len() > MAX_NAME_LEN {
        return Err(format!("marker header name is longer than {MAX_NAME_LEN}"));
    }
    Ok(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_value_names_a_service_and_a_pull_request() {
        assert_eq!(
            share_value("courses-fe", 123).as_deref(),
            Some("courses-fe:123")
        );
        assert_eq!(
            parse_share_value("courses-fe:123"),
            Ok(("courses-fe".into(), 123))
        );
        // Messengers and browsers may encode the colon.
        assert_eq!(
            parse_share_value("courses-fe%3A123"),
            Ok(("courses-fe".into(), 123))
        );
        assert_eq!(share_value("a b", 1), None);
    }

    #[test]
    fn a_share_value_that_could_name_anything_else_is_refused_with_the_reason() {
        let table = [
            ("courses-fe", "not of the form SERVICE:PR"),
            (":123", "names no service"),
            ("courses-fe:", "no pull-request number"),
            ("courses-fe:12a", "no pull-request number"),
            ("courses-fe:-1", "no pull-request number"),
            ("courses-fe:+1", "no pull-request number"),
            ("courses-fe:99999999999999999999", "out of range"),
            ("a;b:1", "holding ';'"),
            ("team-courses-fe-pr=1;evil:2", "holding '='"),
            ("evil.test/x:1", "holding '/'"),
        ];
        for (raw, want) in table {
            let err = parse_share_value(raw).unwrap_err();
            assert!(err.contains(want), "{raw}: {err}");
        }
        let long = format!("{}:1", "a".repeat(64));
        assert!(
            parse_share_value(&long)
                .unwrap_err()
                .contains("more than 63")
        );
    }

    #[test]
    fn a_link_carries_the_share_parameter_once_beside_the_pages_own() {
        let v = "courses-fe:123";
        let p = DEFAULT_SHARE_PARAM;
        for (url, want) in [
            (
                "https://a.test/",
                "https://a.test/?preview-switch=courses-fe:123",
            ),
            (
                "https://a.test/c?x=1#top",
                "https://a.test/c?x=1&preview-switch=courses-fe:123#top",
            ),
            (
                "https://a.test/?preview-switch=other:1&x=2",
                "https://a.test/?x=2&preview-switch=courses-fe:123",
            ),
            (
                "http://a.test:8080/p?",
                "http://a.test:8080/p?preview-switch=courses-fe:123",
            ),
        ] {
            assert_eq!(with_share_param(url, p, v), want, "{url}");
        }
        let link = with_share_param("https://a.test/c?x=1#f", p, v);
        assert_eq!(
            share_param_in(&link, &["other", p]),
            Some((p.to_string(), v))
        );
        assert_eq!(
            share_param_in("https://a.test/#?preview-switch=a:1", &[p]),
            None
        );
        assert_eq!(
            share_param_in("https://a.test/?preview-switchx=a:1", &[p]),
            None
        );
    }

    #[test]
    fn share_parameter_names_need_no_escaping() {
        assert_eq!(check_share_param(DEFAULT_SHARE_PARAM), Ok(()));
        assert_eq!(check_share_param("ps_link.v2"), Ok(()));
        for (name, want) in [
            ("", "is empty"),
            ("a=b", "contains '='"),
            ("a&b", "contains '&'"),
            ("a b", "contains ' '"),
            ("ü", "contains 'ü'"),
        ] {
            let err = check_share_param(name).unwrap_err();
            assert!(err.contains(want), "{name:?}: {err}");
        }
        assert!(
            check_share_param(&"p".repeat(65))
                .unwrap_err()
                .contains("more than 64")
        );
    }

    #[test]
    fn a_marker_is_a_header_of_its_own_never_a_credential() {
        assert_eq!(
            check_marker("X-Preview-PR", "123"),
            Ok("x-preview-pr".into())
        );
        for (header, value, want) in [
            ("Set-Cookie", "a=1", "carries credentials or sets state"),
            ("authorization", "Bearer x", "carries credentials"),
            ("x-pr", "1 2", "contains a space"),
            ("x pr", "1", "contains a space"),
            ("", "1", "is empty"),
        ] {
            let err = check_marker(header, value).unwrap_err();
            assert!(err.contains(want), "{header}: {err}");
        }
    }
}
