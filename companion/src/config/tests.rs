//! `config::resolve` end to end over a temporary HOME: every source, its precedence, and
//! the errors that point at a file's line.

use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::error::{Error, Surface};
use crate::token::Token;

const SAMPLE: &str =
    include_str!("../../../tests/fixtures/argocd/argocd-cli-local-config.sample.yaml");

/// A temp HOME plus an env lookup over fixed variables.
struct World {
    dir: tempfile::TempDir,
    vars: Vec<(String, String)>,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let system = home.join("etc/preview-switch/config.toml");
        World {
            vars: vec![
                ("HOME".into(), home.to_str().unwrap().into()),
                // Never the machine's own /etc.
                (
                    "PREVIEW_SWITCH_SYSTEM_CONFIG".into(),
                    system.to_str().unwrap().into(),
                ),
            ],
            dir,
        }
    }
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn set(&mut self, k: &str, v: impl Into<String>) -> &mut Self {
        self.vars.retain(|(n, _)| n != k);
        self.vars.push((k.into(), v.into()));
        self
    }
    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let p = self.home().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }
    fn env(&self) -> impl Fn(&str) -> Option<String> + '_ {
        |k| {
            self.vars
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        }
    }
    fn resolve(&self, args: &ConnectionArgs) -> Result<Vec<ServerTarget>> {
        resolve(args, &self.env())
    }
}

fn args() -> ConnectionArgs {
    ConnectionArgs::default()
}

/// The target's token, compared by value: tests never read the secret out (tidy test
/// `token_is_exposed_only_for_the_authorization_header`).
fn token(t: &ServerTarget) -> Option<Token> {
    t.token.clone()
}

#[test]
fn config_path_rules() {
    let mut w = World::new();
    assert_eq!(
        config_path(&w.env()),
        w.home().join(".config/preview-switch/config.toml")
    );
    w.set("XDG_CONFIG_HOME", "/xdg");
    assert_eq!(
        config_path(&w.env()),
        PathBuf::from("/xdg/preview-switch/config.toml")
    );
    w.set("PREVIEW_SWITCH_CONFIG", "~/ps.toml");
    assert_eq!(config_path(&w.env()), w.home().join("ps.toml"));
    let s = sources(
        &ConnectionArgs {
            config: Some("/x.toml".into()),
            ..args()
        },
        &w.env(),
    );
    assert_eq!(s.config_file, PathBuf::from("/x.toml"));
    assert!(s.config_file_explicit && !s.config_file_exists && !s.argocd_config_exists);
}

#[test]
fn nothing_configured_names_every_way_to_fix_it() {
    let w = World::new();
    let err = w.resolve(&args()).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    assert!(matches!(err, Error::NoServer { .. }), "{err:?}");
    let cli = err.with_fix(Surface::Cli);
    for way in ["--server", "ARGOCD_SERVER", "config.toml", "argocd login"] {
        assert!(cli.contains(way), "{cli}");
    }
    // The browser starts the host without flags: the popup names the file and the command.
    let popup = err.fix(Surface::Popup);
    assert!(
        popup.contains("config.toml") && popup.contains("argocd login") && !popup.contains("--"),
        "{popup}"
    );
}

#[test]
fn flag_server_beats_env_and_bare_hosts_become_https() {
    let mut w = World::new();
    w.set("ARGOCD_SERVER", "http://env.example:8080")
        .set("ARGOCD_AUTH_TOKEN", "env-token");
    let t = w
        .resolve(&ConnectionArgs {
            server: Some("argocd.dev:8443".into()),
            ..args()
        })
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].url.as_str(), "https://argocd.dev:8443/");
    assert_eq!(
        (t[0].name.as_str(), t[0].origin.as_str()),
        ("argocd.dev:8443", "flag --server")
    );
    assert_eq!(token(&t[0]), Token::new("env-token"));
    assert_eq!(t[0].selector, DEFAULT_SELECTOR);
    assert_eq!(
        (t[0].connect_timeout, t[0].timeout),
        (DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT)
    );

    let t = w.resolve(&args()).unwrap();
    assert_eq!(t[0].url.as_str(), "http://env.example:8080/");
    assert_eq!(t[0].origin, "env ARGOCD_SERVER");

    let t = w
        .resolve(&ConnectionArgs {
            token: Some("flag-token".into()),
            ..args()
        })
        .unwrap();
    assert_eq!(token(&t[0]), Token::new("flag-token"));

    let err = w
        .resolve(&ConnectionArgs {
            server: Some("ftp://x".into()),
            ..args()
        })
        .unwrap_err();
    assert!(matches!(err, Error::Usage(m) if m.what.contains("not an http or https URL")));
}

