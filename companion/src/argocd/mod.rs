//! Everything that speaks Argo CD: the JSON shapes we read ([`model`], private to the
//! companion and converted by hand into `protocol::Preview`), the streaming list decoder
//! ([`decode`]) and the HTTP client ([`client`]).

pub mod client;
pub mod decode;
pub mod model;

pub use model::{Application, ManagedResource};
