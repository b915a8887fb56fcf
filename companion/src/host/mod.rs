//! The native-messaging host: `preview-switch host`, or entered automatically when a
//! browser launches the binary. Stdout carries only frames ([`framing`]); logs go to
//! stderr and a rotating file ([`logging`]). [`serve`] answers requests from a cached
//! listing fed by a [`Source`], a frame-sized page at a time (`paging`); [`install`] writes
//! the browsers' host manifests.
//!
//! Entry points for the CLI: [`detect_browser_launch`], [`init_logging`], [`run_stdio`],
//! [`install::install`] / [`install::uninstall`] / [`install::check`].

pub mod cache;
pub mod framing;
pub mod install;
pub mod logging;
mod paging;
pub mod previews;
pub mod serve;
pub mod source;

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;

pub use logging::init_logging;
pub use serve::{Ending, HostOptions, run};
pub use source::{FailingSource, ListingSource, Source, to_wire};

/// The host name browsers know the companion by, the published Chrome-family extension id
/// the manifests allow by default, and the Firefox add-on id: one constant each, shared with
/// the extension.
pub use protocol::ids::{CHROME_EXTENSION_ID as EXTENSION_ID, FIREFOX_EXTENSION_ID, HOST_NAME};

/// Who launched the host, as the browser told us on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Chrome family: `argv[1]` is `chrome-extension://<id>/`.
    Chrome { origin: String },
    /// Firefox: `argv[1]` is the host manifest's path, `argv[2]` the add-on id.
    Firefox {
        manifest: PathBuf,
        extension_id: String,
    },
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Chrome { origin } => f.write_str(origin),
            Caller::Firefox { extension_id, .. } => write!(f, "Firefox add-on {extension_id}"),
        }
    }
}

/// The extensions the host serves. The browser enforces the manifest's allow-list too;
/// this check also covers a manifest edited by hand or written for another extension.
/// Firefox: exactly the shipped add-on id. Chrome family: the published id, the ids
/// `install --extension-id` recorded ([`install::recorded_ids`]) and `host --extension-id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedOrigins {
    pub chrome_ids: Vec<String>,
}

impl Default for AllowedOrigins {
    fn default() -> Self {
        AllowedOrigins {
            chrome_ids: vec![EXTENSION_ID.to_owned()],
        }
    }
}

impl AllowedOrigins {
    pub fn permits(&self, caller: &Caller) -> bool {
        match caller {
            Caller::Chrome { origin } => self
                .chrome_ids
                .iter()
                .any(|id| *origin == format!("chrome-extension://{id}/")),
            Caller::Firefox { extension_id, .. } => extension_id == FIREFOX_EXTENSION_ID,
        }
    }
}

/// Recognises a browser launch from the full argument list (`argv[0]` included):
/// `chrome-extension://<id>/` as `argv[1]` (Chrome on Windows adds `--parent-window=N`),
/// or Firefox's `<manifest>.json <add-on id>`. Anything else is a normal CLI call.
pub fn detect_browser_launch(args: &[OsString]) -> Option<Caller> {
    let first = args.get(1)?.to_str()?;
    if let Some(rest) = first.strip_prefix("chrome-extension://") {
        let id = rest.trim_end_matches('/');
        let plausible = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric());
        return plausible.then(|| Caller::Chrome {
            origin: first.to_owned(),
        });
    }
    let manifest = PathBuf::from(first);
    let extension_id = args.get(2)?.to_str()?;
    let is_manifest = manifest.is_absolute()
        && manifest
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    (is_manifest && !extension_id.is_empty() && !extension_id.starts_with('-')).then(|| {
        Caller::Firefox {
            manifest,
            extension_id: extension_id.to_owned(),
        }
    })
}

/// Serves the browser over the process's stdin/stdout until stdin closes. Exit 0 when the
/// browser hangs up (between frames or mid-frame), 1 when the stream was unusable.
pub async fn run_stdio(caller: Option<Caller>, source: impl Source, opts: HostOptions) -> ExitCode {
    tracing::info!(
        "host started (pid {}) for {}",
        std::process::id(),
        caller
            .as_ref()
            .map_or_else(|| "a terminal".to_owned(), ToString::to_string)
    );
    let ending = run(
        tokio::io::stdin(),
        tokio::io::stdout(),
        caller,
        source,
        opts,
    )
    .await;
    tracing::info!("host stopped: {ending:?}");
    match ending {
        Ending::Eof | Ending::Truncated => ExitCode::SUCCESS,
        Ending::Garbage | Ending::ReadError => ExitCode::FAILURE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn detects_chrome_and_firefox_launches_only() {
        let chrome = "chrome-extension://abcdefghijklmnopabcdefghijklmnop/";
        assert_eq!(
            detect_browser_launch(&args(&["ps", chrome])),
            Some(Caller::Chrome {
                origin: chrome.into()
            })
        );
        assert_eq!(
            detect_browser_launch(&args(&["ps", chrome, "--parent-window=0"])),
            Some(Caller::Chrome {
                origin: chrome.into()
            })
        );
        assert_eq!(
            detect_browser_launch(&args(&[
                "ps",
                "/home/u/.mozilla/native-messaging-hosts/io.previewswitch.companion.json",
                "preview-switch@previewswitch.io"
            ])),
            Some(Caller::Firefox {
                manifest: "/home/u/.mozilla/native-messaging-hosts/io.previewswitch.companion.json"
                    .into(),
                extension_id: "preview-switch@previewswitch.io".into()
            })
        );
        for normal in [
            &["ps"][..],
            &["ps", "list"],
            &["ps", "host"],
            &["ps", "list", "-o", "json"],
            &["ps", "chrome-extension://"],
            &["ps", "config.json", "x"],
            &["ps", "/tmp/a.json", "--flag"],
        ] {
            assert_eq!(detect_browser_launch(&args(normal)), None, "{normal:?}");
        }
    }

    #[test]
    fn allows_only_the_configured_extensions() {
        let mut allowed = AllowedOrigins::default();
        let other = Caller::Chrome {
            origin: "chrome-extension://pppppppppppppppppppppppppppppppp/".into(),
        };
        assert!(allowed.permits(&Caller::Chrome {
            origin: format!("chrome-extension://{EXTENSION_ID}/")
        }));
        assert!(!allowed.permits(&other));
        allowed
            .chrome_ids
            .push("pppppppppppppppppppppppppppppppp".into());
        assert!(allowed.permits(&other), "an id install recorded");
        // Firefox: the shipped add-on id and nothing else, whatever the Chrome list holds.
        let firefox = |id: &str| Caller::Firefox {
            manifest: "/m.json".into(),
            extension_id: id.into(),
        };
        assert!(allowed.permits(&firefox("preview-switch@previewswitch.io")));
        for id in [
            "evil@example.com",
            "Preview-Switch@previewswitch.io",
            "preview-switch@previewswitch.io ",
            "pppppppppppppppppppppppppppppppp",
            "",
        ] {
            assert!(!allowed.permits(&firefox(id)), "{id:?}");
        }
    }
}
