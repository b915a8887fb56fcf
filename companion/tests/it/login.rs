//! Login that keeps working, on the built binary: an expired token from the `argocd` CLI's
//! config is refreshed by running the CLI (a stub script first on PATH that rewrites the
//! config as the real CLI does), and without a CLI the error names the login command.

use std::path::PathBuf;

use crate::support::{
    EXPIRED_TOKEN as EXPIRED, REFRESH_TOKEN as REFRESH, Sandbox, TOKEN, demo_server,
};

/// The argocd CLI's config with an expired token and a refresh token for `host`.
fn expired_login(sb: &Sandbox, host: &str) {
    sb.write(
        ".config/argocd/config",
        &format!(
            "contexts:\n- name: fake\n  server: {host}\n  user: fake\ncurrent-context: fake\n\
             servers:\n- plain-text: true\n  server: {host}\n\
             users:\n- auth-token: {EXPIRED}\n  name: fake\n  refresh-token: {REFRESH}\n"
        ),
    );
}

/// A stand-in for the `argocd` CLI: records its arguments and, like the real CLI after
/// trading the refresh token, rewrites the config passed with `--config`.
fn stub_cli(sb: &Sandbox) -> PathBuf {
    // Written through the sandbox: the script holds both tokens on purpose.
    let script = sb.write(
        "bin/argocd",
        &format!(
            "#!/bin/sh\n\
             echo \"$@\" > \"$(dirname \"$0\")/args\"\n\
             cfg=\"\"\n\
             while [ $# -gt 0 ]; do [ \"$1\" = --config ] && cfg=\"$2\"; shift; done\n\
             sed -i 's/{EXPIRED}/{TOKEN}/' \"$cfg\"\n\
             echo '{{\"loggedIn\":true,\"username\":\"octocat\"}}'\n"
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
        .assert_no_secret(EXPIRED)
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
    run.assert_no_secret(EXPIRED).assert_no_secret(REFRESH);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .contains(&format!("run `argocd login {host} --plaintext --sso`"))
            && run.stderr.contains("not on PATH"),
        "{}",
        run.stderr
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
        .assert_no_secret(EXPIRED)
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
        out.contains(&format!("run `argocd login {host} --plaintext --sso`")),
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
    run.assert_no_secret(EXPIRED).assert_no_secret(REFRESH);
    assert_eq!(run.code, 1, "{run:#?}");
    let calls = std::fs::read_to_string(bin.join("calls")).unwrap();
    assert_eq!(calls.lines().count(), 1, "{calls}");
    assert!(
        run.stderr
            .contains(&format!("run `argocd login {host} --plaintext --sso`"))
            && run.stderr.contains("left the expired token"),
        "{}",
        run.stderr
    );
}
