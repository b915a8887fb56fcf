//! Where each browser looks for native-messaging host manifests: the one table of
//! directories (Linux and macOS, user and system scope) and Windows registry keys, as pure
//! data. The installer, `doctor` and the packages (`dist`) all read it, so a path is written
//! once. Sources, per row: Chrome's and Edge's native-messaging documentation, MDN for
//! Firefox, `strings` of Debian's Chromium for `/etc/chromium`, brave-core's
//! `app/brave_main_delegate.cc` for Brave, and the packagers that agree on Vivaldi's
//! (browserpass, gopass-jsonapi).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Problem, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Browser {
    Chrome,
    Chromium,
    Brave,
    Edge,
    Vivaldi,
    Firefox,
}

impl Browser {
    pub const ALL: [Browser; 6] = [
        Browser::Chrome,
        Browser::Chromium,
        Browser::Brave,
        Browser::Edge,
        Browser::Vivaldi,
        Browser::Firefox,
    ];

    pub fn name(self) -> &'static str {
        self.locations().name
    }

    pub(super) fn locations(self) -> &'static Locations {
        LOCATIONS
            .iter()
            .find(|l| l.browser == self)
            .expect("every browser has a row")
    }

    pub fn is_firefox(self) -> bool {
        self == Browser::Firefox
    }

    /// `all`, or one or more of `chrome`, …, `firefox` separated by commas (`chrome,firefox`),
    /// in the order given, each once.
    pub fn parse_list(s: &str) -> Result<Vec<Browser>> {
        if s.trim().eq_ignore_ascii_case("all") {
            return Ok(Browser::ALL.to_vec());
        }
        let mut browsers = Vec::new();
        for name in s.split(',').map(str::trim) {
            let browser: Browser = name.parse()?;
            if !browsers.contains(&browser) {
                browsers.push(browser);
            }
        }
        Ok(browsers)
    }
}

impl FromStr for Browser {
    type Err = Error;
    fn from_str(s: &str) -> Result<Browser> {
        Browser::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                Error::Usage(Problem::new(
                    format!("unknown browser {s:?}"),
                    "use all, or one or more of chrome, chromium, brave, edge, vivaldi, firefox separated by commas",
                ))
            })
    }
}

impl fmt::Display for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    /// Browsers find a host through a registry key whose default value is the manifest's
    /// path; the file itself may live anywhere.
    Windows,
}

impl Os {
    /// The OS this binary runs on; other Unixes use the Linux paths.
    pub fn current() -> Os {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Linux
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    User,
    /// `--system`: machine-wide directories or `HKEY_LOCAL_MACHINE` (needs root or an
    /// administrator).
    System,
}

/// Where one browser looks for host manifests. User paths are relative to the home dir.
pub(super) struct Locations {
    pub browser: Browser,
    pub name: &'static str,
    pub linux_user: &'static str,
    pub linux_system: &'static str,
    pub macos_user: &'static str,
    pub macos_system: &'static str,
    /// Below `HKEY_CURRENT_USER` (user) or `HKEY_LOCAL_MACHINE` (system); the host's key is
    /// this plus `\<host name>`.
    pub windows_key: &'static str,
    /// Whether a `--user-data-dir` profile reads `<dir>/NativeMessagingHosts` (Chromium's
    /// own rule). Brave does not: it points both lookups at fixed directories.
    pub reads_user_data_dir: bool,
}

const LOCATIONS: &[Locations] = &[
    Locations {
        browser: Browser::Chrome,
        name: "chrome",
        linux_user: ".config/google-chrome/NativeMessagingHosts",
        linux_system: "/etc/opt/chrome/native-messaging-hosts",
        macos_user: "Library/Application Support/Google/Chrome/NativeMessagingHosts",
        macos_system: "/Library/Google/Chrome/NativeMessagingHosts",
        windows_key: r"Software\Google\Chrome\NativeMessagingHosts",
        reads_user_data_dir: true,
    },
    Locations {
        browser: Browser::Chromium,
        name: "chromium",
        linux_user: ".config/chromium/NativeMessagingHosts",
        linux_system: "/etc/chromium/native-messaging-hosts",
        macos_user: "Library/Application Support/Chromium/NativeMessagingHosts",
        macos_system: "/Library/Application Support/Chromium/NativeMessagingHosts",
        windows_key: r"Software\Chromium\NativeMessagingHosts",
        reads_user_data_dir: true,
    },
    // brave-core `app/brave_main_delegate.cc`, `BraveMainDelegate::PreSandboxStartup`:
    // "Setup NativeMessagingHosts to point to the default Chrome locations". On Linux the
    // user directory stays under Brave's default data dir (GetDefaultUserDataDirectory), the
    // system one becomes Chrome's; on macOS both become Chrome's. Windows is not overridden.
    Locations {
        browser: Browser::Brave,
        name: "brave",
        linux_user: ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
        linux_system: "/etc/opt/chrome/native-messaging-hosts",
        macos_user: "Library/Application Support/Google/Chrome/NativeMessagingHosts",
        macos_system: "/Library/Google/Chrome/NativeMessagingHosts",
        windows_key: r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts",
        reads_user_data_dir: false,
    },
    Locations {
        browser: Browser::Edge,
        name: "edge",
        linux_user: ".config/microsoft-edge/NativeMessagingHosts",
        linux_system: "/etc/opt/edge/native-messaging-hosts",
        macos_user: "Library/Application Support/Microsoft Edge/NativeMessagingHosts",
        macos_system: "/Library/Microsoft/Edge/NativeMessagingHosts",
        windows_key: r"Software\Microsoft\Edge\NativeMessagingHosts",
        reads_user_data_dir: true,
    },
    Locations {
        browser: Browser::Vivaldi,
        name: "vivaldi",
        linux_user: ".config/vivaldi/NativeMessagingHosts",
        linux_system: "/etc/opt/vivaldi/native-messaging-hosts",
        macos_user: "Library/Application Support/Vivaldi/NativeMessagingHosts",
        macos_system: "/Library/Application Support/Vivaldi/NativeMessagingHosts",
        windows_key: r"Software\Vivaldi\NativeMessagingHosts",
        reads_user_data_dir: true,
    },
    Locations {
        browser: Browser::Firefox,
        name: "firefox",
        linux_user: ".mozilla/native-messaging-hosts",
        linux_system: "/usr/lib/mozilla/native-messaging-hosts",
        macos_user: "Library/Application Support/Mozilla/NativeMessagingHosts",
        macos_system: "/Library/Application Support/Mozilla/NativeMessagingHosts",
        windows_key: r"Software\Mozilla\NativeMessagingHosts",
        reads_user_data_dir: false,
    },
];

/// A registry hive the installer writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hive {
    /// `HKEY_CURRENT_USER`, for [`Scope::User`].
    CurrentUser,
    /// `HKEY_LOCAL_MACHINE`, for [`Scope::System`].
    LocalMachine,
}

