//! How the companion was installed, as its `hello` answer reports it, and the one command
//! that brings it to a given version that way. Both sides use [`InstallMethod::upgrade_command`]:
//! `preview-switch doctor` prints it, and the popup shows it when the companion is older
//! than the extension needs. The release artifacts' names here are the ones `make dist`
//! writes (README "Artifacts").

use serde::{Deserialize, Serialize};

/// How the running companion got onto this computer: detected from where its binary is
/// (and the `installed-by` file the package, the tarball's `install.sh`, the Windows
/// `install.ps1` and `make install` write beside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum InstallMethod {
    /// The Debian package (`/usr/bin/preview-switch`).
    Deb,
    /// A release tarball's `install.sh`; `platform` is the archive's, e.g. `x86_64-linux`.
    Tarball { platform: String },
    /// The Windows zip's `install.ps1`.
    Zip,
    /// `cargo install` (the binary is in Cargo's `bin` directory).
    Cargo,
    /// A source checkout: built there (`make build`) or installed from it (`make install`).
    Source {
        checkout: String,
        make_target: String,
    },
    /// Anything else, including a method this extension does not know yet.
    #[serde(other)]
    Unknown,
}

impl InstallMethod {
    /// The command that installs `version` the same way, or `None` when the method is not
    /// known (then only "get version X" can be said).
    pub fn upgrade_command(&self, version: &str) -> Option<String> {
        Some(match self {
            InstallMethod::Deb => {
                format!("sudo apt install ./preview-switch_{version}-1_amd64.deb")
            }
            InstallMethod::Tarball { platform } => {
                let dir = format!("preview-switch-{version}-{platform}");
                format!("tar xzf {dir}.tar.gz && sudo ./{dir}/install.sh")
            }
            InstallMethod::Zip => {
                let dir = format!("preview-switch-{version}-x86_64-windows");
                format!("Expand-Archive {dir}.zip; .\\{dir}\\install.ps1")
            }
            InstallMethod::Cargo => format!(
                "git checkout v{version} && cargo install --locked --force --path companion"
            ),
            InstallMethod::Source {
                checkout,
                make_target,
            } => format!("cd {checkout} && git pull && make {make_target}"),
            InstallMethod::Unknown => return None,
        })
    }

    /// A few words for people: "the Debian package", "a source checkout (/src/ps)".
    pub fn describe(&self) -> String {
        match self {
            InstallMethod::Deb => "the Debian package".into(),
            InstallMethod::Tarball { platform } => format!("the {platform} tarball"),
            InstallMethod::Zip => "the Windows zip".into(),
            InstallMethod::Cargo => "cargo install".into(),
            InstallMethod::Source { checkout, .. } => format!("a source checkout ({checkout})"),
            InstallMethod::Unknown => "an unknown way".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_method_upgrades_the_way_it_was_installed() {
        let cases = [
            (
                InstallMethod::Deb,
                "sudo apt install ./preview-switch_0.2.0-1_amd64.deb",
            ),
            (
                InstallMethod::Tarball {
                    platform: "aarch64-macos".into(),
                },
                "tar xzf preview-switch-0.2.0-aarch64-macos.tar.gz && sudo ./preview-switch-0.2.0-aarch64-macos/install.sh",
            ),
            (
                InstallMethod::Zip,
                r"Expand-Archive preview-switch-0.2.0-x86_64-windows.zip; .\preview-switch-0.2.0-x86_64-windows\install.ps1",
            ),
            (
                InstallMethod::Cargo,
                "git checkout v0.2.0 && cargo install --locked --force --path companion",
            ),
            (
                InstallMethod::Source {
                    checkout: "/home/u/preview-switch".into(),
                    make_target: "install".into(),
                },
                "cd /home/u/preview-switch && git pull && make install",
            ),
        ];
        for (method, command) in cases {
            assert_eq!(method.upgrade_command("0.2.0").as_deref(), Some(command));
        }
        assert_eq!(InstallMethod::Unknown.upgrade_command("0.2.0"), None);
    }

    /// A method a newer companion invents reads as `Unknown`, not as an unreadable hello.
    #[test]
    fn an_unknown_method_is_read_as_unknown() {
        let m: InstallMethod =
            serde_json::from_str(r#"{"method":"snap","channel":"edge"}"#).unwrap();
        assert_eq!(m, InstallMethod::Unknown);
        let m: InstallMethod =
            serde_json::from_str(r#"{"method":"tarball","platform":"x86_64-linux"}"#).unwrap();
        assert_eq!(m.describe(), "the x86_64-linux tarball");
    }
}
