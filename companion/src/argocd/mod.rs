//! Everything that speaks Argo CD: the JSON shapes we read ([`model`], private to the
//! companion and converted by hand into `protocol::Preview`), the streaming list decoder
//! ([`decode`]), the HTTP client ([`client`]) and the `argocd` CLI's config file
//! ([`cli_config`]).

pub mod cli_config;
pub mod client;
pub mod decode;
pub mod model;

pub use model::{Application, ManagedResource};
