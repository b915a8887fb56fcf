//! Fuzzes the mesh cookie-regex parser (`core::routes::parse_cookie_regex`): no panic, and
//! whatever it accepts is a valid RFC 6265 pair that the regex itself (compiled with the
//! `regex` crate, as Linkerd matches it) matches in a Cookie header.
#![no_main]

use companion::core::cookie::validate_pair;
use companion::core::routes::parse_cookie_regex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(pattern) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((name, value)) = parse_cookie_regex(pattern) else {
        return;
    };
    validate_pair(&name, &value).expect("an accepted pair is a valid cookie");
    let re = regex::Regex::new(pattern).expect("an accepted pattern is a valid regex");
    let header = format!("a=1; {name}={value}; z=2");
    assert!(re.is_match(&header), "{pattern} does not match {header}");
    assert!(re.is_match(&format!("{name}={value}")), "{pattern}");
});
