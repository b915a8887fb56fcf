//! Rendering previews for people (`table`, `wide`) and scripts (`json`). Pure: takes the
//! previews and the current time, returns text, so every format is unit-tested.

use std::fmt::Write as _;

use jiff::Timestamp;
use protocol::{Preview, Route, RouteKind};

/// How `list` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Wide,
    Json,
}

/// The previews as `format`, ending with a newline (empty table: header only).
pub fn render(previews: &[Preview], format: Format, now: Timestamp) -> String {
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(previews).expect("Preview serialises");
            s.push('\n');
            s
        }
        Format::Table => table(previews, false, now),
        Format::Wide => table(previews, true, now),
    }
}

fn table(previews: &[Preview], wide: bool, now: Timestamp) -> String {
    let mut header = vec![
        "SERVICE", "PR", "ENV", "SYNC", "HEALTH", "IMAGE", "AGE", "ROUTE",
    ];
    if wide {
        header.extend([
            "SOURCE",
            "APP",
            "REVISION",
            "ARGOCD",
            "PULL REQUEST",
            "TITLE",
        ]);
    }
    let dash = || "-".to_owned();
    let rows: Vec<Vec<String>> = previews
        .iter()
        .map(|p| {
            let mut row = vec![
                p.service.clone(),
                p.pr.to_string(),
                p.context.clone(),
                p.sync.clone().unwrap_or_else(dash),
                p.health.clone().unwrap_or_else(dash),
                p.image_tag.clone().unwrap_or_else(dash),
                p.created_at
                    .as_deref()
                    .and_then(|t| t.parse::<Timestamp>().ok())
                    .map(|t| age(now, t))
                    .unwrap_or_else(dash),
                route_cell(p, wide),
            ];
            if wide {
                row.extend([
                    p.route().map(|r| r.source.to_string()).unwrap_or_else(dash),
                    p.app.clone(),
                    p.revision
                        .as_deref()
                        .map(|r| r.chars().take(12).collect())
                        .unwrap_or_else(dash),
                    p.links.argocd.clone().unwrap_or_else(dash),
                    p.links.pull_request.clone().unwrap_or_else(dash),
                    p.title
                        .as_deref()
                        .map(|t| {
                            if t.chars().count() <= 50 {
                                t.to_owned()
                            } else {
                                format!("{}…", t.chars().take(49).collect::<String>())
                            }
                        })
                        .unwrap_or_else(dash),
                ]);
            }
            row
        })
        .collect();
    columns(&header, &rows)
}

/// Left-aligned columns three spaces apart, the last one unpadded; a line per row after
/// the header, trailing spaces trimmed.
pub fn columns(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            if i + 1 == widths.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}   ", w = widths[i]);
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    out
}

/// `team-courses-fe-pr=123 on courses-fe.dev.test +1`, or why there is none.
fn route_cell(p: &Preview, wide: bool) -> String {
    let Some(r) = p.route() else {
        let reason = p.unroutable.as_deref().unwrap_or("no route found");
        return if wide || reason.chars().count() <= 60 {
            format!("unroutable: {reason}")
        } else {
            format!(
                "unroutable: {}…",
                reason.chars().take(59).collect::<String>()
            )
        };
    };
    let pair = match r.kind {
        RouteKind::Cookie => format!("{}={}", r.name, r.value),
        RouteKind::Header => format!("header {}: {}", r.name, r.value),
    };
    let hosts = if wide {
        r.hosts.join(",")
    } else {
        match r.hosts.as_slice() {
            [] => String::new(),
            [one] => one.clone(),
            [first, rest @ ..] => format!("{first} +{}", rest.len()),
        }
    };
    format!("{pair} on {hosts}")
}