/// The registry key whose default value names a browser's host manifest on Windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryKey {
    pub hive: Hive,
    /// Below the hive, e.g. `Software\Google\Chrome\NativeMessagingHosts\io.previewswitch.companion`.
    pub path: String,
}

impl fmt::Display for RegistryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hive = match self.hive {
            Hive::CurrentUser => "HKEY_CURRENT_USER",
            Hive::LocalMachine => "HKEY_LOCAL_MACHINE",
        };
        write!(f, r"{hive}\{}", self.path)
    }
}

/// The registry key for `browser`'s host `name` in `scope`.
pub fn registry_key(browser: Browser, scope: Scope, name: &str) -> RegistryKey {
    RegistryKey {
        hive: match scope {
            Scope::User => Hive::CurrentUser,
            Scope::System => Hive::LocalMachine,
        },
        path: format!(r"{}\{name}", browser.locations().windows_key),
    }
}

/// The browsers whose system-wide manifest is the same file as `browser`'s (Brave reads
/// Chrome's directory on Linux and macOS), so removing one unregisters the others too.
pub fn shares_system_dir(browser: Browser, os: Os) -> Vec<Browser> {
    let dir = |b: Browser| match os {
        Os::Linux => Some(b.locations().linux_system),
        Os::MacOs => Some(b.locations().macos_system),
        Os::Windows => None,
    };
    Browser::ALL
        .into_iter()
        .filter(|&b| b != browser && dir(b).is_some() && dir(b) == dir(browser))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "io.previewswitch.companion";

    /// Windows: each browser's key below HKCU for a user install and HKLM for `--system`,
    /// as Chrome's, Edge's and MDN's documentation name them; Brave keeps its own vendor key
    /// (brave-core overrides the lookup only on Linux and macOS).
    #[test]
    fn windows_registry_keys_per_browser_and_scope() {
        let expected = [
            (
                Browser::Chrome,
                r"Software\Google\Chrome\NativeMessagingHosts",
            ),
            (Browser::Chromium, r"Software\Chromium\NativeMessagingHosts"),
            (
                Browser::Brave,
                r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts",
            ),
            (
                Browser::Edge,
                r"Software\Microsoft\Edge\NativeMessagingHosts",
            ),
            (Browser::Vivaldi, r"Software\Vivaldi\NativeMessagingHosts"),
            (Browser::Firefox, r"Software\Mozilla\NativeMessagingHosts"),
        ];
        for (browser, key) in expected {
            let user = registry_key(browser, Scope::User, HOST);
            assert_eq!(user.hive, Hive::CurrentUser);
            assert_eq!(user.path, format!(r"{key}\{HOST}"));
            let system = registry_key(browser, Scope::System, HOST);
            assert_eq!(system.hive, Hive::LocalMachine);
            assert_eq!(system.path, user.path);
        }
        assert_eq!(
            registry_key(Browser::Edge, Scope::System, HOST).to_string(),
            r"HKEY_LOCAL_MACHINE\Software\Microsoft\Edge\NativeMessagingHosts\io.previewswitch.companion"
        );
    }

    #[test]
    fn browser_lists_are_comma_separated() {
        assert_eq!(
            Browser::parse_list("chrome, Firefox,chrome").unwrap(),
            vec![Browser::Chrome, Browser::Firefox]
        );
        assert_eq!(Browser::parse_list(" ALL ").unwrap(), Browser::ALL.to_vec());
        let err = Browser::parse_list("chrome,safari")
            .unwrap_err()
            .with_fix(crate::error::Surface::Cli);
        assert!(err.contains("unknown browser \"safari\""), "{err}");
        assert!(err.contains("separated by commas"), "{err}");
        assert!(Browser::parse_list("chrome,").is_err(), "an empty name");
    }

    /// Brave's system manifest is Chrome's file on Linux and macOS, so the installer says so
    /// when it removes one of them.
    #[test]
    fn brave_shares_chromes_system_directory() {
        assert_eq!(
            shares_system_dir(Browser::Brave, Os::Linux),
            vec![Browser::Chrome]
        );
        assert_eq!(
            shares_system_dir(Browser::Chrome, Os::MacOs),
            vec![Browser::Brave]
        );
        assert_eq!(shares_system_dir(Browser::Edge, Os::Linux), vec![]);
        assert_eq!(shares_system_dir(Browser::Brave, Os::Windows), vec![]);
    }
}
