//! `preview-switch envs`: what version runs in each environment, for people (`table`: a
//! row per service, a column per environment; `wide`: a row per environment) and scripts
//! (`json`: the `protocol::envs::ServiceEnvs` array). Pure rendering, unit-tested.

use protocol::envs::{EnvStatus, ServiceEnvs};

use super::output::{Format, columns};

/// The services as `format`, ending with a newline.
pub fn render(services: &[ServiceEnvs], format: Format) -> String {
    match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(services).expect("ServiceEnvs serialises");
            s.push('\n');
            s
        }
        Format::Table => table(services),
        Format::Wide => wide(services),
    }
}

/// A version with its markers: `↓` went backwards, `!` needs attention (out of sync, a
/// failed sync, degraded, a paused or aborted rollout); the NOTES column says which.
fn cell(e: &EnvStatus) -> String {
    let mut c = e.version.clone().unwrap_or_else(|| "-".to_owned());
    if e.went_backwards {
        c.push_str(" ↓");
    }
    if e.notes.iter().any(|n| !n.starts_with("went backwards")) {
        c.push_str(" !");
    }
    c
}

/// The environments' names in the order they first appear (servers in configured order).
fn env_names(services: &[ServiceEnvs]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for s in services {
        for e in &s.envs {
            if !names.contains(&e.env) {
                names.push(e.env.clone());
            }
        }
    }
    names
}

fn table(services: &[ServiceEnvs]) -> String {
    let envs = env_names(services);
    let upper: Vec<String> = envs.iter().map(|e| e.to_uppercase()).collect();
    let mut header: Vec<&str> = vec!["SERVICE"];
    header.extend(upper.iter().map(String::as_str));
    header.push("NOTES");
    let rows: Vec<Vec<String>> = services
        .iter()
        .map(|s| {
            let mut row = vec![s.service.clone()];
            for env in &envs {
                let here: Vec<&EnvStatus> = s.envs.iter().filter(|e| e.env == *env).collect();
                row.push(match here.as_slice() {
                    [] => String::new(),
                    [one] => cell(one),
                    // The same service twice in one environment (two servers, or a label
                    // on two apps): both, so neither hides the other.
                    many => many.iter().map(|e| cell(e)).collect::<Vec<_>>().join(", "),
                });
            }
            let mut notes: Vec<String> = Vec::new();
            if let Some(d) = &s.differs {
                notes.push(format!("not in step: {d}"));
            }
            for e in &s.envs {
                for n in &e.notes {
                    notes.push(format!("{}: {n}", e.env));
                }
            }
            row.push(notes.join("; "));
            row
        })
        .collect();
    columns(&header, &rows)
}

fn wide(services: &[ServiceEnvs]) -> String {
    let header = [
        "SERVICE", "ENV", "VERSION", "FROM", "REVISION", "IMAGE", "SYNC", "HEALTH", "DEPLOYED",
        "PREVIOUS", "ROLLOUT", "APP", "ARGOCD", "NOTES",
    ];
    let dash = |v: Option<&str>| v.unwrap_or("-").to_owned();
    let rows: Vec<Vec<String>> = services
        .iter()
        .flat_map(|s| {
            s.envs.iter().map(move |e| {
                vec![
                    s.service.clone(),
                    e.env.clone(),
                    cell(e),
                    dash(e.version_from.as_deref()),
                    dash(e.revision.as_deref().map(|r| r.get(..12).unwrap_or(r))),
                    dash(e.image_tag.as_deref()),
                    dash(e.sync.as_deref()),
                    dash(e.health.as_deref()),
                    dash(e.deployed_at.as_deref()),
                    dash(e.previous_version.as_deref()),
                    e.rollout
                        .as_ref()
                        .and_then(crate::core::envs::rollout_words)
                        .unwrap_or_else(|| "-".into()),
                    e.app.clone(),
                    dash(e.links.argocd.as_deref()),
                    e.notes.join("; "),
                ]
            })
        })
        .collect();
    columns(&header, &rows)
}

#[cfg(test)]
mod tests {
    use protocol::envs::Rollout;

    use super::*;

    fn env(name: &str, version: &str) -> EnvStatus {
        EnvStatus {
            env: name.into(),
            app: "a".into(),
            version: Some(version.into()),
            sync: Some("Synced".into()),
            health: Some("Healthy".into()),
            ..Default::default()
        }
    }

    fn sample() -> Vec<ServiceEnvs> {
        let mut back = env("prod", "v5.3.0");
        back.went_backwards = true;
        back.previous_version = Some("v5.33.0".into());
        back.notes = vec!["went backwards from v5.33.0".into()];
        let mut paused = env("prod", "v3.2.0");
        paused.health = Some("Suspended".into());
        paused.rollout = Some(Rollout {
            paused: true,
            step: Some(1),
            steps: Some(4),
            weight: Some(25),
            ..Default::default()
        });
        paused.notes = vec!["rollout paused at step 1 of 4, canary weight 25%".into()];
        crate::core::envs::group(vec![
            ("search-ui".into(), env("dev", "v5.33.0")),
            ("search-ui".into(), back),
            ("payments-api".into(), env("dev", "v3.2.0")),
            ("payments-api".into(), paused),
        ])
    }

    #[test]
    fn the_table_has_a_column_per_environment_and_says_what_differs() {
        let text = render(&sample(), Format::Table);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["SERVICE", "DEV", "PROD", "NOTES"]
        );
        assert_eq!(
            lines[1].split_whitespace().take(4).collect::<Vec<_>>(),
            ["payments-api", "v3.2.0", "v3.2.0", "!"],
            "{text}"
        );
        assert!(
            lines[1].ends_with("prod: rollout paused at step 1 of 4, canary weight 25%"),
            "{text}"
        );
        assert!(lines[2].contains("v5.3.0 ↓"), "{text}");
        assert!(
            lines[2].contains(
                "not in step: dev runs v5.33.0; prod runs v5.3.0; prod: went backwards from v5.33.0"
            ),
            "{text}"
        );
    }

    #[test]
    fn wide_has_a_row_per_environment_and_json_the_protocol_shape() {
        let text = render(&sample(), Format::Wide);
        assert_eq!(text.lines().count(), 5);
        assert!(text.contains("rollout paused at step 1 of 4, canary weight 25%"));
        let json: serde_json::Value =
            serde_json::from_str(&render(&sample(), Format::Json)).unwrap();
        assert_eq!(json[1]["service"], "search-ui");
        assert_eq!(json[1]["in_step"], false);
        assert_eq!(json[1]["envs"][1]["went_backwards"], true);
        for key in [
            "env",
            "server",
            "app",
            "version",
            "revision",
            "image_tag",
            "sync",
            "health",
            "deployed_at",
            "previous_version",
            "went_backwards",
            "rollout",
            "links",
        ] {
            assert!(json[1]["envs"][1].get(key).is_some(), "{key}");
        }
    }
}
