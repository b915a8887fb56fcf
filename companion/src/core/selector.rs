//! Kubernetes label selectors (`type=pr`, `env in (dev,stage)`, `!legacy`, comma = AND).
//! The same string goes to Argo CD as `selector=`; the client also applies it to what comes
//! back, in case a server (or a proxy in front of it) ignored the parameter and sent every
//! Application.

use std::collections::BTreeMap;
use std::fmt;

use super::quoted;

const SYNTAX: &str = "valid forms are key=value, key==value, key!=value, key in (a,b), key notin (a,b), key and !key, joined by commas";

/// A parsed selector: every requirement must hold. The empty selector matches everything,
/// as in Kubernetes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

impl Selector {
    /// Parses a selector; the error names the bad part and shows the valid syntax.
    pub fn parse(s: &str) -> Result<Selector, String> {
        let fail = |why: String| format!("invalid label selector {}: {why}: {SYNTAX}", quoted(s));
        let mut requirements = Vec::new();
        if s.trim().is_empty() {
            return Ok(Selector { requirements });
        }
        for term in split_top_level(s).map_err(&fail)? {
            requirements.push(parse_term(term.trim()).map_err(&fail)?);
        }
        Ok(Selector { requirements })
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| {
            let v = labels.get(&r.key);
            match &r.op {
                Op::Eq(want) => v == Some(want),
                Op::NotEq(want) => v != Some(want),
                Op::In(set) => v.is_some_and(|v| set.contains(v)),
                Op::NotIn(set) => v.is_none_or(|v| !set.contains(v)),
                Op::Exists => v.is_some(),
                Op::NotExists => v.is_none(),
            }
        })
    }
}

impl fmt::Display for Selector {
    /// The canonical form, as sent to Argo CD.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let k = &r.key;
            match &r.op {
                Op::Eq(v) => write!(f, "{k}={v}")?,
                Op::NotEq(v) => write!(f, "{k}!={v}")?,
                Op::In(set) => write!(f, "{k} in ({})", set.join(","))?,
                Op::NotIn(set) => write!(f, "{k} notin ({})", set.join(","))?,
                Op::Exists => write!(f, "{k}")?,
                Op::NotExists => write!(f, "!{k}")?,
            }
        }
        Ok(())
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(s: &str) -> Result<Vec<&str>, String> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0u32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' if depth > 0 => return Err("nested parentheses".into()),
            '(' => depth += 1,
            ')' if depth == 0 => return Err("')' without '('".into()),
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth > 0 {
        return Err("'(' without ')'".into());
    }
    terms.push(&s[start..]);
    Ok(terms)
}

fn parse_term(term: &str) -> Result<Requirement, String> {
    if term.is_empty() {
        return Err("empty requirement (two commas in a row, or a trailing comma)".into());
    }
    if let Some(key) = term.strip_prefix('!') {
        if key.contains('=') {
            return Err(format!("{} mixes '!' and '='", quoted(term)));
        }
        return Ok(Requirement {
            key: key_of(key.trim())?,
            op: Op::NotExists,
        });
    }
    for (sep, eq) in [("!=", false), ("==", true), ("=", true)] {
        if let Some((k, v)) = term.split_once(sep) {
            let key = key_of(k.trim())?;
            let value = value_of(v.trim())?;
            let op = if eq { Op::Eq(value) } else { Op::NotEq(value) };
            return Ok(Requirement { key, op });
        }
    }
    if let Some(open) = term.find('(') {
        let head = &term[..open];
        let mut words = head.split_whitespace();
        let (Some(k), Some(word), None) = (words.next(), words.next(), words.next()) else {
            return Err(format!(
                "expected `key in (...)` or `key notin (...)` in {}",
                quoted(term)
            ));
        };
        let Some(list) = term[open + 1..].strip_suffix(')') else {
            return Err(format!("text after ')' in {}", quoted(term)));
        };
        let values = list
            .split(',')
            .map(|v| value_of(v.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        let key = key_of(k)?;
        let op = match word {
            "in" => Op::In(values),
            "notin" => Op::NotIn(values),
            other => return Err(format!("unknown operator {}", quoted(other))),
        };
        return Ok(Requirement { key, op });
    }
    Ok(Requirement {
        key: key_of(term)?,
        op: Op::Exists,
    })
}

/// A label key: optional DNS-subdomain prefix and `/`, then a name of at most 63 characters.
fn key_of(k: &str) -> Result<String, String> {
    let (prefix, name) = match k.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    if let Some(p) = prefix {
        let ok = !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            });
        if !ok {
            return Err(format!(
                "label key prefix {} is not a DNS subdomain",
                quoted(p)
            ));
        }
    }
    if name.is_empty() {
        return Err(format!("missing label key in {}", quoted(k)));
    }
    check_name(name).map_err(|why| format!("label key {} {why}", quoted(k)))?;
    Ok(k.to_string())
}

