//! Kubernetes label selectors as the fake Argo CD evaluates `selector=`: `k=v`, `k==v`,
//! `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k` (exists) and `!k` (absent), comma-separated
//! and AND-ed. The semantics follow `k8s.io/apimachinery/pkg/labels`: `!=` and `notin`
//! also match objects that lack the key, which is the rule clients most often get wrong.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed selector; the empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// Parses a selector; the error text mirrors what Argo CD puts in its 500 body.
    pub fn parse(input: &str) -> Result<Selector, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(input)? {
            let part = part.trim();
            if part.is_empty() {
                if input.trim().is_empty() {
                    continue;
                }
                return Err(format!(
                    "found '', expected: identifier in selector {input:?}"
                ));
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(Selector { requirements })
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| {
            let value = labels.get(&r.key);
            match &r.op {
                Op::Eq(v) => value == Some(v),
                Op::NotEq(v) => value != Some(v),
                Op::In(vs) => value.is_some_and(|x| vs.contains(x)),
                Op::NotIn(vs) => value.is_none_or(|x| !vs.contains(x)),
                Op::Exists => value.is_some(),
                Op::DoesNotExist => value.is_none(),
            }
        })
    }
}

/// Splits on commas that are not inside a `(...)` value set.
fn split_top_level(input: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced ')' in selector {input:?}"))?;
            }
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unclosed '(' in selector {input:?}"));
    }
    parts.push(&input[start..]);
    Ok(parts)
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement {
            key: valid_key(key.trim())?,
            op: Op::DoesNotExist,
        });
    }
    if let Some((key, value)) = part.split_once("!=") {
        return Ok(Requirement {
            key: valid_key(key.trim())?,
            op: Op::NotEq(valid_value(value.trim())?),
        });
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement {
            key: valid_key(key.trim())?,
            op: Op::Eq(valid_value(value.trim())?),
        });
    }
    let words: Vec<&str> = part.splitn(3, char::is_whitespace).collect();
    match words.as_slice() {
        [key] => Ok(Requirement {
            key: valid_key(key)?,
            op: Op::Exists,
        }),
        [key, op, rest] if *op == "in" || *op == "notin" => {
            let set = rest
                .trim()
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| format!("expected '(' values ')' after {op} in {part:?}"))?;
            let values = set
                .split(',')
                .map(|v| valid_value(v.trim()))
                .collect::<Result<Vec<_>, _>>()?;
            let key = valid_key(key)?;
            Ok(Requirement {
                key,
                op: if *op == "in" {
                    Op::In(values)
                } else {
                    Op::NotIn(values)
                },
            })
        }
        _ => Err(format!("unable to parse requirement {part:?}")),
    }
}

fn valid_key(key: &str) -> Result<String, String> {
    let name = key.rsplit('/').next().unwrap_or(key);
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(key.to_owned())
    } else {
        Err(format!("invalid label key {key:?}"))
    }
}

fn valid_value(value: &str) -> Result<String, String> {
    let ok = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(format!("invalid label value {value:?}"))
    }
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

    fn sel(s: &str) -> Selector {
        Selector::parse(s).unwrap()
    }

    #[test]
    fn equality_forms_and_conjunction() {
        let pr = labels(&[("type", "pr"), ("team", "courses")]);
        assert!(sel("type=pr").matches(&pr));
        assert!(sel("type==pr").matches(&pr));
        assert!(sel("type=pr,team=courses").matches(&pr));
        assert!(!sel("type=pr,team=checkout").matches(&pr));
        assert!(sel("").matches(&pr));
    }

    #[test]
    fn negations_match_objects_without_the_key() {
        let none = labels(&[]);
        assert!(sel("type!=pr").matches(&none));
        assert!(sel("type notin (pr,base)").matches(&none));
        assert!(sel("!type").matches(&none));
        assert!(!sel("type").matches(&none));
        assert!(!sel("type in (pr)").matches(&none));
    }

    #[test]
    fn set_based_requirements() {
        let pr = labels(&[("type", "pr"), ("preview-switch.io/service", "courses-fe")]);
        assert!(sel("type in (pr, preview)").matches(&pr));
        assert!(!sel("type notin (pr,preview)").matches(&pr));
        assert!(sel("preview-switch.io/service in (courses-fe),type").matches(&pr));
    }

    #[test]
    fn malformed_selectors_are_refused() {
        assert!(Selector::parse("type in pr").is_err());
        assert!(Selector::parse("type=pr,").is_err());
        assert!(Selector::parse("type in (pr").is_err());
        assert!(Selector::parse("ty pe=pr").is_err());
    }
}
