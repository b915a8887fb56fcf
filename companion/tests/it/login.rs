//! Login that keeps working, on the built binary: an expired token from the `argocd` CLI's
//! config is refreshed by running the CLI (a stub script first on PATH that follows the
//! real CLI's rules and rewrites the config as it does), and where the CLI would not
//! refresh, the error names the login command.
//!
//! The stub follows `pkg/apiclient/apiclient.go` :: `refreshAuthToken` and
//! `util/localconfig` of argo-cd: it reads only a config of mode 0600 or 0400 (else
//! `config file has incorrect permission flags …`, exit 20), refreshes only a login with a
//! refresh token whose JWT `exp` has passed, and, when `bin/old` exists, is a CLI before
//! v2.13 that answers `--argocd-context` with `Error: unknown flag: --argocd-context`
//! (exit 1).

use std::path::PathBuf;

use crate::support::{
    EXPIRED_TOKEN as EXPIRED, REFRESH_TOKEN as REFRESH, REVOKED_TOKEN as REVOKED, Sandbox, TOKEN,
    demo_server,
};

/// The argocd CLI's config (mode 0600, as `argocd login` writes it) with `token` and a
/// refresh token for `host`.
fn cli_login(sb: &Sandbox, host: &str, token: &str) -> PathBuf {
    let path = sb.write(
        ".config/argocd/config",
        &format!(
            "contexts:\n- name: fake\n  server: {host}\n  user: fake\n- name: other\n  server: other.invalid\n  user: other\n\
             current-context: fake\n\
             servers:\n- plain-text: true\n  server: {host}\n- server: other.invalid\n\
             users:\n- name: fake\n  auth-token: {token}\n  refresh-token: {REFRESH}\n\
             - name: other\n  auth-token: x\n"
        ),
    );
    chmod(&path, 0o600);
    path
}

/// The argocd CLI's config with an expired token and a refresh token for `host`.
fn expired_login(sb: &Sandbox, host: &str) {
    cli_login(sb, host, &EXPIRED);
}

