//! `preview-switch`: lists Argo CD PR previews and the cookie that routes to each, on the
//! command line, as the browser extension's native-messaging host, and as a team relay
//! serving the same list over HTTP.
//!
//! Layout: [`core`] is pure (Argo CD JSON → previews); [`argocd`], [`config`], [`listing`],
//! [`host`], [`relay`], [`demo`] and [`cli`] are shells that do I/O; [`server`] is the resolved server
//! both sides of `config` share. [`main`] is the one entry point: mode detection, error
//! printing and exit codes live there. The fake Argo CD is its own crate (`fake_argocd`),
//! which the demo serves.

pub mod actions;
pub mod argocd;
pub mod cli;
pub mod config;
pub mod core;
pub mod demo;
pub mod envs;
pub mod error;
pub mod host;
pub mod installed;
pub mod listing;
pub mod package;
pub mod relay;
pub mod server;
pub mod store;
pub mod token;

pub use cli::main;
