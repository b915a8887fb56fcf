//! The native-messaging shapes the extension sends and reads. Kept behind this one module so
//! they can be swapped for `protocol::messages` (being written in parallel) without touching
//! the rest of the glue.

use protocol::Preview;
use serde::{Deserialize, Serialize};

/// `{"id":1,"type":"list"}`: all previews (the popup also needs the hosts that have some).
#[derive(Debug, Serialize)]
pub struct Request {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

/// A message from the companion.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    List {
        previews: Vec<Preview>,
        #[serde(default)]
        age_secs: u64,
        #[serde(default)]
        stale: bool,
    },
    /// A live update on a `subscribe` port.
    Previews { previews: Vec<Preview> },
    Error {
        code: String,
        message: String,
        #[serde(default)]
        fix: Option<String>,
    },
    #[serde(other)]
    Other,
}
