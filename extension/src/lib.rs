//! The Preview Switch browser extension. Pure logic lives in plain modules tested with
//! `cargo test` (`worker`: what to ask the companion and the browser, and when; `state`:
//! events to effects; `view`: state to view model; `routing`: what may be put into the
//! browser; `failure`: what can fail); the `web` glue (wasm32 only, the only code that sees
//! web-sys) runs the effects and renders the view model, deciding nothing.

pub mod envs;
pub mod failure;
pub mod hosts;
pub mod i18n;
pub mod live;
pub mod routing;
pub mod settings;
pub mod state;
pub mod view;
pub mod worker;

#[cfg(target_arch = "wasm32")]
mod web;

/// The extension's Chrome-family id, fixed by the public `key` in manifest.json; host
/// manifests pin it.
pub use protocol::ids::CHROME_EXTENSION_ID as EXTENSION_ID;

/// The native-messaging host name registered by `preview-switch install`.
pub use protocol::ids::HOST_NAME;

/// The `storage.local` keys the popup's first render reads; `static/boot.js` starts the
/// same read while the wasm compiles.
pub const POPUP_STORED_KEYS: [&str; 3] = ["settings", "last_list", "access_granted"];

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn manifest(name: &str) -> Value {
        let text = match name {
            "common" => include_str!("../manifest/common.json"),
            "chromium" => include_str!("../manifest/chromium.json"),
            "firefox" => include_str!("../manifest/firefox.json"),
            _ => unreachable!(),
        };
        serde_json::from_str(text).unwrap()
    }

    /// The Firefox build's add-on id is the one the companion writes into the host manifest
    /// and serves (issue 11 §6): a mismatch would leave Firefox users without a companion.
    #[test]
    fn the_firefox_manifest_names_the_shipped_add_on_id() {
        assert_eq!(
            manifest("firefox")["browser_specific_settings"]["gecko"]["id"],
            protocol::ids::FIREFOX_EXTENSION_ID
        );
    }

    /// `scripts/build-extension.sh` lays each browser's overlay over the common manifest key
    /// by key: an overlay that repeated a common key would silently replace it for one browser.
    #[test]
    fn browser_overlays_only_add_keys() {
        let common = manifest("common");
        for browser in ["chromium", "firefox"] {
            for key in manifest(browser).as_object().unwrap().keys() {
                assert!(common.get(key).is_none(), "{browser} repeats {key}");
            }
        }
        assert!(common.get("background").is_none() && common.get("key").is_none());
    }

    /// boot.js reads the stored keys before the wasm runs; a key missing there would leave
    /// the popup's first render without it (the cached rows, the settings).
    #[test]
    fn boot_js_reads_the_popups_stored_keys() {
        let keys = crate::POPUP_STORED_KEYS.map(|k| format!("\"{k}\""));
        let call = format!("chrome.storage.local.get([{}])", keys.join(", "));
        assert!(
            include_str!("../static/boot.js").contains(&call),
            "boot.js must call {call}"
        );
    }

    /// The workspace version is the one version: the manifest's, the extension's (its
    /// `hello` and upgrade hint) and the companion's, whose package and tarballs carry it.
    #[test]
    fn the_manifest_carries_the_workspace_version() {
        assert_eq!(
            manifest("common")["version"],
            crate::failure::EXTENSION_VERSION
        );
        assert!(
            include_str!("../../Cargo.toml").contains(&format!(
                "\nversion = \"{}\"\n",
                crate::failure::EXTENSION_VERSION
            )),
            "the extension inherits the workspace version"
        );
    }
}
