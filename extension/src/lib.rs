//! The Preview Switch browser extension. Pure state logic lives in plain modules tested with
//! `cargo test`; the web-sys glue (a later milestone) will be wasm32-only.

pub mod hosts;
