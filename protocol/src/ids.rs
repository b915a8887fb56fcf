//! The names each side knows the other by: the native-messaging host name, the Chrome-family
//! extension id and the Firefox add-on id. One constant each, read by the companion (host
//! manifests, the caller check) and the extension (connecting, the install command); the
//! extension's manifests must say the same (tests in `extension/tests/manifests.rs`).

/// The host name browsers know the companion by (lowercase alnum, `_` and `.`).
pub const HOST_NAME: &str = "io.previewswitch.companion";

/// The Chrome-family extension id, fixed by the public `key` in `manifest.json`.
pub const CHROME_EXTENSION_ID: &str = "kenpfoonlngflpognjbagobppcnfepml";

/// The Firefox add-on id: `browser_specific_settings.gecko.id` of the Firefox build, the one
/// `allowed_extensions` entry `preview-switch install --browser firefox` writes, and the only
/// Firefox caller the host serves.
pub const FIREFOX_EXTENSION_ID: &str = "preview-switch@previewswitch.io";
