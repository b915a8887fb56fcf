//! `token_command`: a server's token printed by a command the user chose (a secret manager).
//! The command's output and stderr never reach a log or an error, and a hung one is stopped
//! with everything it started.

use std::time::Duration;

use crate::error::Problem;
use crate::token::Token;

/// The fix when the command itself failed: its output is never shown, so the user looks.
const RUN_IT_YOURSELF: &str = "run the command yourself to see why";

/// How long a `token_command` may take (a secret manager may ask for a passphrase through
/// its own agent; a hung one must not hang every listing).
pub const TOKEN_COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// Runs a `token_command` with `sh -c` and returns its stdout as the token. Its output and
/// its stderr are never logged nor put in an error (either may hold the secret): stderr goes
/// to /dev/null and a failure only says how the command ended. The command runs in its own
/// process group so that a timeout stops everything it started, not only `sh`.
pub fn run_token_command(cmd: &str, timeout: Duration) -> Result<Token, Problem> {
    use std::io::Read as _;
    use std::process::{Command, Stdio};
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command.spawn().map_err(|e| {
        Problem::new(
            format!("cannot run token_command with sh ({e})"),
            "check that sh is installed",
        )
    })?;
    // Read stdout on a thread so a command printing more than a pipe buffer cannot block.
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        // At most 64 KiB: no token is larger, and a runaway command must not fill memory.
        let _ = (&mut stdout).take(64 * 1024).read_to_end(&mut out);
        let _ = tx.send(out);
    });
    let started = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() >= timeout => {
                kill_group(&mut child);
                let _ = child.wait();
                return Err(Problem::new(
                    format!(
                        "token_command did not finish within {} s",
                        timeout.as_secs_f64()
                    ),
                    "make it answer without a prompt (e.g. unlock the secret manager first)",
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                return Err(Problem::new(
                    format!("cannot wait for token_command ({e})"),
                    RUN_IT_YOURSELF,
                ));
            }
        }
    };
    // A daemon the command started (an agent) may keep stdout open: wait a little, not forever.
    let out = rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default();
    if !status.success() {
        return Err(Problem::new(
            format!(
                "token_command failed ({status}); its output is not shown as it may hold secrets"
            ),
            RUN_IT_YOURSELF,
        ));
    }
    Token::new(String::from_utf8_lossy(&out)).ok_or_else(|| {
        Problem::new(
            "token_command printed nothing",
            "make it print the token on stdout",
        )
    })
}

/// Kills the process group `child` leads (see [`run_token_command`]): `sh`, and whatever it
/// started (`sleep` in `sh -c "sleep 30; ..."`). Through `sh`'s `kill` builtin, as the
/// workspace forbids `unsafe` and a signal crate is not worth one call; `sh` itself is
/// killed directly as well in case that fails.
fn kill_group(child: &mut std::process::Child) {
    #[cfg(unix)]
    {
        let _ = std::process::Command::new("sh")
            .args(["-c", "kill -s KILL -- \"-$0\"", &child.id().to_string()])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    let _ = child.kill();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_command_output_is_the_token_and_never_shows_in_errors() {
        let t =
            run_token_command("printf '  s3cr3t-from-vault\\n'", TOKEN_COMMAND_TIMEOUT).unwrap();
        assert_eq!(Some(t), Token::new("s3cr3t-from-vault"));
        // A failing command's stdout and stderr may hold the secret: neither is repeated.
        let err = run_token_command(
            "echo s3cr3t-partial; echo 's3cr3t-in-stderr' >&2; exit 3",
            TOKEN_COMMAND_TIMEOUT,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("exit status: 3") && err.contains("run the command yourself"),
            "{err}"
        );
        assert!(!err.contains("s3cr3t"), "{err}");
        let err = run_token_command("true", TOKEN_COMMAND_TIMEOUT)
            .unwrap_err()
            .to_string();
        assert!(err.contains("printed nothing"), "{err}");
    }

    #[test]
    fn a_hanging_token_command_is_stopped_at_its_timeout() {
        let err = run_token_command("exec sleep 30", Duration::from_millis(300))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("did not finish within 0.3 s") && err.contains("without a prompt"),
            "{err}"
        );
    }

    /// Members of process group `pgid` that have not exited (zombies waiting for their
    /// reaper are gone for this purpose).
    #[cfg(target_os = "linux")]
    fn live_group_members(pgid: u32) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid pgrp ...`: comm may hold spaces, so split after `)`.
            let Some((head, rest)) = stat.rsplit_once(')') else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.get(2) == Some(&pgid.to_string().as_str()) && fields[0] != "Z" {
                out.push(head.to_string());
            }
        }
        out
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_timed_out_token_command_leaves_no_child_running() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        // Not `exec`: sh forks `sleep`, which killing `sh` alone would leave behind.
        let cmd = format!("echo $$ > '{}'; sleep 30; echo late", pid_file.display());
        let err = run_token_command(&cmd, Duration::from_millis(500))
            .unwrap_err()
            .to_string();
        assert!(err.contains("did not finish within"), "{err}");
        let pgid: u32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // SIGKILL is delivered at once but a process exits when next scheduled: wait for
        // the group to empty, far less than the 30 s the sleep would otherwise live.
        let mut left = live_group_members(pgid);
        for _ in 0..500 {
            if left.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            left = live_group_members(pgid);
        }
        assert!(left.is_empty(), "still running in group {pgid}: {left:?}");
    }
}