#[test]
fn config_file_lists_servers_with_their_settings() {
    let w = World::new();
    w.write(".config/preview-switch/dev.token", "dev-secret\n");
    w.write(
        ".config/preview-switch/config.toml",
        r#"
selector = "type=preview"
connect_timeout = "2s"
timeout = 45
[route]
cookie = "team-{service}-pr"
hosts = ["{service}.dev.example.com"]

[[servers]]
name = "dev"
url = "https://argocd.dev.example.com"
token_file = "dev.token"
ca_cert = "corp-ca.pem"
timeout = "500ms"

[[servers]]
name = "prod"
url = "argocd.prod.example.com"
token_command = "echo prod-secret"
selector = "env=prod"
insecure = true
[servers.route]
cookie = "prod-{service}"
value = "{pr}"
"#,
    );
    let t = w.resolve(&args()).unwrap();
    assert_eq!(t.len(), 2);
    let (dev, prod) = (&t[0], &t[1]);
    assert_eq!(
        (dev.name.as_str(), token(dev)),
        ("dev", Token::new("dev-secret"))
    );
    assert_eq!(dev.selector, "type=preview");
    assert_eq!(dev.connect_timeout, Duration::from_secs(2));
    assert_eq!(dev.timeout, Duration::from_millis(500));
    assert_eq!(
        dev.ca_cert.as_ref().map(crate::server::CaCert::path),
        Some(
            w.home()
                .join(".config/preview-switch/corp-ca.pem")
                .as_path()
        )
    );
    assert_eq!(
        dev.route_template.as_ref().unwrap().cookie,
        "team-{service}-pr"
    );
    assert!(dev.origin.ends_with("config.toml") && !dev.insecure);
    assert_eq!(
        (prod.url.as_str(), token(prod)),
        (
            "https://argocd.prod.example.com/",
            Token::new("prod-secret")
        )
    );
    assert_eq!((prod.selector.as_str(), prod.insecure), ("env=prod", true));
    assert_eq!(prod.timeout, Duration::from_secs(45));
    assert_eq!(
        prod.route_template.as_ref().unwrap().value.as_deref(),
        Some("{pr}")
    );

    // --context picks one config server; flags override its settings.
    let one = ConnectionArgs {
        context: Some("prod".into()),
        selector: Some("x=y".into()),
        ..args()
    };
    let t = w.resolve(&one).unwrap();
    assert_eq!((t.len(), t[0].selector.as_str()), (1, "x=y"));

    // A flag server with the same URL as a config server takes its name and token.
    let flag = ConnectionArgs {
        server: Some("https://argocd.dev.example.com/".into()),
        ..args()
    };
    let t = w.resolve(&flag).unwrap();
    assert_eq!(
        (t[0].name.as_str(), token(&t[0])),
        ("dev", Token::new("dev-secret"))
    );
    let flag = ConnectionArgs {
        token: Some("flag-token".into()),
        ..flag
    };
    assert_eq!(
        token(&w.resolve(&flag).unwrap()[0]),
        Token::new("flag-token")
    );
}

#[test]
fn env_token_is_not_sent_to_several_servers() {
    let mut w = World::new();
    w.set("ARGOCD_AUTH_TOKEN", "one-server-token");
    w.write(
        ".config/preview-switch/config.toml",
        "[[servers]]\nurl = \"https://a.example\"\n[[servers]]\nurl = \"https://b.example\"\n",
    );
    let t = w.resolve(&args()).unwrap();
    assert_eq!(
        t.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["a.example", "b.example"]
    );
    assert!(t.iter().all(|t| t.token.is_none()));
}

