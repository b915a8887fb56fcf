//! The companion's side of the one routing policy ([`protocol::policy`]): every cookie name,
//! value and host that ends up in a route passes these before it becomes a `Route`, checked
//! against the whole Public Suffix List (the `psl` crate; the extension checks a subset,
//! see `protocol::policy::PUBLIC_SUFFIXES`). Names, values and hosts come from annotations,
//! cluster objects and config files that someone else wrote, so each is refused with a
//! reason rather than passed on: a name like `x=1; Domain=evil.test` must never reach
//! `chrome.cookies.set`.
//!
//! The messages say what is wrong; callers add where the value came from and how to fix it.

use protocol::policy::{self, Suffixes};

/// The whole Public Suffix List, ICANN and private sections, as browsers use it.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicSuffixList;

impl Suffixes for PublicSuffixList {
    fn is_public_suffix(&self, host: &str) -> bool {
        // Only a listed rule counts: for a name under an unlisted top-level name the crate
        // answers with the implicit `*` rule, which `localhost` would match.
        psl::suffix(host.as_bytes())
            .is_some_and(|s| s.is_known() && s.as_bytes() == host.as_bytes())
    }
}

/// Checks name, value and their combined length ([`policy::check_cookie`]).
pub fn validate_pair(name: &str, value: &str) -> Result<(), String> {
    policy::check_cookie(name, value)
}

/// Checks one host a route applies to and returns it normalised ([`policy::check_host`]
/// with the whole Public Suffix List).
pub fn validate_host(raw: &str) -> Result<String, String> {
    policy::check_host(raw, &PublicSuffixList)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_public_suffix_list_is_refused_not_only_the_extensions_subset() {
        for suffix in [
            "co.uk",
            "github.io",
            "blogspot.com",
            "s3.amazonaws.com",
            "foo.kawasaki.jp",
            "com.ua",
        ] {
            let err = validate_host(suffix).unwrap_err();
            assert!(err.contains("public suffix"), "{suffix}: {err}");
        }
        for own in [
            "localhost",
            "acme.github.io",
            "courses.dev.test",
            "city.kawasaki.jp",
            "example.blogspot.com",
        ] {
            assert_eq!(validate_host(own).as_deref(), Ok(own), "{own}");
        }
    }

    /// The extension's subset must stay a subset: every entry is a real public suffix.
    #[test]
    fn every_suffix_the_extension_knows_is_on_the_public_suffix_list() {
        for suffix in policy::PUBLIC_SUFFIXES {
            assert!(
                PublicSuffixList.is_public_suffix(suffix),
                "{suffix} is not a public suffix"
            );
        }
    }
}
