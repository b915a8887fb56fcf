//! The pure core: Argo CD JSON in, `protocol::Preview` out. No I/O here (checked by the tidy
//! test): no tokio, reqwest, std::fs or std::net. Shells fetch, this decides.
//!
//! OWNER: core helper (H1).

pub mod cookie;
pub mod preview;
pub mod routes;
pub mod selector;