#[test]
fn credentials_in_a_server_flag_are_a_usage_error_that_does_not_echo_them() {
    // `server::parse_server_url` refuses it; from a flag that is a usage error without the password.
    let w = World::new();
    let err = w
        .resolve(&ConnectionArgs {
            server: Some("https://admin:hunter2@argocd.dev".into()),
            ..args()
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::Usage(m) if m.what.contains("`https://***@argocd.dev` carries credentials") && !m.to_string().contains("hunter2")),
        "{err}"
    );
}

#[test]
fn config_errors_point_at_the_line() {
    let w = World::new();
    let p = w.write(
        "c.toml",
        "selector = \"type=pr\"\n\n[[servers]]\nurl = \"https://a\"\ntokn = \"x\"\n",
    );
    let err = w
        .resolve(&ConnectionArgs {
            config: Some(p.clone()),
            ..args()
        })
        .unwrap_err();
    match &err {
        Error::Config {
            path,
            line,
            problem,
        } => {
            assert_eq!((path, *line), (&p, Some(5)));
            assert!(problem.what.contains("tokn"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.exit_code(), 2);
    let p = w.write("d.toml", "timeout = \"5 parsecs\"\n");
    let err = w
        .resolve(&ConnectionArgs {
            config: Some(p),
            ..args()
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config { line: Some(1), problem, .. } if problem.what.contains("parsecs")),
        "{err}"
    );
    let p = w.write(
        "e.toml",
        "[[servers]]\nurl = \"https://a\"\ntoken_file = \"missing.token\"\n",
    );
    let err = w
        .resolve(&ConnectionArgs {
            config: Some(p),
            ..args()
        })
        .unwrap_err();
    assert!(matches!(&err, Error::Config { line: Some(3), .. }), "{err}");
    // An explicitly named config file must exist.
    let err = w
        .resolve(&ConnectionArgs {
            config: Some(w.home().join("nope.toml")),
            ..args()
        })
        .unwrap_err();
    assert!(matches!(err, Error::Config { line: None, .. }));
}

#[test]
fn plain_token_in_config_works_and_never_prints() {
    let w = World::new();
    let p = w.write(
        "c.toml",
        "[[servers]]\nurl = \"https://a\"\ntoken = \"s3cr3t\"\n",
    );
    let t = w
        .resolve(&ConnectionArgs {
            config: Some(p),
            ..args()
        })
        .unwrap();
    assert_eq!(token(&t[0]), Token::new("s3cr3t"));
    assert!(!format!("{t:?}").contains("s3cr3t"));
}

#[test]
fn argocd_cli_config_current_context_and_all_contexts() {
    let mut w = World::new();
    w.set(
        "ARGOCD_CONFIG_DIR",
        w.home().join("acd").to_str().unwrap().to_owned(),
    );
    w.write("acd/config", SAMPLE);
    let t = w.resolve(&args()).unwrap();
    assert_eq!(t.len(), 1);
    // `plain-text: true` → http.
    assert_eq!(
        (t[0].name.as_str(), t[0].url.as_str()),
        ("localhost:8080", "http://localhost:8080/")
    );
    assert_eq!(token(&t[0]), Token::new("vErrYS3c3tReFRe$hToken"));
    assert!(t[0].origin.ends_with("acd/config"));

    let all = w
        .resolve(&ConnectionArgs {
            all_contexts: true,
            ..args()
        })
        .unwrap();
    let urls: Vec<&str> = all.iter().map(|t| t.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            "https://argocd1.example.com/",
            "https://argocd2.example.com/",
            "http://localhost:8080/"
        ]
    );

    let one = w
        .resolve(&ConnectionArgs {
            context: Some("argocd2.example.com:443".into()),
            ..args()
        })
        .unwrap();
    assert_eq!(one[0].url.as_str(), "https://argocd2.example.com/");

    let err = w
        .resolve(&ConnectionArgs {
            context: Some("nope".into()),
            ..args()
        })
        .unwrap_err();
    assert!(
        matches!(&err, Error::Usage(m) if m.what.contains("known: argocd1.example.com:443")),
        "{err}"
    );

    // A bare --server naming a CLI server takes its plain-text rule and token.
    let t = w
        .resolve(&ConnectionArgs {
            server: Some("localhost:8080".into()),
            ..args()
        })
        .unwrap();
    assert_eq!(
        (t[0].url.as_str(), token(&t[0])),
        (
            "http://localhost:8080/",
            Token::new("vErrYS3c3tReFRe$hToken")
        )
    );

    // ARGOCD_SERVER beats the CLI config; --all-contexts (a flag) beats ARGOCD_SERVER.
    w.set("ARGOCD_SERVER", "https://env.example");
    assert_eq!(
        w.resolve(&args()).unwrap()[0].url.as_str(),
        "https://env.example/"
    );
    assert_eq!(
        w.resolve(&ConnectionArgs {
            all_contexts: true,
            ..args()
        })
        .unwrap()
        .len(),
        3
    );

    // A config.toml with servers beats the CLI config.
    w.set("ARGOCD_SERVER", "");
    w.write(
        ".config/preview-switch/config.toml",
        "[[servers]]\nname = \"cfg\"\nurl = \"https://cfg.example\"\n",
    );
    assert_eq!(w.resolve(&args()).unwrap()[0].name, "cfg");
}

#[test]
fn argocd_cli_config_path_prefers_legacy_dir_then_xdg() {
    let mut w = World::new();
    w.set(
        "XDG_CONFIG_HOME",
        w.home().join("xdg").to_str().unwrap().to_owned(),
    );
    w.write(
        "xdg/argocd/config",
        "contexts:\n- {name: x, server: x.example, user: x}\ncurrent-context: x\n",
    );
    assert_eq!(w.resolve(&args()).unwrap()[0].name, "x");
    w.write(
        ".argocd/config",
        "contexts:\n- {name: legacy, server: l.example, user: l}\ncurrent-context: legacy\n",
    );
    assert_eq!(w.resolve(&args()).unwrap()[0].name, "legacy");
}

#[test]
fn conflicting_flags_are_usage_errors() {
    let w = World::new();
    let both = ConnectionArgs {
        context: Some("a".into()),
        all_contexts: true,
        ..args()
    };
    assert!(matches!(w.resolve(&both), Err(Error::Usage(_))));
    let both = ConnectionArgs {
        server: Some("a".into()),
        all_contexts: true,
        ..args()
    };
    assert!(matches!(w.resolve(&both), Err(Error::Usage(_))));
}

#[test]
fn a_failing_token_command_in_config_toml_points_at_its_line() {
    let mut w = World::new();
    let cfg = w.write(
        ".config/preview-switch/config.toml",
        "[[servers]]\nname = \"dev\"\nurl = \"https://argocd.dev\"\ntoken_command = \"echo leaked-token >&2; false\"\n",
    );
    w.set("PREVIEW_SWITCH_CONFIG", cfg.to_str().unwrap());
    let msg = w.resolve(&args()).unwrap_err().to_string();
    assert!(
        msg.contains("config.toml line 4") && msg.contains("token_command failed"),
        "{msg}"
    );
    assert!(!msg.contains("leaked-token"), "{msg}");
}

#[test]
fn one_duration_rule_for_flags_and_files() {
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
    assert_eq!(parse_duration(" 7 "), Ok(Duration::from_secs(7)));
    for zero in ["0", "0s", "0ms", "0.0m"] {
        let err = parse_duration(zero).unwrap_err().to_string();
        assert!(
            err.contains("zero timeout") && err.contains("such as 5s"),
            "{zero}: {err}"
        );
    }
    assert!(
        parse_duration("fast")
            .unwrap_err()
            .what
            .contains("not a duration")
    );
    assert!(
        parse_duration("-1s")
            .unwrap_err()
            .what
            .contains("not a duration")
    );
    assert!(
        parse_duration("5 parsecs")
            .unwrap_err()
            .what
            .contains("unknown unit `parsecs`")
    );
    // Far past what a Duration holds: an error, not a panic.
    assert!(
        parse_duration("99999999999999999999999m")
            .unwrap_err()
            .what
            .contains("too long")
    );
}

#[test]
fn env_pattern_comes_from_the_file_and_a_bad_one_names_its_line() {
    let w = World::new();
    let default = env_pattern(&args(), &w.env()).unwrap();
    assert_eq!(default.as_str(), crate::core::envs::DEFAULT_ENV_PATTERN);
    let file = w.write(
        ".config/preview-switch/config.toml",
        "selector = \"type=pr\"\nenv_pattern = \"uat|live\"\n",
    );
    let custom = env_pattern(&args(), &w.env()).unwrap();
    assert_eq!(custom.split("shop-live"), Some(("shop", "live")));
    std::fs::write(&file, "\nenv_pattern = \"(uat\"\n").unwrap();
    let err = env_pattern(&args(), &w.env()).unwrap_err();
    let shown = err.with_fix(Surface::Cli);
    assert!(
        matches!(err, Error::Config { line: Some(2), .. }),
        "{shown}"
    );
    assert!(
        shown.contains("not a regex") && shown.contains("e.g. env_pattern = \"dev|qa|stag|prod\""),
        "{shown}"
    );
}

/// An administrator's system-wide file gives the servers and the route template once; the
/// user's own file wins for each key it sets, and `doctor`'s origins name each key's file.
#[test]
fn the_system_config_is_read_below_the_users() {
    let w = World::new();
    let system = w.write(
        "etc/preview-switch/config.toml",
        r#"
selector = "team=web"
timeout = "40s"
[route]
cookie = "corp-{service}-pr"
hosts = ["{service}.dev.corp.test"]

[[servers]]
name = "dev"
url = "https://argocd.dev.corp.test"
"#,
    );
    let user = w.write(
        ".config/preview-switch/config.toml",
        "selector = \"type=preview\"\n",
    );
    let t = w.resolve(&args()).unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].name, "dev");
    assert_eq!(t[0].selector, "type=preview", "the user's key wins");
    assert_eq!(
        t[0].timeout,
        Duration::from_secs(40),
        "the system's fills in"
    );
    assert_eq!(
        t[0].route_template.as_ref().unwrap().cookie,
        "corp-{service}-pr"
    );
    assert_eq!(t[0].origin, system.display().to_string());
    let origins = setting_origins(&args(), &w.env()).unwrap();
    let of = |k: &str| origins.iter().find(|(key, _)| *key == k).unwrap().1.clone();
    assert_eq!(of("selector"), user.display().to_string());
    assert_eq!(of("servers"), system.display().to_string());
    assert_eq!(of("route"), system.display().to_string());
    assert_eq!(of("timeout"), system.display().to_string());
    assert_eq!(of("connect_timeout"), "the default");
    let flagged = ConnectionArgs {
        selector: Some("a=b".into()),
        ..args()
    };
    let origins = setting_origins(&flagged, &w.env()).unwrap();
    assert!(origins.contains(&("selector", "flag --selector".into())));

    // A user's own servers replace the system's list; the system's route still applies.
    w.write(
        ".config/preview-switch/config.toml",
        "[[servers]]\nname = \"mine\"\nurl = \"https://argocd.mine.test\"\n",
    );
    let t = w.resolve(&args()).unwrap();
    let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["mine"]);
    assert_eq!(
        t[0].route_template.as_ref().unwrap().cookie,
        "corp-{service}-pr"
    );

    // A token there would be every user's to read: refused, by its line, never echoed.
    w.write(
        "etc/preview-switch/config.toml",
        "[[servers]]\nurl = \"https://argocd.dev.corp.test\"\ntoken = \"shared-secret-value\"\n",
    );
    let err = w.resolve(&args()).unwrap_err();
    let text = err.with_fix(Surface::Cli);
    assert!(
        text.contains("every user of this machine can read"),
        "{text}"
    );
    assert!(text.contains(" line 3: "), "the token's line: {text}");
    assert!(!text.contains("shared-secret-value"), "{text}");

    // A broken system file is an error that names it and its line.
    w.write("etc/preview-switch/config.toml", "selectr = \"x\"\n");
    let err = w.resolve(&args()).unwrap_err();
    assert_eq!(err.exit_code(), 2);
    let text = err.with_fix(Surface::Cli);
    assert!(text.contains(&system.display().to_string()), "{text}");
}