/// kubectl-style age: `45s`, `12m`, `5h`, `3d`.
pub fn age(now: Timestamp, then: Timestamp) -> String {
    let secs = now.as_second().saturating_sub(then.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 120 * 60 => format!("{}m", s / 60),
        s if s < 48 * 3600 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The request line that reaches a preview: `Cookie: name=value` or `Name: value`.
pub fn header_line(route: &Route) -> String {
    match route.kind {
        RouteKind::Cookie => format!("Cookie: {}={}", route.name, route.value),
        RouteKind::Header => format!("{}: {}", route.name, route.value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Links, RouteSource};

    fn preview(service: &str, pr: u64, routes: Vec<Route>, unroutable: Option<&str>) -> Preview {
        Preview {
            server: "https://argocd.dev".into(),
            context: "dev".into(),
            app: format!("{service}-pr-{pr}"),
            namespace: "argocd".into(),
            service: service.into(),
            pr,
            sync: Some("Synced".into()),
            health: Some("Healthy".into()),
            phase: Some("Succeeded".into()),
            revision: Some("0123456789abcdef0123".into()),
            image_tag: Some("dev-abc1234".into()),
            created_at: Some("2026-11-20T10:00:00Z".into()),
            links: Links {
                argocd: Some(format!(
                    "https://argocd.dev/applications/argocd/{service}-pr-{pr}"
                )),
                pull_request: None,
            },
            routes,
            unroutable: unroutable.map(str::to_owned),
            ..Default::default()
        }
    }

    fn cookie(name: &str, value: &str, hosts: &[&str]) -> Route {
        Route {
            kind: RouteKind::Cookie,
            name: name.into(),
            value: value.into(),
            hosts: hosts.iter().map(|h| h.to_string()).collect(),
            source: RouteSource::Annotation,
        }
    }

    fn now() -> Timestamp {
        "2026-11-22T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn table_shows_one_aligned_row_per_preview_with_route_and_age() {
        let ps = [
            preview(
                "courses-fe",
                123,
                vec![cookie(
                    "team-courses-fe-pr",
                    "123",
                    &["courses.dev.test", "m.courses.dev.test"],
                )],
                None,
            ),
            preview(
                "search-ui",
                7,
                vec![],
                Some("no cookie annotation, no HTTPRoute cookie match, no config rule"),
            ),
        ];
        let out = render(&ps, Format::Table, now());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("SERVICE") && lines[0].ends_with("ROUTE"));
        assert!(
            lines[1].contains("team-courses-fe-pr=123 on courses.dev.test +1"),
            "{out}"
        );
        assert!(lines[1].contains("2d"));
        assert!(lines[2].contains("unroutable: no cookie annotation"));
        let col = lines[0].find("HEALTH").unwrap();
        assert_eq!(&lines[1][col..col + 7], "Healthy");
        assert_eq!(&lines[2][col..col + 7], "Healthy");
    }

    #[test]
    fn wide_adds_source_links_and_every_host() {
        let ps = [preview(
            "courses-fe",
            123,
            vec![cookie("c", "123", &["a.test", "b.test"])],
            None,
        )];
        let mut ps = ps;
        ps[0].title = Some("Fix enrolment button on small screens".into());
        ps[0].links.pull_request = Some("https://github.com/acme/courses-fe/pull/123".into());
        let out = render(&ps, Format::Wide, now());
        let head = out.lines().next().unwrap();
        assert!(
            head.contains("PULL REQUEST") && head.ends_with("TITLE"),
            "{out}"
        );
        assert!(out.contains("https://github.com/acme/courses-fe/pull/123   Fix enrolment button on small screens"), "{out}");
        assert!(out.contains("c=123 on a.test,b.test"));
        assert!(out.contains("annotation"));
        assert!(out.contains("https://argocd.dev/applications/argocd/courses-fe-pr-123"));
        assert!(out.contains("0123456789ab"));
    }

    #[test]
    fn json_is_an_array_with_exactly_the_design_fields() {
        let ps = [preview(
            "courses-fe",
            123,
            vec![cookie("c", "123", &["a.test"])],
            None,
        )];
        let v: serde_json::Value = serde_json::from_str(&render(&ps, Format::Json, now())).unwrap();
        let keys: Vec<&str> = v[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = vec![
            "server",
            "context",
            "app",
            "namespace",
            "service",
            "pr",
            "sync",
            "health",
            "phase",
            "revision",
            "image_tag",
            "created_at",
            "links",
            "routes",
            "unroutable",
        ];
        want.sort();
        let mut keys = keys;
        keys.sort();
        assert_eq!(keys, want);
        assert_eq!(v[0]["routes"][0]["kind"], "cookie");
        assert_eq!(v[0]["routes"][0]["source"], "annotation");
        assert_eq!(v[0]["unroutable"], serde_json::Value::Null);
    }

    #[test]
    fn ages_read_like_kubectl() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(age(now(), t("2026-11-22T09:59:15Z")), "45s");
        assert_eq!(age(now(), t("2026-11-22T09:48:00Z")), "12m");
        assert_eq!(age(now(), t("2026-11-22T05:00:00Z")), "5h");
        assert_eq!(age(now(), t("2026-11-19T10:00:00Z")), "3d");
        assert_eq!(age(now(), t("2026-11-23T10:00:00Z")), "0s");
    }

    #[test]
    fn header_line_is_ready_for_curl() {
        assert_eq!(
            header_line(&cookie("team-x-pr", "9", &[])),
            "Cookie: team-x-pr=9"
        );
        let mut h = cookie("x-preview", "pr-9", &[]);
        h.kind = RouteKind::Header;
        assert_eq!(header_line(&h), "x-preview: pr-9");
    }
}
