//! Route source 3: the config file's route rule ([`RouteTemplate`]), a cookie name, value
//! and hosts with `{service}`, `{pr}` and `{context}` placeholders, expanded for one preview
//! and validated like every other route.

use protocol::{Preview, Route, RouteKind, RouteSource};

use super::unique;
use crate::core::cookie::{validate_host, validate_pair};
use crate::core::quoted;

/// A config-file route rule (source 3): a cookie name template such as `team-{service}-pr`,
/// an optional value template (default: the PR number) and host templates.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct RouteTemplate {
    pub cookie: String,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub hosts: Vec<String>,
}

/// Source 3: expands `{service}`, `{pr}` and `{context}` in a config template and validates
/// the result. Hosts may be empty (the base app's are used then).
pub fn from_template(
    t: &RouteTemplate,
    service: &str,
    pr: u64,
    context: &str,
) -> Result<Route, String> {
    let vars = Vars {
        service,
        pr,
        context,
    };
    let name = vars
        .expand(&t.cookie)
        .map_err(|why| format!("route template cookie: {why}"))?;
    let value = match &t.value {
        Some(v) => vars
            .expand(v)
            .map_err(|why| format!("route template value: {why}"))?,
        None => pr.to_string(),
    };
    validate_pair(&name, &value)
        .map_err(|why| format!("{why}: fix the route template in the config file"))?;
    Ok(Route {
        kind: RouteKind::Cookie,
        name,
        value,
        hosts: template_hosts(t, &vars)?,
        source: RouteSource::Config,
    })
}

/// The template variables.
pub(super) struct Vars<'a> {
    service: &'a str,
    pr: u64,
    context: &'a str,
}

impl<'a> Vars<'a> {
    pub(super) fn of(p: &'a Preview) -> Self {
        Vars {
            service: &p.service,
            pr: p.pr,
            context: &p.context,
        }
    }

    /// Replaces `{service}`, `{pr}` and `{context}`; any other `{...}` is an error.
    fn expand(&self, template: &str) -> Result<String, String> {
        let mut out = String::with_capacity(template.len() + 16);
        let mut rest = template;
        while let Some(open) = rest.find(['{', '}']) {
            out.push_str(&rest[..open]);
            if rest[open..].starts_with('}') {
                return Err(format!("{} has a '}}' without '{{'", quoted(template)));
            }
            let Some(len) = rest[open..].find('}') else {
                return Err(format!("{} has a '{{' without '}}'", quoted(template)));
            };
            match &rest[open + 1..open + len] {
                "service" => out.push_str(self.service),
                "pr" => out.push_str(&self.pr.to_string()),
                "context" => out.push_str(self.context),
                other => {
                    return Err(format!(
                        "{} uses the unknown placeholder {{{other}}}: use {{service}}, {{pr}} or {{context}}",
                        quoted(template)
                    ));
                }
            }
            rest = &rest[open + len + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

pub(super) fn template_hosts(t: &RouteTemplate, vars: &Vars<'_>) -> Result<Vec<String>, String> {
    let mut hosts = Vec::new();
    for h in &t.hosts {
        let h = vars
            .expand(h)
            .map_err(|why| format!("route template hosts: {why}"))?;
        let h = validate_host(&h)
            .map_err(|why| format!("{why}: fix the route template hosts in the config file"))?;
        hosts.push(h);
    }
    Ok(unique(hosts))
}

#[cfg(test)]
mod tests {
    use protocol::RouteSource;

    use super::*;
    use crate::core::routes::tests::cookie;

    #[test]
    fn templates_expand_and_validate() {
        let t = |cookie: &str, value: Option<&str>, hosts: &[&str]| RouteTemplate {
            cookie: cookie.into(),
            value: value.map(Into::into),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
        };
        assert_eq!(
            from_template(
                &t(
                    "team-{service}-pr",
                    None,
                    &["{service}.{context}.example.com"]
                ),
                "courses-fe",
                9,
                "dev"
            ),
            Ok(cookie(
                "team-courses-fe-pr",
                "9",
                &["courses-fe.dev.example.com"],
                RouteSource::Config
            ))
        );
        assert_eq!(
            from_template(&t("pr", Some("{service}-{pr}"), &[]), "web", 9, "dev").map(|r| r.value),
            Ok("web-9".into())
        );
        let refused: &[(RouteTemplate, &str, &str)] = &[
            (
                t("team-{svc}-pr", None, &[]),
                "web",
                "unknown placeholder {svc}: use {service}, {pr} or {context}",
            ),
            (t("team-{service", None, &[]), "web", "'{' without '}'"),
            (t("team}", None, &[]), "web", "'}' without '{'"),
            // A hostile service label must not smuggle attributes through the template.
            (
                t("team-{service}-pr", None, &[]),
                "x; Domain=evil.test",
                "contains ';' which would end the cookie",
            ),
            (
                t("svc", None, &["*.{context}.example.com"]),
                "web",
                "wildcard",
            ),
        ];
        for (tpl, service, want) in refused {
            let err = from_template(tpl, service, 9, "dev").unwrap_err();
            assert!(err.contains(want), "{tpl:?}: {err}");
        }
    }
}
