//! The Preview Switch browser extension. Pure logic lives in plain modules tested with
//! `cargo test` (`worker`: what to ask the companion and the browser, and when; `state`:
//! events to effects; `view`: state to view model; `routing`: what may be put into the
//! browser; `failure`: what can fail); the `web` glue (wasm32 only, the only code that sees
//! web-sys) runs the effects and renders the view model, deciding nothing.

pub mod failure;
pub mod hosts;
pub mod live;
pub mod routing;
pub mod settings;
pub mod state;
pub mod view;
pub mod worker;

#[cfg(target_arch = "wasm32")]
mod web;

/// The extension's id, fixed by the public `key` in manifest.json; host manifests pin it.
pub const EXTENSION_ID: &str = "kenpfoonlngflpognjbagobppcnfepml";

/// The native-messaging host name registered by `preview-switch install`.
pub const HOST_NAME: &str = "io.previewswitch.companion";