fn chmod(path: &std::path::Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

/// A stand-in for the `argocd` CLI with the real one's refresh rules (module docs):
/// records its arguments and, when it refreshes, rewrites the config passed with
/// `--config` as the real CLI does after trading the refresh token.
fn stub_cli(sb: &Sandbox) -> PathBuf {
    // Written through the sandbox: the script holds the tokens on purpose.
    let script = sb.write(
        "bin/argocd",
        &format!(
            r#"#!/bin/sh
dir="$(dirname "$0")"
echo "$@" > "$dir/args"
echo "$@" >> "$dir/calls"
cfg=""
ctx=""
while [ $# -gt 0 ]; do
  case "$1" in
    --config) cfg="$2"; shift ;;
    --argocd-context)
      if [ -e "$dir/old" ]; then echo "Error: unknown flag: --argocd-context" >&2; exit 1; fi
      ctx="$2"; shift ;;
  esac
  shift
done
mode=$(stat -c %a "$cfg")
if [ "$mode" != 600 ] && [ "$mode" != 400 ]; then
  echo "config file has incorrect permission flags $mode, change the file permission either to 0400 or 0600" >&2
  exit 20
fi
[ -n "$ctx" ] || ctx=$(sed -n 's/^current-context: //p' "$cfg")
user=$(grep -A2 "^- name: $ctx\$" "$cfg")
tok=$(printf '%s
' "$user" | sed -n 's/^  auth-token: //p')
refresh=$(printf '%s
' "$user" | sed -n 's/^  refresh-token: //p')
payload=$(printf %s "$tok" | cut -d. -f2 | tr '_-' '/+')
case $(( ${{#payload}} % 4 )) in 2) payload="$payload==" ;; 3) payload="$payload=" ;; esac
exp=$(printf %s "$payload" | base64 -d 2>/dev/null | sed -n 's/.*"exp":\([0-9]*\).*/\1/p')
if [ -n "$refresh" ] && [ -n "$exp" ] && [ "$exp" -lt "$(date +%s)" ]; then
  sed -i "s/$tok/{TOKEN}/" "$cfg"
fi
echo '{{"loggedIn":true,"username":"octocat"}}'
"#
        ),
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    script.parent().unwrap().to_path_buf()
}

/// PATH with the stub's folder first.
fn path_with(bin: &std::path::Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_sso_token_is_refreshed_with_the_argocd_cli_and_the_list_succeeds() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let host = server.url().trim_start_matches("http://").to_owned();
    expired_login(&sb, &host);
    let bin = stub_cli(&sb);
    let path = path_with(&bin);
    let run = sb
        .run(&["list", "-o", "json"], &[("PATH", path.as_str())])
        .await;
    run.assert_no_secret(TOKEN)
        .assert_no_secret(&EXPIRED)
        .assert_no_secret(REFRESH);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.json().as_array().is_some_and(|a| !a.is_empty()),
        "{}",
        run.stdout
    );
    let args = std::fs::read_to_string(bin.join("args")).unwrap();
    assert!(
        args.starts_with("account get-user-info --config ")
            && args.contains("--argocd-context fake"),
        "{args}"
    );
    // The config now holds the fresh token: the next run needs no refresh.
    std::fs::remove_file(bin.join("args")).unwrap();
    let again = sb
        .run(&["list", "-o", "json"], &[("PATH", path.as_str())])
        .await;
    assert_eq!(again.code, 0, "{again:#?}");
    assert!(!bin.join("args").exists(), "the CLI ran again");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_argocd_cli_the_error_names_the_login_command() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let host = server.url().trim_start_matches("http://").to_owned();
    expired_login(&sb, &host);
    let empty = sb.home().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let run = sb
        .run(&["list"], &[("PATH", empty.to_str().unwrap())])
        .await;
    run.assert_no_secret(&EXPIRED).assert_no_secret(REFRESH);
    assert_eq!(run.code, 1, "{run:#?}");
    // No DISPLAY here: the advice is the headless SSO login.
    assert!(
        run.stderr.contains(&format!(
            "run `argocd login {host} --plaintext --sso --sso-launch-browser=false`"
        )) && run.stderr.contains("not on PATH"),
        "{}",
        run.stderr
    );
    let with_display = sb
        .run(
            &["list"],
            &[("PATH", empty.to_str().unwrap()), ("DISPLAY", ":0")],
        )
        .await;
    assert!(
        with_display
            .stderr
            .contains(&format!("run `argocd login {host} --plaintext --sso`")),
        "{}",
        with_display.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_command_feeds_the_token_and_its_output_never_shows() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let secret_file = sb.write("vault/argocd", &format!("{TOKEN}\n"));
    let cfg = format!(
        "[[servers]]\nname = \"fake\"\nurl = \"{}\"\ntoken_command = \"cat '{}'\"\n",
        server.url(),
        secret_file.display()
    );
    sb.write(".config/preview-switch/config.toml", &cfg);
    let run = sb
        .run(&["list", "-o", "json"], &[("RUST_LOG", "trace")])
        .await;
    run.assert_no_secret(TOKEN);
    assert_eq!(run.code, 0, "{run:#?}");

    // A failing secret manager: its stderr (which may echo the secret) is not repeated.
    sb.write(
        ".config/preview-switch/config.toml",
        &cfg.replace(
            "cat '",
            "echo 'vault: token demo-token sealed' >&2; false '",
        ),
    );
    let run = sb.run(&["list"], &[("RUST_LOG", "trace")]).await;
    run.assert_no_secret(TOKEN);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("token_command failed") && run.stderr.contains("line 4"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_refreshes_an_expired_cli_token_and_goes_on_to_the_previews() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let host = server.url().trim_start_matches("http://").to_owned();
    expired_login(&sb, &host);
    let bin = stub_cli(&sb);
    let path = path_with(&bin);
    let run = sb.run(&["doctor"], &[("PATH", path.as_str())]).await;
    run.assert_no_secret(TOKEN)
        .assert_no_secret(&EXPIRED)
        .assert_no_secret(REFRESH);
    let out = format!("{}{}", run.stdout, run.stderr);
    assert!(
        out.contains("had expired; refreshed through the argocd CLI"),
        "{out}"
    );
    assert!(out.contains("visible with selector"), "{out}");

    // Without the CLI, doctor names the login command instead.
    let sb = Sandbox::new();
    expired_login(&sb, &host);
    let empty = sb.home().join("empty-bin");
    std::fs::create_dir_all(&empty).unwrap();
    let run = sb
        .run(&["doctor"], &[("PATH", empty.to_str().unwrap())])
        .await;
    let out = format!("{}{}", run.stdout, run.stderr);
    assert_ne!(run.code, 0, "{out}");
    assert!(
        out.contains(&format!("run `argocd login {host} --plaintext --sso")),
        "{out}"
    );
}

/// A CLI that "succeeds" yet leaves the expired token in place (a stale or broken refresh):
/// the companion retries once, not in a loop, and then names the login command.
#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_that_leaves_the_token_expired_is_tried_once_then_names_the_login_command() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let host = server.url().trim_start_matches("http://").to_owned();
    expired_login(&sb, &host);
    let script = sb.write(
        "bin/argocd",
        "#!/bin/sh\n\
         echo \"$@\" >> \"$(dirname \"$0\")/calls\"\n\
         echo '{\"loggedIn\":true,\"username\":\"octocat\"}'\n",
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let bin = script.parent().unwrap().to_path_buf();
    let path = path_with(&bin);
    let run = sb.run(&["list"], &[("PATH", path.as_str())]).await;
    run.assert_no_secret(&EXPIRED).assert_no_secret(REFRESH);
    assert_eq!(run.code, 1, "{run:#?}");
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap();
    assert_eq!(calls.lines().count(), 1, "{calls}");
    assert!(
        run.stderr
            .contains(&format!("run `argocd login {host} --plaintext --sso"))
            && run.stderr.contains("left the expired token"),
        "{}",
        run.stderr
    );
}

/// A token refused before its `exp` (revoked, or the server's key changed) is not one the
/// CLI refreshes: the CLI is not run, and the error says why and names `argocd login`.
#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_but_unexpired_token_is_not_refreshed_and_names_argocd_login() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let host = server.url().trim_start_matches("http://").to_owned();
    cli_login(&sb, &host, &REVOKED);
    let bin = stub_cli(&sb);
    let path = path_with(&bin);
    let run = sb.run(&["list"], &[("PATH", path.as_str())]).await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("has not expired")
            && run
                .stderr
                .contains(&format!("run `argocd login {host} --plaintext --sso")),
        "{}",
        run.stderr
    );
    assert!(!bin.join("calls").exists(), "the CLI was run for nothing");
}

/// The CLI reads only a config of mode 0600 or 0400: the error says which chmod to run
/// instead of "the CLI failed".
#[tokio::test(flavor = "multi_thread")]
async fn a_config_the_cli_refuses_to_read_names_the_chmod() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let host = server.url().trim_start_matches("http://").to_owned();
    let config = cli_login(&sb, &host, &EXPIRED);
    chmod(&config, 0o644);
    let bin = stub_cli(&sb);
    let path = path_with(&bin);
    let run = sb.run(&["list"], &[("PATH", path.as_str())]).await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .contains(&format!("run chmod 600 {}", config.display())),
        "{}",
        run.stderr
    );
}

/// A CLI before v2.13 has no `--argocd-context`: for the current context it is run again
/// without the flag and the refresh works; for another context the error says to upgrade.
#[tokio::test(flavor = "multi_thread")]
async fn an_old_cli_without_argocd_context_still_refreshes_the_current_context() {
    let (_state, server) = demo_server().await;
    let sb = Sandbox::new();
    let host = server.url().trim_start_matches("http://").to_owned();
    let config = cli_login(&sb, &host, &EXPIRED);
    let bin = stub_cli(&sb);
    sb.write("bin/old", "");
    let path = path_with(&bin);
    let run = sb
        .run(&["list", "-o", "json"], &[("PATH", path.as_str())])
        .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap();
    assert_eq!(calls.lines().count(), 2, "{calls}");
    assert!(
        !calls.lines().nth(1).unwrap().contains("--argocd-context"),
        "{calls}"
    );

    // Another context than the current one: the old CLI cannot pick it.
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace(TOKEN, &EXPIRED)
            .replace("current-context: fake", "current-context: other"),
    )
    .unwrap();
    let run = sb
        .run(&["list", "--context", "fake"], &[("PATH", path.as_str())])
        .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("older than v2.13") && run.stderr.contains("upgrade it"),
        "{}",
        run.stderr
    );
}
