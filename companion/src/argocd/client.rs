//! The Argo CD HTTP client. OWNER: client helper (H3). The signatures below are the shared
//! interface; bodies are filled in by H3.
#![allow(unused_variables, clippy::unused_async)]

use crate::argocd::model::{Application, ManagedResource};
use crate::config::ServerTarget;
use crate::error::Result;

/// A client for one Argo CD server (cheap to clone).
#[derive(Debug, Clone)]
pub struct Client {}

/// What to list: `GET /api/v1/applications?selector=..&name=..&fields=..`.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub selector: Option<String>,
    pub name: Option<String>,
    /// The `fields` projection; `None` asks for the whole objects.
    pub fields: Option<String>,
}

/// A decoded ApplicationList.
#[derive(Debug, Clone, Default)]
pub struct AppList {
    pub resource_version: Option<String>,
    pub items: Vec<Application>,
}

/// `GET /api/v1/session/userinfo`.
#[derive(Debug, Clone, Default)]
pub struct UserInfo {
    pub logged_in: bool,
    pub username: Option<String>,
}

/// One event of the watch stream.
#[derive(Debug, Clone)]
pub enum WatchEvent {
    Added(Box<Application>),
    Modified(Box<Application>),
    Deleted(Box<Application>),
}

impl Client {
    pub fn new(target: &ServerTarget) -> Result<Client> {
        unimplemented!("H3")
    }
    /// The server's base URL as given, for messages and `Preview::server`.
    pub fn server(&self) -> &str {
        unimplemented!("H3")
    }
    /// `GET /api/version` (no auth): e.g. `v3.1.5+abc`.
    pub async fn version(&self) -> Result<String> {
        unimplemented!("H3")
    }
    pub async fn userinfo(&self) -> Result<UserInfo> {
        unimplemented!("H3")
    }
    /// The `fields` projection that this server version honours, covering everything
    /// `core` reads (PLATFORM D: allow-list since 2.6, `status.sync.revision` from 3.5,
    /// never `metadata.ownerReferences`).
    pub fn fields_for_version(version: &str) -> Option<String> {
        unimplemented!("H3")
    }
    /// Streams the list body through the item decoder; never builds a whole-document tree.
    pub async fn list_applications(&self, query: &ListQuery) -> Result<AppList> {
        unimplemented!("H3")
    }
    pub async fn managed_resources(&self, app: &Application) -> Result<Vec<ManagedResource>> {
        unimplemented!("H3")
    }
    /// `GET /api/v1/stream/applications` as a stream of events, one per NDJSON line.
    pub async fn watch_applications(
        &self,
        query: &ListQuery,
        resource_version: Option<&str>,
    ) -> Result<futures_util::stream::BoxStream<'static, Result<WatchEvent>>> {
        unimplemented!("H3")
    }
}
