//! Listing orchestration: every configured server, concurrently, → previews with routes.
//! OWNER: core helper (H1). The signatures below are the shared interface.
#![allow(unused_variables, clippy::unused_async)]

use protocol::Preview;

use crate::config::ServerTarget;
use crate::error::Error;

/// The merged result over all servers: one server failing does not hide the others.
#[derive(Debug, Default)]
pub struct Listing {
    /// Sorted by service, then PR number, then server.
    pub previews: Vec<Preview>,
    pub failures: Vec<ServerFailure>,
}

#[derive(Debug)]
pub struct ServerFailure {
    /// The server's name (context) and URL, for the error line.
    pub server: String,
    pub error: Error,
}

/// Lists the previews of every target concurrently and merges them.
pub async fn list(targets: &[ServerTarget]) -> Listing {
    unimplemented!("H1")
}