/// A label value: empty, or like a key's name part.
fn value_of(v: &str) -> Result<String, String> {
    if !v.is_empty() {
        check_name(v).map_err(|why| format!("label value {} {why}", quoted(v)))?;
    }
    Ok(v.to_string())
}

fn check_name(s: &str) -> Result<(), String> {
    if s.len() > 63 {
        return Err("is longer than 63 characters".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_.".contains(*c)))
    {
        return Err(format!("contains {c:?}"));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(s.chars().next()) || !alnum(s.chars().last()) {
        return Err("must start and end with a letter or digit".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_operator_matches_like_kubernetes() {
        let pr = labels(&[("type", "pr"), ("team", "courses")]);
        let base = labels(&[("team", "courses")]);
        let table: &[(&str, bool, bool)] = &[
            // selector, matches the preview, matches the base app
            ("type=pr", true, false),
            ("type==pr", true, false),
            ("type!=pr", false, true),
            ("type in (pr, preview)", true, false),
            ("type notin (pr)", false, true),
            ("type", true, false),
            ("!type", false, true),
            ("type=pr,team=courses", true, false),
            ("type=pr,team=other", false, false),
            ("team in (courses),!legacy", true, true),
            ("example.com/type=pr", false, false),
            ("", true, true),
        ];
        for (s, want_pr, want_base) in table {
            let sel = Selector::parse(s).unwrap();
            assert_eq!(sel.matches(&pr), *want_pr, "{s} on preview");
            assert_eq!(sel.matches(&base), *want_base, "{s} on base");
        }
    }

    #[test]
    fn canonical_form_round_trips() {
        let sel = Selector::parse(" type == pr , env in (dev,stage),!legacy ").unwrap();
        assert_eq!(sel.to_string(), "type=pr,env in (dev,stage),!legacy");
        assert_eq!(Selector::parse(&sel.to_string()).unwrap(), sel);
    }

    #[test]
    fn bad_selectors_say_what_is_wrong_and_show_the_syntax() {
        let table: &[(&str, &str)] = &[
            ("type=pr,", "empty requirement"),
            ("type in (pr", "'(' without ')'"),
            ("type in pr)", "')' without '('"),
            ("type within (pr)", "unknown operator \"within\""),
            ("type=p r", "contains ' '"),
            ("ty pe", "contains ' '"),
            ("=pr", "missing label key"),
            ("type=-pr", "must start and end with a letter or digit"),
            ("Bad_Prefix/type=pr", "is not a DNS subdomain"),
            ("!type=pr", "mixes '!' and '='"),
            ("type in ((a))", "nested parentheses"),
            ("type in (a) x", "text after ')'"),
        ];
        for (s, want) in table {
            let err = Selector::parse(s).unwrap_err();
            assert!(err.contains(want), "{s:?}: {err}");
            assert!(err.contains("valid forms are key=value"), "{err}");
        }
    }
}
