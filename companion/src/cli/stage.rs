//! `preview-switch stage` (hidden): writes a release artifact's tree for `scripts/dist.sh`
//! and `make install` to pack or install, from [`crate::package::layout`], with the man pages
//! and shell completions generated here from the clap definitions ([`assets`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use super::{Cli, write_stdout};
use crate::error::{Error, Problem, Result};
use crate::package::{self, Assets, Body, Inputs, Kind};

/// What `stage` was asked for.
#[derive(Debug, clap::Args)]
pub struct StageArgs {
    /// deb, tarball or windows
    #[arg(value_enum)]
    kind: Kind,
    /// An empty (or new) directory to write the tree into
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The binary to ship (default: this one)
    #[arg(long, value_name = "FILE")]
    binary: Option<PathBuf>,
    /// The tarball's platform: x86_64-linux, aarch64-macos, …
    #[arg(long, default_value = "x86_64-linux")]
    platform: String,
    /// The Debian architecture
    #[arg(long, default_value = "amd64")]
    arch: String,
    /// The package's Depends line (scripts/dist.sh reads the glibc version off the binary)
    #[arg(long, default_value = "libc6 (>= 2.34)")]
    depends: String,
    /// Release time for the Debian changelog, in Unix seconds
    #[arg(long, env = "SOURCE_DATE_EPOCH", default_value_t = 0)]
    date_epoch: i64,
    /// A Chrome-family extension id the host manifests allow besides the published one
    /// (a team's own CRX), repeatable
    #[arg(long = "extension-id", value_name = "ID")]
    extension_ids: Vec<String>,
}

/// The man pages (one per visible command, `preview-switch-<sub>.1` for subcommands, as
/// `clap_mangen::generate_to` names them) and the completion scripts.
pub fn assets() -> Assets {
    fn pages(cmd: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            pages(sub, out);
        }
        let man = clap_mangen::Man::new(cmd.clone())
            .source(format!("preview-switch {}", env!("CARGO_PKG_VERSION")))
            .manual("User Commands");
        let mut roff = Vec::new();
        man.render(&mut roff).expect("rendering into memory");
        out.push((man.get_filename(), roff));
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut man = Vec::new();
    pages(&cmd, &mut man);
    man.sort();
    let complete = |shell: Shell| {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "preview-switch", &mut out);
        out
    };
    Assets {
        man,
        bash: complete(Shell::Bash),
        zsh: complete(Shell::Zsh),
        fish: complete(Shell::Fish),
        powershell: complete(Shell::PowerShell),
    }
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { what, source }
}

pub fn stage(args: StageArgs) -> Result<ExitCode> {
    let binary = match args.binary {
        Some(b) => b,
        None => std::env::current_exe().map_err(io("finding this binary".into()))?,
    };
    let size = std::fs::metadata(&binary)
        .map_err(io(format!("reading the binary {}", binary.display())))?
        .len();
    if args.out.read_dir().is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::Usage(Problem::new(
            format!("{} is not empty", args.out.display()),
            "give a new or empty --out directory",
        )));
    }
    let extension_ids = super::checked_extension_ids(args.extension_ids)?;
    let assets = assets();
    let inputs = Inputs {
        version: env!("CARGO_PKG_VERSION"),
        binary_size: size,
        platform: &args.platform,
        arch: &args.arch,
        depends: &args.depends,
        date_epoch: args.date_epoch,
        extension_ids: &extension_ids,
        assets: &assets,
    };
    let entries = package::layout(args.kind, &inputs);
    for entry in &entries {
        write_entry(&args.out, &entry.path, &entry.body, entry.mode, &binary)?;
    }
    write_stdout(&format!(
        "staged {} files in {}\n",
        entries.len(),
        args.out.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// Writes one file below `root`; every directory on the way is 0755 whatever the umask
/// (`dpkg-deb` and lintian check them).
fn write_entry(root: &Path, rel: &str, body: &Body, mode: u32, binary: &Path) -> Result<()> {
    let path = root.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        for d in dir.ancestors().take_while(|d| d.starts_with(root)) {
            set_mode(d, 0o755)?;
        }
    }
    let path = path.as_path();
    match body {
        Body::Binary => std::fs::copy(binary, path).map(drop),
        Body::Bytes(bytes) => std::fs::write(path, bytes),
    }
    .map_err(io(format!("writing {}", path.display())))?;
    set_mode(path, mode)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io(format!("setting the mode of {}", path.display())))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> Result<()> {
    Ok(())
}
