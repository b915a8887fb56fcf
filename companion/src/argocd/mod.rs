//! Everything that speaks Argo CD: the JSON shapes we read ([`model`], private to the
//! companion and converted by hand into `protocol::Preview`), the streaming list decoder
//! ([`decode`]), the HTTP client ([`client`]) and its application watch ([`watch`]), the
//! `argocd` CLI's config file ([`cli_config`]) and refreshing its SSO login after a 401
//! ([`refresh`]); per-app calls and the refresh and sync actions ([`apps`]).

pub mod apps;
pub mod cli_config;
pub mod client;
pub mod decode;
pub mod model;
pub mod refresh;
pub mod watch;

pub use model::{Application, ManagedResource};
